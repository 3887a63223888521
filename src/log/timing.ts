/**
 * The timing log: one record per callback run, written to `timing.log` when
 * `logging.timing` is on (and never to the console).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";

/** One callback run, as the timing log records it. */
export interface CallbackTiming {
  readonly plugin: string;
  readonly callback: string;
  readonly eventId: number;
  /** How long the callback ran. */
  readonly durationMs: number;
  /** From the event's `created_at` to the callback's end. */
  readonly delayMs: number;
  /** `false` when the callback threw or timed out. */
  readonly ok?: boolean;
}

const timingLogger = getLogger(["sgevents", "timing"]);

/**
 * Records one callback run in the timing log (a no-op unless `logging.timing` is on).
 *
 * @param timing The run's plugin, callback, event id, duration and delay.
 */
export function logCallbackTiming(timing: CallbackTiming): void {
  timingLogger.info(
    "{plugin}.{callback} event {eventId}: {durationMs} ms, {delayMs} ms after the event",
    { ...timing, ok: timing.ok ?? true },
  );
}
