/**
 * Plugin discovery: which plugin files the configured folders hold, in processing order.
 *
 * Order, as the Python daemon documents it: folders in config order, files in each
 * folder sorted by name (plain code-unit order). A plugin's name is its file name
 * without extension; the same name in a later folder (or `x.js` beside `x.ts`) is
 * reported and skipped. Files starting with `.` or `_` and test files (`*_test.ts`,
 * `*.test.ts`) are not plugins. A missing or unreadable folder is reported, never thrown, so a
 * network share that disappears does not stop the daemon.
 *
 * @module
 */
import { basename, extname, join, resolve } from "node:path";
import { hashPlugin } from "./loader.ts";
import { typeStripper } from "./type_stripper.ts";

/** A plugin file found in a plugin folder. */
export interface PluginFile {
  /** The file name without extension: the plugin's identity in state and logs. */
  readonly name: string;
  /** Absolute path. */
  readonly file: string;
  /** SHA-256 of the plugin and every relative module it imports (content, not mtimes). */
  readonly hash: string;
}

/** Something discovery skipped, for the caller to log. */
export interface DiscoveryProblem {
  /** The folder or file concerned. */
  readonly path: string;
  /** Why it was skipped, as a sentence for the log. */
  readonly reason: string;
  /** The underlying error, if any. */
  readonly cause?: unknown;
  /**
   * `error` for a configured folder that cannot be read (no plugin in it runs), `warning`
   * for a file skipped.
   */
  readonly severity: "error" | "warning";
}

/** Options of {@link discoverPlugins}. */
export interface DiscoverOptions {
  /** Called for each folder or file skipped; without it problems are dropped silently. */
  readonly onProblem?: (problem: DiscoveryProblem) => void;
}

const pluginExtensions = new Set([".ts", ".js"]);
const testFilePattern = /[._]test\.[jt]s$/;

/**
 * List the plugins in `paths`, in processing order, with their content hashes.
 *
 * @param paths Plugin folders, in config order.
 * @param options Where to report skipped folders and files.
 * @returns The plugins found; never rejects for a missing folder or file.
 * @example
 * ```ts ignore
 * const plugins = await discoverPlugins(["/srv/plugins"], {
 *   onProblem: (p) => console.warn(p.reason),
 * });
 * ```
 */
export function discoverPlugins(
  paths: readonly string[],
  options: DiscoverOptions = {},
): Promise<PluginFile[]> {
  // Hashing reads each plugin's imports: one type stripper process for the whole scan.
  return typeStripper.hold(() => discover(paths, options));
}

async function discover(paths: readonly string[], options: DiscoverOptions): Promise<PluginFile[]> {
  const report = options.onProblem ?? (() => {});
  const found: PluginFile[] = [];
  const seen = new Map<string, string>();
  for (const [index, folder] of paths.map((p) => resolve(p)).entries()) {
    let names: string[];
    try {
      names = await listPluginFiles(folder);
    } catch (error) {
      report({
        path: folder,
        reason: `Cannot read plugin folder "${folder}" (plugins.paths[${index}]): ${
          describe(error)
        }`,
        cause: error,
        severity: "error",
      });
      continue;
    }
    for (const fileName of names) {
      const file = join(folder, fileName);
      const name = basename(fileName, extname(fileName));
      const first = seen.get(name);
      if (first !== undefined) {
        report({
          path: file,
          reason:
            `Cannot load plugin "${fileName}" from "${folder}": a plugin named "${name}" is already loaded from "${first}"`,
          severity: "warning",
        });
        continue;
      }
      let hash: string;
      try {
        hash = await hashPlugin(file);
      } catch (error) {
        // Deleted between listing and reading, or unreadable: skip it this time.
        report({
          path: file,
          reason: `Cannot read plugin "${file}": ${describe(error)}`,
          cause: error,
          severity: "warning",
        });
        continue;
      }
      seen.set(name, file);
      found.push({ name, file, hash });
    }
  }
  return found;
}

async function listPluginFiles(folder: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    const name = entry.name;
    if (name.startsWith(".") || name.startsWith("_")) continue;
    if (!pluginExtensions.has(extname(name))) continue;
    // Deno's test files (`x_test.ts`, `x.test.ts`) sit beside plugins; they are not plugins.
    if (testFilePattern.test(name)) continue;
    let isFile = entry.isFile;
    if (entry.isSymlink) {
      try {
        isFile = (await Deno.stat(join(folder, name))).isFile;
      } catch {
        continue; // dangling link
      }
    }
    if (isFile) names.push(name);
  }
  // Code-unit order, as Python's sorted() on names (not locale order).
  return names.sort();
}

function describe(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "it does not exist";
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return "permission denied";
  }
  return error instanceof Error ? error.message : String(error);
}
