/**
 * The one error class the ShotGrid client throws for failed calls, and the parsing of
 * ShotGrid's JSON:API error bodies into it.
 *
 * @module
 */
import { redactSecrets } from "../log/redact.ts";

/** What a {@link ShotGridError} carries besides its message. */
export interface ShotGridErrorOptions {
  /** HTTP status, `null` when no response arrived (network error, timeout). */
  readonly status?: number | null;
  /** ShotGrid's error code from the body (102 auth, 103 bad request, 104 not found). */
  readonly code?: number | null;
  /** ShotGrid's error title, or a short description of the failure. */
  readonly title?: string;
  /** ShotGrid's error detail, when it differs from the title. */
  readonly detail?: string | null;
  /** Whether trying the same call again may succeed. */
  readonly retriable?: boolean;
  /** How long the server asked us to wait (`Retry-After`), in ms. */
  readonly retryAfterMs?: number | null;
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * A ShotGrid call failed: an error response, a network failure, a timeout or an
 * authentication failure. Never carries a script key or password.
 */
export class ShotGridError extends Error {
  /** HTTP status, `null` when no response arrived. */
  readonly status: number | null;
  /** ShotGrid's error code, `null` when the body had none. */
  readonly code: number | null;
  /** ShotGrid's error title (or a short description such as `"timed out"`). */
  readonly title: string;
  /** ShotGrid's error detail, `null` when absent. */
  readonly detail: string | null;
  /** Whether the client retries it (and a caller may try again later). */
  readonly retriable: boolean;
  /** The wait the server asked for with `Retry-After`, in ms, or `null`. */
  readonly retryAfterMs: number | null;

  /**
   * @param message The full message, the failed action first.
   * @param options Status, code, title, retriable flag and cause.
   */
  constructor(message: string, options: ShotGridErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ShotGridError";
    this.status = options.status ?? null;
    this.code = options.code ?? null;
    this.title = options.title ?? message;
    this.detail = options.detail ?? null;
    this.retriable = options.retriable ?? false;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}

/** One entry of a ShotGrid error body, as far as the client reads it. */
interface ErrorEntry {
  readonly code?: unknown;
  readonly title?: unknown;
  readonly detail?: unknown;
}

/** What {@link errorFromResponse} needs besides the response. */
export interface ErrorFromResponseOptions {
  /** Whether the status is worth retrying (decided by the caller, see retry.ts). */
  readonly retriable: boolean;
  /** Parsed `Retry-After`, in ms. */
  readonly retryAfterMs?: number | null;
  /** Strings that must never appear in the error (script key, password). */
  readonly secrets?: readonly string[];
}

/**
 * Build the error for a non-2xx response from ShotGrid's `{"errors":[...]}` body.
 *
 * @param action What was attempted, e.g. `search EventLogEntry`.
 * @param response Status, status text and the raw body text.
 * @param options Retriable flag, Retry-After and secrets to redact.
 * @returns `Cannot search EventLogEntry: 400 API read() EventLogEntry.foo doesn't exist. (code 103)`.
 */
export function errorFromResponse(
  action: string,
  response: { readonly status: number; readonly statusText: string; readonly text: string },
  options: ErrorFromResponseOptions,
): ShotGridError {
  const secrets = options.secrets ?? [];
  const entry = firstErrorEntry(response.text);
  const code = typeof entry?.code === "number" ? entry.code : null;
  const rawTitle = typeof entry?.title === "string" && entry.title !== ""
    ? entry.title
    : response.statusText || "HTTP error";
  const rawDetail = entry?.detail === undefined || entry.detail === null
    ? null
    : typeof entry.detail === "string"
    ? entry.detail
    : JSON.stringify(entry.detail);
  const title = oneLine(redact(rawTitle, secrets));
  const detail = rawDetail === null || rawDetail === ""
    ? null
    : oneLine(redact(rawDetail, secrets));
  let message = `Cannot ${action}: ${response.status} ${title}`;
  if (detail !== null && detail !== title) message += `: ${detail}`;
  if (code !== null) message += ` (code ${code})`;
  return new ShotGridError(message, {
    status: response.status,
    code,
    title,
    detail,
    retriable: options.retriable,
    retryAfterMs: options.retryAfterMs ?? null,
  });
}

/** Longest title or detail quoted from a server (one that echoes a whole request says more). */
const maxServerText = 300;

/** A server's text as one line of bounded length (redacted before it is cut). */
function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > maxServerText ? `${line.slice(0, maxServerText)}...` : line;
}

function firstErrorEntry(text: string): ErrorEntry | null {
  if (text === "") return null;
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body !== "object" || body === null) return null;
    const errors = (body as { errors?: unknown }).errors;
    if (Array.isArray(errors) && typeof errors[0] === "object" && errors[0] !== null) {
      return errors[0] as ErrorEntry;
    }
    // The auth endpoint of some sites answers in OAuth's `{"error": ..., "error_description": ...}`.
    const oauth = body as { error?: unknown; error_description?: unknown };
    if (typeof oauth.error === "string") {
      return { title: oauth.error, detail: oauth.error_description };
    }
  } catch {
    // An HTML page from a proxy or load balancer: fall back to the status text.
  }
  return null;
}

/**
 * Hide every secret in `text`, in each of its encodings, and any credential recognised by
 * its shape (see {@link redactSecrets}, the one redaction used everywhere).
 *
 * Server messages are echoed into errors; a server (or proxy) that echoes a
 * credential must not put it into our logs.
 *
 * @param text Any text about to go into an error.
 * @param secrets The strings to hide besides the registered ones; empty strings are ignored.
 * @returns The text without any secret.
 */
export function redact(text: string, secrets: readonly string[]): string {
  return redactSecrets(text, secrets);
}
