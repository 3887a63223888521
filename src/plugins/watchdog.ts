/**
 * The host's watchdog over a plugin Worker. A callback that runs past its timeout plus a
 * grace period without yielding (a CPU loop, an ignored signal) cannot be stopped from
 * inside its worker: only terminating the worker can. The worker writes which callback
 * runs and since when into shared memory, so watching costs no message per event.
 *
 * @module
 */
import { type Control, slot } from "./protocol.ts";

/** A callback attempt past its timeout and grace. */
export interface HungCallback {
  /** Index of the callback, in registration order. */
  readonly callbackIndex: number;
  /** Its timeout, in ms. */
  readonly timeoutMs: number;
}

/** How the watchdog watches. */
export interface WatchdogOptions {
  /** Time past a callback's timeout before it counts as hung. */
  readonly graceMs: number;
  /** Called at each check that finds the running attempt hung (the caller terminates the worker). */
  readonly onHung: (hung: HungCallback) => void;
  /** Epoch ms, the clock the worker writes attempt starts with (default `Date.now`). */
  readonly now?: () => number;
}

/**
 * Watch the attempt running in `control` until disposed.
 *
 * @param control The worker's control block.
 * @param options Grace, what to do with a hung callback, the clock.
 * @returns A handle: dispose it to stop watching.
 */
export function watchCallbacks(control: Control, options: WatchdogOptions): Disposable {
  const { ints, startedAt } = control;
  const { graceMs, onHung, now = Date.now } = options;
  const timer = setInterval(() => {
    if (Atomics.load(ints, slot.running) !== 1) return;
    const started = Number(Atomics.load(startedAt, 0));
    const timeoutMs = Atomics.load(ints, slot.timeoutMs);
    if (now() - started <= timeoutMs + graceMs) return;
    onHung({ callbackIndex: Atomics.load(ints, slot.callback), timeoutMs });
  }, Math.max(20, Math.min(1000, graceMs / 4)));
  return { [Symbol.dispose]: () => clearInterval(timer) };
}
