/**
 * The one retry policy: whether trying the same thing again may succeed. The engine's
 * recovery loop, the lanes and the plugin Workers all ask {@link isRetriable}, as kafkajs
 * asks `error.retriable`, so a fault is never retried forever in one place and given up
 * on at once in another.
 *
 * - Retriable: network failures (fetch's `TypeError("fetch failed")`, Deno's connection
 *   errors), timeouts, errors that say so (`retriable: true`: a ShotGridError for 429 or
 *   5xx, a page of bad ids), and failures of unknown kind (a plugin's own `Error`).
 * - Not retriable: errors that say so (`retriable: false`: a 4xx, a bad response),
 *   programmer errors (TypeError, ReferenceError, SyntaxError, RangeError...) and aborts.
 *
 * @module
 */

/** Deno's own error classes for faults of the network, not of the code. */
const networkErrors: readonly (new (...args: never[]) => Error)[] = [
  Deno.errors.ConnectionRefused,
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.NotConnected,
  Deno.errors.BrokenPipe,
  Deno.errors.TimedOut,
  Deno.errors.Interrupted,
  Deno.errors.AddrNotAvailable,
  Deno.errors.UnexpectedEof,
  Deno.errors.NetworkUnreachable,
];

/** Programmer errors: running the same code again fails the same way. */
const bugs: readonly (new (...args: never[]) => Error)[] = [
  TypeError,
  ReferenceError,
  SyntaxError,
  RangeError,
  EvalError,
  URIError,
];

/**
 * Whether an operation that failed with `error` is worth trying again.
 *
 * @param error Anything caught.
 * @returns `true` for transient faults (network, timeout, 429, 5xx, unknown), `false` for
 *   4xx, bad responses, programmer errors and aborts.
 * @example
 * ```ts
 * import { isRetriable } from "./retriable.ts";
 * isRetriable(new TypeError("fetch failed")); // true: a network failure
 * isRetriable(new TypeError("x is not a function")); // false: a bug
 * ```
 */
export function isRetriable(error: unknown): boolean {
  if (error instanceof DOMException) {
    // A timeout is the far side's slowness; an abort is our own stop request.
    return error.name === "TimeoutError" || error.name === "NetworkError";
  }
  if (typeof error !== "object" || error === null) return true;
  const flag = (error as { retriable?: unknown }).retriable;
  if (typeof flag === "boolean") return flag;
  if (isNetworkError(error)) return true;
  return !bugs.some((kind) => error instanceof kind);
}

/**
 * Whether `error` is a failure to reach a server (not an answer from it).
 *
 * @param error Anything caught.
 * @returns `true` for fetch's network TypeError and Deno's connection errors.
 */
export function isNetworkError(error: unknown): boolean {
  if (networkErrors.some((kind) => error instanceof kind)) return true;
  // fetch() reports every failure to get a response as a TypeError: "fetch failed" with the
  // cause in Deno 2, "error sending request ..." before; a bug in our code never says that.
  if (!(error instanceof TypeError)) return false;
  return error.message === "fetch failed" || error.message.startsWith("error sending request") ||
    error.message.startsWith("Fetch failed:");
}
