/**
 * Riding out trouble: every read the engine makes, and every step of a lane, goes through
 * {@link withRecovery}, which never ignores a stop request and never lets the daemon exit
 * because the network blinked. What is worth retrying is decided by the one policy,
 * `isRetriable` (util/retriable.ts):
 *
 * - a retriable fault (network, timeout, 429, 5xx, a page of bad ids) is retried with
 *   backoff, warned per attempt, then reported once as an error (mailed) and tried every
 *   `conn_retry_sleep`;
 * - anything else (a 403, a refused filter, a bug) cannot succeed by trying again soon:
 *   it is reported at once as an error with the reason, then tried only every
 *   `conn_retry_sleep` (an operator may fix permissions; a daemon that exited would need
 *   a restart by hand).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { isAbortError, type Sleep } from "../util/abort.ts";
import { backoffDelay, type BackoffOptions } from "../util/backoff.ts";
import { isRetriable } from "../util/retriable.ts";

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
 * Run `fn` until it succeeds or `signal` aborts. Retriable failures are warned per attempt
 * with exponential backoff; after `maxConnRetries` one error is logged and attempts go on
 * every `connRetrySleepMs`. A failure that is not retriable is logged as an error at once
 * and tried again only every `connRetrySleepMs`.
 *
 * @param fn The operation; receives the signal.
 * @param options Limits, logger and clock.
 * @returns What `fn` returned.
 * @throws The abort reason when stopped.
 */
export async function withRecovery<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  options: RecoveryOptions,
): Promise<T> {
  const { signal, logger } = options;
  let reported = false;
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (isAbortError(error) && !isTimeout(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      let wait: number;
      if (!isRetriable(error)) {
        wait = options.connRetrySleepMs;
        const props = { action: options.action, attempt, reason, wait, stack: stackOf(error) };
        const message =
          "Cannot {action}: {reason} (not a passing fault: fix the cause; trying again every {wait} ms)";
        // Reported once (mailed); the slow attempts after it only warn.
        if (!reported) logger.error(message + "{stack}", props);
        else logger.warn(message, props);
        reported = true;
      } else if (attempt < options.maxConnRetries) {
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
        if (!reported && attempt >= Math.max(1, options.maxConnRetries)) {
          logger.error(message, props);
          reported = true;
        } else logger.warn(message, props);
      }
      await options.sleep(wait, signal);
    }
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof DOMException && error.name === "TimeoutError";
}

// Our own bugs get their stack in the report; a site's refusal is said in its message.
function stackOf(error: unknown): string {
  const bug = error instanceof TypeError || error instanceof ReferenceError ||
    error instanceof SyntaxError || error instanceof RangeError;
  return bug && error.stack ? `\n${error.stack}` : "";
}
