/**
 * Secret redaction shared by every log sink, mail and error message: once a secret is
 * registered, it is written as `***` wherever it would appear.
 *
 * @module
 */

const secrets = new Set<string>();
let pattern: RegExp | null = null;

/** What a registered secret is replaced with. */
export const redactedText = "***";

/**
 * Registers a secret (a script key, a password) so that {@link redact} hides it from now on.
 * Empty strings are ignored. Registration is process-wide and permanent.
 *
 * @param secret The secret as it would appear in text.
 */
export function registerSecret(secret: string): void {
  if (secret === "" || secrets.has(secret)) return;
  secrets.add(secret);
  // Longest first, so a secret containing another is replaced whole.
  const sorted = [...secrets].sort((a, b) => b.length - a.length);
  pattern = new RegExp(sorted.map(escapeRegExp).join("|"), "g");
}

/**
 * Replaces every registered secret in a text with `***`.
 *
 * @param text Any text about to leave the process (log line, mail, error message).
 * @returns The text without secrets.
 */
export function redact(text: string): string {
  return pattern === null ? text : text.replace(pattern, redactedText);
}

/**
 * Whether any secret is registered (lets hot paths skip the deep walk of {@link redactValue}).
 *
 * @returns `true` once a secret has been registered.
 */
export function hasSecrets(): boolean {
  return pattern !== null;
}

/**
 * Returns a copy of a value with secrets redacted in every string it holds: nested arrays and
 * plain objects are copied, an `Error` becomes an `Error` of the same name with redacted
 * message, stack and cause. Other objects (dates, class instances) are returned as they are.
 *
 * @param value Any value, e.g. a log record's properties.
 * @returns The redacted copy (the same value when nothing needed redacting).
 */
export function redactValue<T>(value: T): T {
  if (pattern === null) return value;
  return walk(value, new WeakMap()) as T;
}

function walk(value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === "string") return redact(value);
  if (typeof value !== "object" || value === null) return value;
  const done = seen.get(value);
  if (done !== undefined) return done;
  if (value instanceof Error) {
    const copy = new Error(redact(value.message));
    seen.set(value, copy);
    copy.name = redact(value.name);
    if (value.stack === undefined) delete copy.stack;
    else copy.stack = redact(value.stack);
    if ("cause" in value) copy.cause = walk(value.cause, seen);
    for (const [key, item] of Object.entries(value)) {
      if (key !== "cause") (copy as unknown as Record<string, unknown>)[key] = walk(item, seen);
    }
    return copy;
  }
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(walk(item, seen));
    return copy;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  for (const [key, item] of Object.entries(value)) copy[key] = walk(item, seen);
  return copy;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
