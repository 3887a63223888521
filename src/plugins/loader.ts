/**
 * The plugin loader: turns a plugin file and the relative modules it imports into
 * `data:` URLs that any Deno, including a `deno compile` executable, can import.
 *
 * Why not `import(file)`: a compiled executable can only import modules embedded at
 * build time (denoland/deno#18327) and carries no TypeScript transpiler (#27945), but
 * it can import `data:text/javascript;base64,...` URLs (#9936). So, for every module:
 *
 * 1. read it and hash its bytes (SHA-256, `crypto.subtle`);
 * 2. strip TypeScript types with `amaro` (`strip-only`: types become spaces, so lines
 *    and columns in stack traces still match the file), in a child process that runs only
 *    while plugins load (`type_stripper.ts` says why). TypeScript that needs a real
 *    transform (enums, namespaces, parameter properties) is rejected with the file and
 *    line; `import type` lines vanish;
 * 3. find its imports with `es-module-lexer`. Relative ones (`./`, `../`, absolute
 *    paths and `file:` URLs, static, `export ... from` and string-literal dynamic
 *    `import("./x.ts")`) are loaded the same way, depth first, and their specifier is
 *    replaced by their `data:` URL (`.json` modules become `data:application/json`).
 *    Bare, `node:`, `npm:`, `jsr:` and `https:` specifiers pass through unchanged;
 * 4. replace `import.meta.url`, `import.meta.filename`, `import.meta.dirname` and
 *    `import.meta.resolve` by the module's real file URL and path, so plugins find the
 *    files beside them.
 *
 * A module imported twice (a diamond) becomes one URL, hence one instance. An import
 * cycle among relative modules cannot be expressed with content-addressed URLs and is
 * an error naming the cycle. Dynamic imports with a computed specifier are left alone
 * and fail at run time if relative.
 *
 * The SAME path is used under `deno run` and in the compiled binary (no `if compiled`
 * branch), so the tests exercise exactly what the binary does.
 *
 * @module
 */
import { dirname, extname, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PluginLoadError } from "./errors.ts";
import { typeStripper } from "./type_stripper.ts";

/** A plugin ready to import. */
export interface PluginBundle {
  /** The entry's `data:text/javascript;base64,...` URL. */
  readonly url: string;
  /** SHA-256 over every module's path and content hash (as {@link hashPlugin}). */
  readonly hash: string;
  /** Every module file in the bundle, the entry first. */
  readonly files: readonly string[];
  /** Each module's data URL with its file URL, to map stack traces back to files. */
  readonly modules: readonly { readonly url: string; readonly fileUrl: string }[];
}

const dataJsPrefix = "data:text/javascript;base64,";
const dataJsonPrefix = "data:application/json;base64,";
const typeScriptExtensions = new Set([".ts", ".mts", ".cts"]);
const javaScriptExtensions = new Set([".js", ".mjs", ".cjs"]);

/**
 * Bundle a plugin into importable `data:` URLs.
 *
 * @param file Absolute path of the plugin's entry module.
 * @returns The entry URL, the content hash, the files involved and the URL-to-file map.
 * @throws {PluginLoadError} When a module cannot be read, stripped or parsed, or imports form a cycle.
 * @example
 * ```ts ignore
 * const { url } = await bundlePlugin("/srv/plugins/notify.ts");
 * const plugin = await import(url);
 * ```
 */
export async function bundlePlugin(file: string): Promise<PluginBundle> {
  const graph = await walk(file, true);
  const url = graph.urls.get(file);
  if (url === undefined) throw new Error(`Bundling "${file}" produced no URL`); // unreachable
  return {
    url,
    hash: graph.hash,
    files: graph.files,
    modules: graph.files.map((f) => ({ url: graph.urls.get(f) ?? "", fileUrl: fileUrl(f) })),
  };
}

/**
 * The content hash of a plugin and every relative module it imports, without failing:
 * an unreadable helper or a syntax error still gives a hash (of what could be read),
 * so a broken plugin is noticed when its file changes again.
 *
 * @param file Absolute path of the plugin's entry module.
 * @returns A hex SHA-256, equal to {@link bundlePlugin}'s `hash` when the plugin bundles.
 * @throws {Deno.errors.NotFound} Only when the entry itself cannot be read.
 */
export async function hashPlugin(file: string): Promise<string> {
  await Deno.stat(file);
  return (await walk(file, false)).hash;
}

interface Graph {
  readonly hash: string;
  readonly files: string[];
  readonly urls: Map<string, string>;
}

async function walk(entry: string, strict: boolean): Promise<Graph> {
  const lines: string[] = [];
  const files: string[] = [];
  const urls = new Map<string, string>();

  const visit = async (file: string, stack: readonly string[], via: Via | null) => {
    const known = urls.get(file);
    if (known !== undefined) return known;
    if (stack.includes(file)) {
      if (!strict) return "";
      const cycle = [...stack.slice(stack.indexOf(file)), file].map((f) => label(entry, f));
      throw new PluginLoadError(`its imports form a cycle: ${cycle.join(" -> ")}`, {
        file: entry,
        module: file,
      });
    }
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(file);
    } catch (error) {
      if (!strict && via !== null) {
        lines.push(`${file}\tunreadable`);
        urls.set(file, "");
        return "";
      }
      const where = via === null
        ? ""
        : ` (imported as "${via.specifier}" by ${label(entry, via.file)}:${via.line})`;
      throw new PluginLoadError(`cannot read ${label(entry, file)}${where}: ${message(error)}`, {
        file: entry,
        module: via?.file ?? file,
        ...(via ? { line: via.line } : {}),
        cause: error,
      });
    }
    const contentHash = await sha256Hex(bytes);
    lines.push(`${file}\t${contentHash}`);
    files.push(file);

    if (extname(file).toLowerCase() === ".json") {
      const url = dataJsonPrefix + toBase64(bytes);
      urls.set(file, url);
      return url;
    }
    let analysis: Analysis;
    try {
      analysis = await analyze(entry, file, bytes, contentHash);
    } catch (error) {
      if (strict) throw error;
      urls.set(file, "");
      return "";
    }
    const edits: Edit[] = [...analysis.metas];
    for (const dep of analysis.deps) {
      const depUrl = await visit(dep.file, [...stack, file], {
        file,
        specifier: dep.specifier,
        line: dep.line,
      });
      edits.push({ start: dep.start, end: dep.end, text: dep.quoted ? `"${depUrl}"` : depUrl });
    }
    // V8 shortens data: URLs in stack traces to their head and tail; a trailer naming
    // the file gives every module a distinct tail, so traces can be mapped back.
    const trailer = `\n//# sourceURL=${fileUrl(file)} ${contentHash.slice(0, 12)}\n`;
    const url = strict
      ? dataJsPrefix + toBase64(encoder.encode(applyEdits(analysis.code, edits) + trailer))
      : "";
    urls.set(file, url);
    return url;
  };

  await visit(entry, [], null);
  const hash = await sha256Hex(encoder.encode(lines.join("\n")));
  return { hash, files, urls };
}

interface Via {
  readonly file: string;
  readonly specifier: string;
  readonly line: number;
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

interface Dependency {
  readonly file: string;
  readonly specifier: string;
  readonly line: number;
  readonly start: number;
  readonly end: number;
  /** Dynamic imports' ranges include the quotes. */
  readonly quoted: boolean;
}

interface Analysis {
  readonly code: string;
  readonly deps: readonly Dependency[];
  readonly metas: readonly Edit[];
}

/** Stripping and lexing cost more than hashing: reuse them while a module is unchanged. */
const analysisCache = new Map<string, Analysis>();
const analysisCacheLimit = 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function analyze(
  entry: string,
  file: string,
  bytes: Uint8Array,
  contentHash: string,
): Promise<Analysis> {
  const key = `${file}\0${contentHash}`;
  const cached = analysisCache.get(key);
  if (cached) return cached;

  const ext = extname(file).toLowerCase();
  const typescript = typeScriptExtensions.has(ext);
  if (!typescript && !javaScriptExtensions.has(ext)) {
    throw new PluginLoadError(
      `${label(entry, file)}: unsupported module type "${ext || "(none)"}" (use .ts, .js or .json)`,
      { file: entry, module: file },
    );
  }
  const source = decoder.decode(bytes);
  const answer = await typeStripper.prepare({ file, code: source, typescript });
  if ("error" in answer) {
    const { error } = answer;
    const line = error.stage === "strip"
      ? error.line
      : error.index === undefined
      ? undefined
      : lineAt(source, error.index);
    const hint = error.stage === "strip" && error.unsupported
      ? " (plugins are loaded by stripping types only: replace enums with `as const` objects, namespaces with modules, parameter properties with fields)"
      : "";
    const what = error.stage === "lex"
      ? `cannot parse its imports: ${error.message}`
      : error.message;
    throw new PluginLoadError(`${label(entry, file)}${line ? `:${line}` : ""}: ${what}${hint}`, {
      file: entry,
      module: file,
      ...(line ? { line } : {}),
    });
  }
  const { code, imports } = answer;
  const deps: Dependency[] = [];
  const metas: Edit[] = [];
  for (const item of imports) {
    if (item.type === "import-meta") {
      const edit = importMetaEdit(code, item.start, item.end, file);
      if (edit) metas.push(edit);
      continue;
    }
    if (item.type === "dynamic" && (item.specifier === undefined || item.glob)) continue;
    const specifier = item.specifier;
    if (specifier === undefined || !isLocal(specifier)) continue;
    deps.push({
      file: resolveLocal(specifier, file),
      specifier,
      line: lineAt(code, item.start),
      start: item.start,
      end: item.end,
      quoted: item.type === "dynamic",
    });
  }
  const analysis = { code, deps, metas };
  if (analysisCache.size >= analysisCacheLimit) analysisCache.clear();
  analysisCache.set(key, analysis);
  return analysis;
}

const metaPattern = /^\s*\.\s*(url|filename|dirname|resolve)\b/;

function importMetaEdit(code: string, start: number, end: number, file: string): Edit | null {
  const match = metaPattern.exec(code.slice(end, end + 64));
  if (!match) return null;
  const href = fileUrl(file);
  const values: Record<string, string> = {
    url: JSON.stringify(href),
    filename: JSON.stringify(file),
    dirname: JSON.stringify(dirname(file)),
    // Relative specifiers resolve against the real file; the rest as Deno would.
    resolve: `((s) => /^\\.{0,2}\\//.test(s) ? new URL(s, ${
      JSON.stringify(href)
    }).href : import.meta.resolve(s))`,
  };
  return { start, end: end + match[0].length, text: values[match[1] ?? "url"] ?? "" };
}

function isLocal(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../") ||
    specifier.startsWith("/") || specifier.startsWith("file:");
}

function resolveLocal(specifier: string, importer: string): string {
  return fileURLToPath(new URL(specifier, pathToFileURL(importer)));
}

function applyEdits(code: string, edits: readonly Edit[]): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start);
  let out = code;
  for (const edit of sorted) out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  return out;
}

function lineAt(code: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index && i < code.length; i++) if (code.charCodeAt(i) === 10) line++;
  return line;
}

/** A module's path as shown in messages: relative to the plugin's folder when inside it. */
function label(entry: string, file: string): string {
  const rel = relative(dirname(entry), file);
  return rel.startsWith("..") ? file : rel;
}

function fileUrl(file: string): string {
  return pathToFileURL(file).href;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function toBase64(bytes: Uint8Array): string {
  return (bytes as Uint8Array & { toBase64(): string }).toBase64();
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
