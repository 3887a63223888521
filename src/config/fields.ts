/**
 * Zod leaf schemas for config values. Each leaf parses one value itself and reports a
 * problem as a custom issue whose message is the expectation ("a duration; use e.g. 5s"),
 * so that `issues.ts` can write one readable line per problem.
 *
 * @module
 */
import * as z from "zod";
import { parseDuration, parseSize } from "./duration.ts";
import type { LogLevel, StartAt } from "./types.ts";

/** How `issues.ts` turns a custom issue into a line. */
export type IssueKind = "invalid" | "missing" | "full";

const missing = Symbol("missing");

/**
 * A config value parsed by `parse` (which returns `undefined` for a bad value).
 *
 * @param parse Parses the raw YAML value.
 * @param expected What a good value looks like, e.g. "an integer from 1 to 5000".
 * @param fallback The default when the key is absent; without it the key is required.
 * @returns The zod schema.
 */
export function leaf<T>(
  parse: (value: unknown) => T | undefined,
  expected: string,
  fallback?: { readonly value: T },
): z.ZodType<T> {
  return z.unknown().default(missing).transform((value, ctx): T => {
    if (
      value === missing || (value === null && fallback !== undefined && fallback.value === null)
    ) {
      if (fallback !== undefined) return fallback.value;
      ctx.addIssue({ code: "custom", message: expected, params: { kind: "missing" } });
      return z.NEVER;
    }
    const parsed = parse(value);
    if (parsed === undefined) {
      ctx.addIssue({ code: "custom", message: expected, params: { kind: "invalid" } });
      return z.NEVER;
    }
    return parsed;
  }) as unknown as z.ZodType<T>;
}

/**
 * Like {@link leaf}, but `parse` returns either the value or a whole problem sentence
 * (used where the problem is not about the value's shape, e.g. an unreadable key file).
 *
 * @param parse Parses the raw value; returns `{ problem }` to report a problem.
 * @param expected What a good value looks like.
 * @param fallback The default when the key is absent.
 * @returns The zod schema.
 */
export function checkedLeaf<T>(
  parse: (value: unknown) => { readonly value: T } | { readonly problem: string } | undefined,
  expected: string,
  fallback?: { readonly value: T },
): z.ZodType<T> {
  return z.unknown().default(missing).transform((value, ctx): T => {
    if (value === missing || value === null) {
      if (fallback !== undefined) return fallback.value;
      ctx.addIssue({ code: "custom", message: expected, params: { kind: "missing" } });
      return z.NEVER;
    }
    const result = parse(value);
    if (result === undefined) {
      ctx.addIssue({ code: "custom", message: expected, params: { kind: "invalid" } });
      return z.NEVER;
    }
    if ("problem" in result) {
      ctx.addIssue({ code: "custom", message: result.problem, params: { kind: "full" } });
      return z.NEVER;
    }
    return result.value;
  }) as unknown as z.ZodType<T>;
}

/** A non-empty string. */
export function parseText(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** A group of two or more distinct plugin names (`plugins.ordered_groups` items). */
export function parseNameGroup(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length < 2) return undefined;
  if (!value.every((name) => parseText(name) !== undefined)) return undefined;
  return new Set(value).size === value.length ? value as string[] : undefined;
}

/** `true`/`false`, also as the strings an environment variable yields. */
export function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  return undefined;
}

/**
 * An integer parser in a range (numeric strings accepted, as `${VAR}` yields strings).
 *
 * @param min The smallest allowed value.
 * @param max The largest allowed value.
 * @returns The parser.
 */
export function integerIn(
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): (value: unknown) => number | undefined {
  return (value: unknown): number | undefined => {
    const number = typeof value === "string" && /^-?\d+$/.test(value.trim())
      ? Number(value)
      : value;
    return typeof number === "number" && Number.isInteger(number) && number >= min &&
        number <= max
      ? number
      : undefined;
  };
}

/**
 * Describes an integer range for messages.
 *
 * @param min The smallest allowed value.
 * @param max The largest allowed value, if any.
 * @returns e.g. "an integer from 1 to 5000".
 */
export function integerText(min: number, max?: number): string {
  return max === undefined ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
}

/** The expectation for durations. */
export const durationText = "a duration; use e.g. 5s, 500ms, 2m";
/** The expectation for durations that must not be zero. */
export const positiveDurationText = "a duration above 0; use e.g. 5s, 500ms, 2m";

/**
 * A duration parser.
 *
 * @param positive Whether 0 is refused.
 * @returns The parser, giving milliseconds.
 */
export function duration(positive: boolean): (value: unknown) => number | undefined {
  return (value: unknown): number | undefined => {
    const ms = parseDuration(value);
    return ms === null || (positive && ms === 0) ? undefined : ms;
  };
}

/** A size above 0 in bytes. */
export function parseSizeValue(value: unknown): number | undefined {
  const bytes = parseSize(value);
  return bytes === null || bytes === 0 ? undefined : bytes;
}

/**
 * A parser for one of a fixed set of strings (case-insensitive).
 *
 * @param values The allowed values.
 * @returns The parser.
 */
export function oneOf<T extends string>(values: readonly T[]): (value: unknown) => T | undefined {
  return (value: unknown): T | undefined =>
    typeof value === "string"
      ? values.find((allowed) => allowed === value.trim().toLowerCase())
      : undefined;
}

const levelAliases: Readonly<Record<string, LogLevel>> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warning",
  warning: "warning",
  error: "error",
  critical: "fatal",
  fatal: "fatal",
};

/** A log level name (case-insensitive; `warn` and `critical` as Python users write them). */
export function parseLevel(value: unknown): LogLevel | undefined {
  return typeof value === "string" ? levelAliases[value.trim().toLowerCase()] : undefined;
}

/** The expectation for log levels. */
export const levelText = "a log level: trace, debug, info, warning, error or fatal";

/** `latest`, `oldest` or an event id. */
export function parseStartAt(value: unknown): StartAt | undefined {
  if (value === "latest" || value === "oldest") return value;
  return integerIn(1)(value);
}

/** The expectation for `start_at`. */
export const startAtText = "latest, oldest or an event id (an integer of at least 1)";

/** An http(s) URL, without trailing slashes. */
export function parseUrl(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  try {
    const url = new URL(value.trim());
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return value.trim().replace(/\/+$/, "");
  } catch {
    return undefined;
  }
}

/**
 * A PostgreSQL URL (`postgres://user@host:port/db`), checked for a host, a user and a
 * database; a password in it is allowed (from `${VAR}`) and never shown.
 *
 * @param value The raw value.
 * @returns The URL as written, or undefined when it is not one.
 */
export function parsePostgresUrl(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  try {
    const url = new URL(value.trim());
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") return undefined;
    if (url.hostname === "" || url.username === "" || url.pathname.length < 2) return undefined;
    return value.trim();
  } catch {
    return undefined;
  }
}

/** A daemon name: letters, digits, `.`, `_` and `-`, up to 63 characters. */
export function parseDaemonName(value: unknown): string | undefined {
  return typeof value === "string" && /^[A-Za-z0-9._-]{1,63}$/.test(value) ? value : undefined;
}

/**
 * A list of non-empty strings; a single string is a list of one.
 *
 * @param split Whether a single string is split at commas (as the Python INI lists were).
 * @returns The parser.
 */
export function stringList(split: boolean): (value: unknown) => string[] | undefined {
  return (value: unknown): string[] | undefined => {
    const list = typeof value === "string"
      ? (split ? value.split(",").map((item) => item.trim()) : [value])
      : value;
    if (!Array.isArray(list)) return undefined;
    return list.every((item) => parseText(item) !== undefined) ? list as string[] : undefined;
  };
}

/** Options of {@link listLeaf}. */
export interface ListOptions<T> {
  /** What the list as a whole should be, e.g. "a list of mail addresses". */
  readonly expected: string;
  /** Refuse an empty list. */
  readonly nonEmpty?: boolean;
  /** Split a single string at commas (as the Python INI lists were); else it is a list of one. */
  readonly split?: boolean;
  /** The default when the key is absent; without it the key is required. */
  readonly fallback?: { readonly value: T[] };
}

/**
 * A list whose items are checked one by one, so a bad item is reported at its own index.
 *
 * @param parseItem Parses one item (`undefined` when bad).
 * @param itemExpected What a good item looks like, e.g. "a mail address".
 * @param options The list's expectation, emptiness, splitting and default.
 * @returns The zod schema.
 */
export function listLeaf<T>(
  parseItem: (value: unknown) => T | undefined,
  itemExpected: string,
  options: ListOptions<T>,
): z.ZodType<T[]> {
  return z.unknown().default(missing).transform((value, ctx): T[] => {
    if (value === missing) {
      if (options.fallback !== undefined) return options.fallback.value;
      ctx.addIssue({ code: "custom", message: options.expected, params: { kind: "missing" } });
      return z.NEVER;
    }
    const list = typeof value === "string"
      ? (options.split === true ? value.split(",").map((item) => item.trim()) : [value])
      : value;
    if (!Array.isArray(list) || (options.nonEmpty === true && list.length === 0)) {
      ctx.addIssue({ code: "custom", message: options.expected, params: { kind: "invalid" } });
      return z.NEVER;
    }
    const items: T[] = [];
    list.forEach((item, index) => {
      const parsed = parseItem(item);
      if (parsed === undefined) {
        ctx.addIssue({
          code: "custom",
          message: itemExpected,
          path: [index],
          params: { kind: "invalid" },
        });
      } else items.push(parsed);
    });
    return items.length === list.length ? items : z.NEVER;
  }) as unknown as z.ZodType<T[]>;
}

/** A mail address (loosely: something@somewhere). */
export function parseAddress(value: unknown): string | undefined {
  return typeof value === "string" && /^[^@\s]+@[^@\s]+$/.test(value.trim())
    ? value.trim()
    : undefined;
}

/** A `host:port` address (`[::1]:8422` for IPv6; port 0 picks a free port). */
export function parseListen(value: unknown): { hostname: string; port: number } | undefined {
  if (typeof value !== "string") return undefined;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { hostname: match[1] ?? match[2]!, port };
}

/** The expectation for `http.listen`. */
export const listenText = "an address host:port such as 127.0.0.1:8422 (port 0: any free port)";

/** Whether a host name is a loopback address (reachable from this machine only). */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}
