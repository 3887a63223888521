/**
 * Catch-up at a real site's speed: a backlog delivered to no-op plugins by `daemon --once`
 * from a simulator that answers every request after `latency` (a real site serves a
 * 500-row page in ~330 ms), with `daemon.read_ahead` at each of several values. Serial
 * reads (read_ahead 1) cap it at batch / latency events per second whatever the plugins do.
 *
 * @module
 */
import { type SimLayout, startSimProcess } from "./harness.ts";
import { type DeliveryRun, deliveryRun } from "./throughput.ts";

/** One run at one read_ahead. */
export interface ReadAheadRun extends DeliveryRun {
  readonly readAhead: number;
  /** `_search` requests the simulator answered during the run. */
  readonly searches: number;
}

/** The scenario's result. */
export interface ReadAheadResult {
  readonly scenario: string;
  readonly params: Record<string, unknown>;
  readonly runs: readonly ReadAheadRun[];
}

/**
 * Run the catch-up once per `readAheads` value against one simulator process.
 *
 * @param options Events, plugins, the simulator's latency (ms) and the values to try.
 * @returns One run per value.
 */
export async function readAheadCatchUp(
  options: { events: number; plugins: number; latencyMs: number; readAheads: readonly number[] },
): Promise<ReadAheadResult> {
  await using sim = await startSimProcess(options.events, { latency: `${options.latencyMs}ms` });
  const runs: ReadAheadRun[] = [];
  for (const readAhead of options.readAheads) {
    // Serial pages take events / 500 * latency; allow three times what the reads need.
    const readsMs = options.events / 500 * options.latencyMs / readAhead;
    const before = await searches(sim.url);
    const run = await deliveryRun({
      url: sim.url,
      events: options.events,
      fastPlugins: options.plugins,
      daemon: { read_ahead: readAhead },
      timeoutMs: 3 * readsMs + 120_000,
    });
    runs.push({ ...run, readAhead, searches: await searches(sim.url) - before });
  }
  return {
    scenario:
      `catch-up ${options.events} x ${options.plugins}, site latency ${options.latencyMs} ms`,
    params: { ...options, batch: 500, simLayout: "sim-process" satisfies SimLayout },
    runs,
  };
}

async function searches(url: string): Promise<number> {
  const response = await fetch(`${url}/_sim/stats`);
  const stats = await response.json() as { byRoute: { search: number } };
  return stats.byRoute.search;
}
