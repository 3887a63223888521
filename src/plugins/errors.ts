/**
 * Errors of the plugin runtime that a caller handles (as opposed to `TypeError` for
 * bad arguments, which signals a bug in the caller).
 *
 * @module
 */
/** Options of {@link PluginLoadError}. */
export interface PluginLoadErrorOptions {
  /** The plugin's entry file (absolute). */
  readonly file: string;
  /** The module where the problem is (the entry or one of its helpers), if known. */
  readonly module?: string;
  /** 1-based line in `module`, if known. */
  readonly line?: number;
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * A plugin could not be read, transformed, imported or registered.
 *
 * The message always starts with `Cannot load plugin "<file name>": `.
 */
export class PluginLoadError extends Error {
  override readonly name = "PluginLoadError";
  /** The plugin's entry file. */
  readonly file: string;
  /** The module at fault (entry or helper). */
  readonly module: string;
  /** 1-based line in `module`, or `null`. */
  readonly line: number | null;

  /**
   * @param reason What went wrong, without the `Cannot load plugin` prefix.
   * @param options The plugin file, the module and line at fault, the cause.
   */
  constructor(reason: string, options: PluginLoadErrorOptions) {
    super(`Cannot load plugin "${fileName(options.file)}": ${reason}`, { cause: options.cause });
    this.file = options.file;
    this.module = options.module ?? options.file;
    this.line = options.line ?? null;
  }
}

/**
 * The message and stack of anything thrown, as strings (plugins may throw non-errors).
 *
 * @param error Anything caught.
 * @returns `error` as `"Name: message"` and its stack (or `null`).
 */
export function describeError(error: unknown): { error: string; stack: string | null } {
  if (error instanceof Error || error instanceof DOMException) {
    const stack = typeof error.stack === "string" ? error.stack : null;
    return { error: `${error.name}: ${error.message}`, stack };
  }
  let text: string;
  try {
    text = typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
  } catch {
    text = String(error);
  }
  return { error: `Non-error thrown: ${text}`, stack: null };
}

/**
 * The last part of a path. By hand, not `node:path`: this module runs in every plugin
 * Worker, and a `node:` import there starts Deno's Node compatibility layer in that
 * isolate (measured: 2.7 MiB per bare Worker, 1-2 MiB less idle RSS for the daemon with
 * 10 plugins on two Workers).
 */
function fileName(path: string): string {
  const cut = Deno.build.os === "windows"
    ? Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"))
    : path.lastIndexOf("/");
  return path.slice(cut + 1);
}
