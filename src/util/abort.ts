/**
 * Abortable waiting, shared by every loop in the daemon so that SIGTERM stops it promptly.
 *
 * @module
 */

/**
 * Wait `ms` milliseconds, or until `signal` aborts.
 *
 * @param ms How long to wait.
 * @param signal Ends the wait early.
 * @returns Resolves after the delay; rejects with the signal's reason when aborted.
 * @throws The abort reason when `signal` aborts.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const done = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A function that waits, injectable so tests and benchmarks control time. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** A clock in epoch milliseconds, injectable for the same reason. */
export type Clock = () => number;

/**
 * Whether an error is an abort (the caller asked to stop), not a failure.
 *
 * @param error Anything caught.
 * @returns `true` for `AbortError`/`TimeoutError` DOMExceptions.
 */
export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException &&
    (error.name === "AbortError" || error.name === "TimeoutError");
}

/**
 * Wait for `promise`, but stop waiting when `signal` aborts (the work itself goes on).
 *
 * @param promise Shared work.
 * @param signal Ends this caller's wait.
 * @returns What `promise` resolves to.
 * @throws The abort reason when `signal` aborts first.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
