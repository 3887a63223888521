/**
 * The logger plugins get (`logger` in callbacks, `reg.logger`): Python's logging methods
 * (`warning`, `critical`, `exception`) and `%`-formatting beside LogTape's `{placeholder}`
 * properties, so code ported from shotgunEvents runs with no change beyond syntax.
 *
 * How a call is read:
 * - `info(message)`: the message as it is (a `%` or a brace is text).
 * - `info(message, { key: value })`, one plain object and no `%` directive in the message:
 *   LogTape properties; `{key}` in the message is replaced, other keys are shown after it.
 * - `info(message, a, b, ...)` (anything else): Python's `message % (a, b, ...)`; a single
 *   plain object with `%(name)s` directives is Python's mapping form. Arguments left over
 *   are appended, space-separated; an `Error` left over is logged with its stack.
 * - `exception(message, ...args)`: at error level, with the stack of the last `Error` among
 *   the arguments (used by a directive or not). JavaScript has no "current exception", so
 *   pass the caught error: `catch (e) { logger.exception("Update failed: %s", e) }`.
 *
 * @module
 */
import type { PluginLogger } from "./mod.ts";

/** The levels a plugin's record can have (LogTape's names; `critical` is `fatal`). */
export type PluginLogLevel = "debug" | "info" | "warning" | "error" | "fatal";

/**
 * Where a plugin's records go. `properties` is `null` when `message` is plain text;
 * otherwise `message` is a LogTape template (literal braces doubled).
 */
export type PluginLogEmitter = (
  level: PluginLogLevel,
  message: string,
  properties: Record<string, unknown> | null,
) => void;

/** Options of {@link createPluginLogger}. */
export interface PluginLoggerOptions {
  /** An error's text and stack as the log shows them (the worker maps bundle URLs back). */
  readonly describeError?: (error: unknown) => { error: string; stack: string | null };
}

/**
 * Create the logger handed to a plugin.
 *
 * @param emit Receives each record.
 * @param options How errors are described.
 * @returns The logger.
 * @example
 * ```ts
 * import { createPluginLogger } from "./plugin_logger.ts";
 * const lines: string[] = [];
 * const logger = createPluginLogger((_level, message) => lines.push(message));
 * logger.info("%s is now %s", "Shot 5", "ip");
 * console.assert(lines[0] === "Shot 5 is now ip");
 * ```
 */
export function createPluginLogger(
  emit: PluginLogEmitter,
  options: PluginLoggerOptions = {},
): PluginLogger {
  const describeError = options.describeError ?? defaultDescribe;
  const at = (level: PluginLogLevel) => (message: unknown, ...args: unknown[]): void => {
    const record = toRecord(message, args, null, describeError);
    emit(level, record.message, record.properties);
  };
  return {
    debug: at("debug"),
    info: at("info"),
    warning: at("warning"),
    warn: at("warning"),
    error: at("error"),
    critical: at("fatal"),
    fatal: at("fatal"),
    exception(message: unknown, ...args: unknown[]): void {
      const error = args.findLast((arg) => arg instanceof Error);
      const record = toRecord(message, args, error ?? null, describeError);
      emit("error", record.message, record.properties);
    },
  };
}

interface Record_ {
  readonly message: string;
  readonly properties: Record<string, unknown> | null;
}

function toRecord(
  message: unknown,
  args: readonly unknown[],
  exception: unknown,
  describeError: NonNullable<PluginLoggerOptions["describeError"]>,
): Record_ {
  const text = typeof message === "string" ? message : formatValue(message, "s");
  const only = args[0];
  if (args.length === 1 && isPlainObject(only) && !directive.test(text)) {
    return { message: text, properties: only };
  }
  if (args.length === 0 && exception === null) return { message: text, properties: null };
  const { text: formatted, rest } = args.length === 0
    ? { text, rest: [] }
    : percentFormat(text, args);
  const leftover = rest.filter((arg) => arg !== exception);
  const attached = exception ?? leftover.find((arg) => arg instanceof Error) ?? null;
  const extra = leftover.filter((arg) => arg !== attached).map((arg) => formatValue(arg, "s"));
  const line = [formatted, ...extra].join(" ");
  if (attached === null) return { message: line, properties: null };
  const { error, stack } = describeError(attached);
  return {
    message: escapeBraces(line),
    properties: stack === null ? { error } : { stack },
  };
}

function defaultDescribe(error: unknown): { error: string; stack: string | null } {
  if (error instanceof Error) return { error: String(error), stack: error.stack ?? null };
  return { error: String(error), stack: null };
}

const escapeBraces = (text: string) => text.replaceAll("{", "{{").replaceAll("}", "}}");

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// Python's printf-style conversion, as the `%` operator on str does it. Written by hand:
// JS printf packages (sprintf-js, printf) have no `%r`, no `%(name)s` mapping and other
// rules for `%s` of objects; this is the subset logging calls use.
const directivePattern = /%(?:\(([^)]*)\))?([-+ 0#]*)(\d+)?(?:\.(\d+))?([diouxXeEfFgGcrsa%])/g;
const directive = /%(?:\([^)]*\))?[-+ 0#]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]/;

/**
 * Python's `message % args`: `%s %r %d %i %f %e %g %x %o %c %%`, flags `-+ 0#`, width and
 * precision, and `%(name)s` with a single mapping argument.
 *
 * @param message The format.
 * @param args The values.
 * @returns The text, and the arguments no directive used.
 */
export function percentFormat(
  message: string,
  args: readonly unknown[],
): { text: string; rest: unknown[] } {
  const mapping = args.length === 1 && isPlainObject(args[0]) && /%\(/.test(message)
    ? args[0]
    : null;
  let next = 0;
  let missing = false;
  const text = message.replace(
    directivePattern,
    (match, key: string | undefined, flags: string, width, precision, conversion: string) => {
      if (conversion === "%") return "%";
      let value: unknown;
      if (key !== undefined) {
        if (mapping === null || !(key in mapping)) return match;
        value = mapping[key];
      } else {
        if (next >= args.length) {
          missing = true;
          return match;
        }
        value = args[next++];
      }
      const body = convert(value, conversion, precision === undefined ? null : Number(precision));
      return pad(body, flags, width === undefined ? 0 : Number(width), conversion);
    },
  );
  // Too few arguments: Python refuses to format; keep the message and show every argument.
  if (missing) return { text: message, rest: [...args] };
  return { text, rest: mapping === null ? args.slice(next) : [] };
}

function convert(value: unknown, conversion: string, precision: number | null): string {
  switch (conversion) {
    case "s":
    case "a": {
      const text = formatValue(value, "s");
      return precision === null ? text : text.slice(0, precision);
    }
    case "r":
      return formatValue(value, "r");
    case "c":
      return typeof value === "number" ? String.fromCodePoint(value) : String(value);
  }
  const number = typeof value === "bigint" ? Number(value) : Number(value);
  if (typeof value === "boolean" || Number.isNaN(number) && typeof value !== "number") {
    return formatValue(value, "s");
  }
  if (!Number.isFinite(number)) return number > 0 ? "inf" : number < 0 ? "-inf" : "nan";
  switch (conversion) {
    case "d":
    case "i":
    case "u":
      return String(Math.trunc(number));
    case "x":
      return Math.trunc(number).toString(16);
    case "X":
      return Math.trunc(number).toString(16).toUpperCase();
    case "o":
      return Math.trunc(number).toString(8);
    case "f":
    case "F":
      return number.toFixed(precision ?? 6);
    case "e":
    case "E": {
      const text = number.toExponential(precision ?? 6).replace(/e([+-])(\d)$/, "e$10$2");
      return conversion === "E" ? text.toUpperCase() : text;
    }
    default: { // g, G
      const digits = precision === 0 ? 1 : precision ?? 6;
      const exponent = number === 0 ? 0 : Math.floor(Math.log10(Math.abs(number)));
      const text = exponent < -4 || exponent >= digits
        ? number.toExponential(digits - 1).replace(/\.?0+e/, "e").replace(/e([+-])(\d)$/, "e$10$2")
        : String(Number(number.toPrecision(digits)));
      return conversion === "G" ? text.toUpperCase() : text;
    }
  }
}

function pad(body: string, flags: string, width: number, conversion: string): string {
  const numeric = !"srac".includes(conversion);
  let text = body;
  if (numeric && !text.startsWith("-")) {
    if (flags.includes("+")) text = `+${text}`;
    else if (flags.includes(" ")) text = ` ${text}`;
  }
  if (text.length >= width) return text;
  if (flags.includes("-")) return text.padEnd(width);
  if (numeric && flags.includes("0")) {
    const sign = /^[-+ ]/.test(text) ? text[0]! : "";
    return sign + text.slice(sign.length).padStart(width - sign.length, "0");
  }
  return text.padStart(width);
}

/**
 * A value as `%s` (str: strings as they are, an error's message) or `%r` (repr: strings
 * quoted, objects as `Deno.inspect` shows them) renders it.
 */
function formatValue(value: unknown, conversion: "s" | "r"): string {
  if (conversion === "s") {
    if (typeof value === "string") return value;
    if (value instanceof Error) return value.message;
    if (value === null || typeof value !== "object") return String(value);
  }
  return Deno.inspect(value, { colors: false, depth: 4, breakLength: Infinity });
}
