/**
 * Secret redaction shared by every log sink, mail and error message: once a secret is
 * registered, it is written as `***` wherever it would appear, in every encoding it can
 * take on its way through an HTTP exchange (as is, URL- and form-encoded, JSON-escaped,
 * base64 and base64url). Credentials that are not registered secrets (bearer tokens,
 * `Authorization` header values, `client_secret=`/`password=`/`access_token` values in
 * an echoed body) are hidden by their shape.
 *
 * @module
 */

const secrets = new Set<string>();
let pattern: RegExp | null = null;

/** What a registered secret is replaced with. */
export const redactedText = "***";

/** Encoded forms shorter than this are not hidden: they would match ordinary text. */
const minFormLength = 6;

/**
 * Credentials recognised by their shape, hidden even when never registered: a bearer
 * token (also URL-encoded), an `Authorization` header value (header, JSON or form style),
 * and the values of OAuth's secret form fields and JSON keys.
 */
const shapes: readonly [RegExp, string][] = [
  [/\b(authorization)(\\?["']?\s*[:=]\s*\\?["']?)[^"'\\\r\n,;&}]+/gi, `$1$2${redactedText}`],
  [/\b([Bb]earer)(\s+|%20|\+)[A-Za-z0-9\-._~+/%]{16,}=*/g, `$1$2${redactedText}`],
  [
    /\b(client_secret|password|access_token|refresh_token)(=|%3D|\\?"\s*:\s*\\?")[^"\\&\s,}]+/gi,
    `$1$2${redactedText}`,
  ],
];

const shapeWords = /authorization|bearer|client_secret|password|access_token|refresh_token/i;

/**
 * Every form a secret can take in text: as is, URL-encoded (`encodeURIComponent`, and form
 * encoding with `+` for spaces; either hex case), JSON-escaped (with and without `\/` and
 * `\uXXXX` escapes), and base64 and base64url at each of the three byte alignments it can
 * have inside a longer encoded text (the characters shared with neighbouring bytes left
 * out, so a secret inside `base64("id:" + secret)` is still found).
 *
 * @param secret The secret as it is.
 * @returns Its distinct forms, longest first.
 */
export function secretForms(secret: string): string[] {
  if (secret === "") return [];
  const forms = new Set<string>([secret]);
  const encoded = [
    encodeURIComponent(secret),
    new URLSearchParams([["", secret]]).toString().slice(1),
  ];
  for (const form of encoded) {
    forms.add(form);
    forms.add(form.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()));
  }
  const json = JSON.stringify(secret).slice(1, -1);
  forms.add(json);
  forms.add(json.replaceAll("/", "\\/"));
  forms.add(
    json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
  );
  for (const base64 of base64Forms(secret)) {
    forms.add(base64);
    forms.add(base64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, ""));
  }
  return [...forms].filter((form) => form === secret || form.length >= minFormLength)
    .sort((a, b) => b.length - a.length);
}

function base64Forms(secret: string): string[] {
  const bytes = new TextEncoder().encode(secret);
  const out = [toBase64(bytes)];
  for (let shift = 0; shift < 3; shift++) {
    const shifted = new Uint8Array(shift + bytes.length);
    shifted.set(bytes, shift);
    const text = toBase64(shifted).replace(/=+$/, "");
    // Leading characters mixing in the bytes before, and a trailing one mixing the bytes after.
    const head = [0, 2, 3][shift] ?? 0;
    const tail = shifted.length % 3 === 0 ? 0 : 1;
    out.push(text.slice(head, text.length - tail));
  }
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * Registers a secret (a script key, a password) so that {@link redact} hides it, in every
 * form of {@link secretForms}, from now on. Empty strings are ignored. Registration is
 * process-wide and permanent.
 *
 * @param secret The secret as it would appear in text.
 */
export function registerSecret(secret: string): void {
  if (secret === "" || secrets.has(secret)) return;
  secrets.add(secret);
  pattern = formsPattern(secrets);
}

function formsPattern(list: Iterable<string>): RegExp | null {
  const forms = new Set<string>();
  for (const secret of list) for (const form of secretForms(secret)) forms.add(form);
  if (forms.size === 0) return null;
  // Longest first, so a secret containing another is replaced whole.
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  return new RegExp(sorted.map(escapeRegExp).join("|"), "g");
}

/**
 * Replaces every registered secret in a text with `***`, in each of its encodings, and
 * every credential recognised by its shape (bearer tokens, `Authorization` values).
 *
 * @param text Any text about to leave the process (log line, mail, error message).
 * @returns The text without secrets.
 */
export function redact(text: string): string {
  return redactSecrets(text, []);
}

/**
 * {@link redact}, also hiding secrets that are not registered (a client's own key).
 *
 * @param text Any text about to leave the process.
 * @param extra More secrets to hide, in each of their encodings; empty strings are ignored.
 * @returns The text without secrets.
 */
export function redactSecrets(text: string, extra: readonly string[]): string {
  let out = pattern === null ? text : text.replace(pattern, redactedText);
  const more = extra.filter((secret) => secret !== "" && !secrets.has(secret));
  if (more.length > 0) {
    const local = formsPattern(more);
    if (local !== null) out = out.replace(local, redactedText);
  }
  // One scan for the words the shapes start with keeps the common line cheap.
  if (!shapeWords.test(out)) return out;
  for (const [shape, replacement] of shapes) out = out.replace(shape, replacement);
  return out;
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
