/**
 * The cost of running one callback in a plugin Worker, apart from the callback's own work:
 * a plugin's tenant (worker_tenant.ts) in this thread delivers batches of frozen events to
 * a callback that only adds up ids. What it measures is the batch loop, the control-block
 * writes the watchdog and the host read, the context and the clock reads, per callback.
 *
 * @module
 */
import { event, inThreadTenant } from "../../src/plugins/test_helpers.ts";

/** Nanoseconds per callback, per round (the first rounds include the JIT's warm-up). */
export interface CallbackCostResult {
  readonly scenario: string;
  readonly callbacks: number;
  readonly nsPerCallback: readonly number[];
  readonly median: number;
}

/**
 * Run `rounds` rounds of `batches` batches of 500 events through one tenant.
 *
 * @param options Rounds and batches per round.
 * @returns The cost per callback of each round and their median.
 */
export async function callbackCost(
  options: { rounds: number; batches: number },
): Promise<CallbackCostResult> {
  const busy = new Int32Array(new SharedArrayBuffer(8));
  const source = `export function registerCallbacks(reg) {
    reg.registerCallback("s", "k", function onEvent(sg, logger, event) {
      globalThis.sum = (globalThis.sum | 0) + event.id;
    }, null, {}, true);
  }`;
  const { tenant } = await inThreadTenant(`data:text/javascript,${encodeURIComponent(source)}`, {
    post: () => {},
    // As worker_main.ts does: who runs now, and a heartbeat per callback returned.
    running: (tenant) => {
      Atomics.store(busy, 0, tenant === null ? 0 : tenant + 1);
      if (tenant === null) Atomics.add(busy, 1, 1);
    },
  });
  const events = Array.from({ length: 500 }, (_, i) => Object.freeze(event(i + 1)));
  const nsPerCallback: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const started = performance.now();
    for (let batch = 0; batch < options.batches; batch++) {
      await tenant.deliver(batch, events, { resume: null, timing: false });
    }
    const ms = performance.now() - started;
    nsPerCallback.push(Math.round(ms * 1e6 / (options.batches * events.length)));
  }
  const sorted = [...nsPerCallback].sort((a, b) => a - b);
  return {
    scenario: "callback cost (no-op callback, in-thread tenant)",
    callbacks: options.rounds * options.batches * events.length,
    nsPerCallback,
    median: sorted[Math.floor(sorted.length / 2)]!,
  };
}
