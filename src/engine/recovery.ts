/**
 * Riding out trouble with the site: every read the engine makes goes through
 * {@link withRecovery}, which never gives up on a retriable fault (the daemon must not
 * exit because the network blinked) and never ignores a stop request.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { isAbortError, type Sleep } from "../util/abort.ts";
import { backoffDelay, type BackoffOptions } from "../util/backoff.ts";

/** Options for {@link withRecovery}. */
export interface RecoveryOptions {
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Attempts with backoff before the error is logged at error level (and mailed). */
  readonly maxConnRetries: number;
  /** The wait between attempts after that. */
  readonly connRetrySleepMs: number;
  readonly sleep: Sleep;
  readonly backoff?: BackoffOptions;
  /** What is being done, for the log lines ("read events after 123"). */
  readonly action: string;
}

/**
 * Run `fn` until it succeeds or `signal` aborts. Failures are warned per attempt with
 * exponential backoff; after `maxConnRetries` one error is logged and attempts continue
 * every `connRetrySleepMs`. Programmer errors (TypeError, ReferenceError, SyntaxError)
 * are not retried.
 *
 * @param fn The operation; receives the signal.
 * @param options Limits, logger and clock.
 * @returns What `fn` returned.
 * @throws The abort reason when stopped; programmer errors as they are.
 */
export async function withRecovery<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  options: RecoveryOptions,
): Promise<T> {
  const { signal, logger } = options;
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (isAbortError(error) && !isTimeout(error)) throw error;
      if (isProgrammerError(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      let wait: number;
      if (attempt < options.maxConnRetries) {
        wait = backoffDelay(attempt, options.backoff);
        logger.warn(
          "Cannot {action} (attempt {attempt} of {max}): {reason}; retrying in {wait} ms",
          { action: options.action, attempt, max: options.maxConnRetries, reason, wait },
        );
      } else {
        wait = options.connRetrySleepMs;
        const message =
          "Cannot {action} after {attempt} attempts: {reason}; retrying every {wait} ms";
        const props = { action: options.action, attempt, reason, wait };
        // One error (mailed) when the limit is reached; warnings after that.
        if (attempt === Math.max(1, options.maxConnRetries)) logger.error(message, props);
        else logger.warn(message, props);
      }
      await options.sleep(wait, signal);
    }
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof DOMException && error.name === "TimeoutError";
}

function isProgrammerError(error: unknown): boolean {
  return error instanceof TypeError && !isNetworkTypeError(error) ||
    error instanceof ReferenceError || error instanceof SyntaxError;
}

// fetch() reports network failures as TypeError; those are the site's fault, not ours.
function isNetworkTypeError(error: TypeError): boolean {
  return /fetch|network|connection|socket|dns|request/i.test(error.message);
}
