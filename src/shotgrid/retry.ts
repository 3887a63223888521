/**
 * Which failures the client retries, how long it waits (`Retry-After` or backoff),
 * and the bounded, abortable retry loop itself.
 *
 * @module
 */
import { backoffDelay, type BackoffOptions } from "../util/backoff.ts";
import type { Sleep } from "../util/abort.ts";
import { ShotGridError } from "./errors.ts";

/**
 * Whether an HTTP status is worth retrying.
 *
 * 429, 502, 503 and 504 are always retried (rate limit, maintenance, overloaded
 * proxy: the request most likely never ran). 500 is retried only for idempotent
 * calls: the Python API never retries it, the Node client retries every 5xx; a
 * ShotGrid 500 is sometimes a transient overload (worth retrying a read) but it
 * can also arrive after a write committed, where a retry would create twice.
 *
 * @param status The HTTP status.
 * @param idempotent Whether sending the request twice is harmless (reads).
 * @returns `true` when the client should try again.
 */
export function isRetriableStatus(status: number, idempotent: boolean): boolean {
  if (status === 429 || status === 502 || status === 503 || status === 504) return true;
  return status === 500 && idempotent;
}

/** The longest `Retry-After` honoured, so a bogus header cannot park the daemon for a day. */
const maxRetryAfterMs = 10 * 60_000;

/**
 * Parse a `Retry-After` header: delay-seconds or an HTTP date.
 *
 * @param value The header value, or `null`.
 * @param now The current time in epoch ms (for the date form).
 * @returns The wait in ms (0 or more, at most 10 minutes), or `null` when absent or invalid.
 */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (trimmed === "") return null;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    ms = Number(trimmed) * 1000;
  } else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return null;
    ms = at - now;
  }
  return Math.min(maxRetryAfterMs, Math.max(0, Math.round(ms)));
}

/** How {@link withRetries} retries. */
export interface RetryOptions {
  /** Retries after the first try (so `retries + 1` tries at most). */
  readonly retries: number;
  /** Shape of the backoff between tries. */
  readonly backoff?: BackoffOptions;
  /** How to wait; injectable so tests do not wait. */
  readonly sleep: Sleep;
  /** Stops the loop, including a wait in progress. */
  readonly signal?: AbortSignal | undefined;
  /** Called before each wait (for logging). */
  readonly onRetry?: (error: ShotGridError, attempt: number, delayMs: number) => void;
}

/**
 * Run `attempt` until it succeeds, fails with a non-retriable error, or the retries run out.
 *
 * Only {@link ShotGridError}s with `retriable: true` are retried: programmer bugs
 * (TypeError, ReferenceError...) and aborts propagate at once.
 *
 * @param attempt One try; receives the 1-based try number.
 * @param options Retry count, backoff, sleep and signal.
 * @returns What `attempt` resolved with.
 * @throws The last error, or the signal's reason when aborted.
 */
export async function withRetries<T>(
  attempt: (tryNumber: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { retries, signal } = options;
  for (let tryNumber = 1;; tryNumber++) {
    signal?.throwIfAborted();
    try {
      return await attempt(tryNumber);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (!(error instanceof ShotGridError) || !error.retriable || tryNumber > retries) throw error;
      const delay = error.retryAfterMs ?? backoffDelay(tryNumber, options.backoff);
      options.onRetry?.(error, tryNumber, delay);
      await options.sleep(delay, signal);
    }
  }
}

/**
 * Wait for `promise`, but reject with the signal's reason as soon as it aborts.
 *
 * Used where the awaited work is shared (one token request for many callers) and
 * must not be cancelled by any single caller.
 *
 * @param promise The shared work.
 * @param signal The caller's signal.
 * @returns The promise's value.
 * @throws The promise's error, or the signal's reason.
 */
export function raceAbort<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
