/**
 * Exponential backoff with full jitter (kafkajs's default: 300 ms doubling to 30 s).
 *
 * @module
 */

/** How retries space out. */
export interface BackoffOptions {
  /** First delay in ms (default 300). */
  readonly initialMs?: number;
  /** Ceiling in ms (default 30 000). */
  readonly maxMs?: number;
  /** Multiplier per attempt (default 2). */
  readonly factor?: number;
  /** Source of randomness in [0, 1) (default Math.random). */
  readonly random?: () => number;
}

/**
 * The delay before retry number `attempt` (1-based).
 *
 * The delay is drawn between half and all of the exponential step, so concurrent
 * clients spread out while every wait still grows.
 *
 * @param attempt 1 for the first retry.
 * @param options Shape of the curve.
 * @returns Milliseconds to wait.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const { initialMs = 300, maxMs = 30_000, factor = 2, random = Math.random } = options;
  const step = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
