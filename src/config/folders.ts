/**
 * Checks of the folders a config names, which parsing cannot do: plugin folders that do not
 * exist (`validate` refuses them), and state and log folders the daemon cannot write (the
 * daemon refuses to start with one line naming the key and path, not a raw `mkdir` trace).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { ConfigError } from "./errors.ts";
import type { Config } from "./types.ts";

/**
 * Problems with `plugins.paths`: a folder that does not exist, is not a folder or cannot be read.
 *
 * @param config The loaded config.
 * @returns One line per problem: `file: plugins.paths[i]: cannot read "path": it does not exist; ...`.
 */
export async function pluginFolderProblems(config: Config): Promise<string[]> {
  const problems: string[] = [];
  for (const [index, path] of config.plugins.paths.entries()) {
    const where = `${config.source}: plugins.paths[${index}]: cannot read "${path}"`;
    try {
      const info = await Deno.stat(path);
      if (!info.isDirectory) {
        problems.push(`${where}: it is not a folder; expected a plugin folder`);
        continue;
      }
      for await (const _ of Deno.readDir(path)) break;
    } catch (error) {
      problems.push(`${where}: ${reason(error)}; expected an existing plugin folder`);
    }
  }
  return problems;
}

/**
 * Create the state file's folder and the log folder if missing, and check both can be
 * written (a file is created and removed in each).
 *
 * @param config The loaded config.
 * @throws {ConfigError} Naming the key and the path of each folder that cannot be written.
 */
export async function prepareWritableFolders(config: Config): Promise<void> {
  const folders: [string, string][] = config.daemon.stateUrl === null
    ? [["daemon.state_file", dirname(config.daemon.stateFile)]]
    : [];
  if (config.logging.dir !== null) folders.push(["logging.dir", config.logging.dir]);
  const problems: string[] = [];
  for (const [key, folder] of folders) {
    try {
      await Deno.mkdir(folder, { recursive: true });
      const probe = join(folder, `.sgevents-write-test-${Deno.pid}`);
      await Deno.writeTextFile(probe, "");
      await Deno.remove(probe);
    } catch (error) {
      problems.push(`${config.source}: ${key}: cannot write to "${folder}": ${reason(error)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(config.source, problems);
}

function reason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "it does not exist";
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return "permission denied";
  }
  if (error instanceof Deno.errors.NotADirectory) return "a part of the path is not a folder";
  if (error instanceof Deno.errors.AlreadyExists) return "it exists and is not a folder";
  const message = error instanceof Error ? error.message : String(error);
  // "Read-only file system (os error 30): mkdir '/var/lib/x'" -> "read-only file system"
  return message.replace(/ \(os error \d+\).*$/s, "").replace(/^./, (c) => c.toLowerCase());
}
