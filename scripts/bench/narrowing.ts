/**
 * Narrowed catch-up: a backlog delivered to plugins that each want one rare event type,
 * with `daemon.narrow_reads` off and on. Measures the wall time of `daemon --once`, the
 * search requests the site served, and peak RSS; checks every plugin got exactly the
 * events of its type.
 *
 * @module
 */
import { synthesizeEvent } from "../../src/sim/synth.ts";
import {
  benchDir,
  mib,
  readSummary,
  type SimLayout,
  startDaemon,
  startSimProcess,
  writeNoopPlugins,
} from "./harness.ts";

/** One run with narrowing off or on. */
export interface NarrowRun {
  readonly wallSeconds: number;
  /** `_search` requests the simulator answered during the run. */
  readonly searches: number;
  readonly peakRssMiB: number;
  /** Every plugin saw exactly the events of its type (count and id checksum). */
  readonly complete: boolean;
}

/** The scenario's result. */
export interface NarrowingResult {
  readonly scenario: string;
  readonly params: Record<string, unknown>;
  /** The share of events some plugin wants. */
  readonly wantedShare: number;
  readonly whole: NarrowRun;
  readonly narrowed: NarrowRun;
  /** whole / narrowed wall time. */
  readonly speedup: number;
}

// The simulator's two rarest types (about 4% of events each).
const types = ["Shotgun_User_Login", "Toolkit_App_Startup"];

/**
 * Run the catch-up both ways against one simulator process.
 *
 * @param options Events on the site and plugins (each wants one of two rare types).
 * @returns Both runs.
 */
export async function narrowedCatchUp(
  options: { events: number; plugins: number },
): Promise<NarrowingResult> {
  // The simulator's events are a pure function of (id, seed): work out what each type is.
  const expected = new Map(types.map((type) => [type, { count: 0, sum: 0, last: 0 }]));
  for (let id = 1; id <= options.events; id++) {
    const tally = expected.get(synthesizeEvent(id, 1, 0).event_type);
    if (tally) {
      tally.count++;
      tally.sum += id;
      tally.last = id;
    }
  }
  await using sim = await startSimProcess(options.events);
  const run = async (narrowReads: boolean): Promise<NarrowRun> => {
    await using dir = await benchDir({ url: sim.url, daemon: { narrow_reads: narrowReads } });
    const plugins = Array.from({ length: options.plugins }, (_, i) => ({
      name: `want_${String(i).padStart(2, "0")}`,
      type: types[i % types.length]!,
    }));
    for (const { name, type } of plugins) {
      // The summary is written at the type's last event.
      await writeNoopPlugins(dir, [name], {
        lastId: expected.get(type)!.last,
        matchEvents: { [type]: null },
      });
    }
    const searchesBefore = await searches(sim.url);
    await using daemon = startDaemon(dir.configFile, { once: true });
    const code = await daemon.process.exited;
    const wallSeconds = (Date.now() - daemon.startedAt) / 1000;
    const peak = await daemon.stopSampling();
    if (code !== 0) {
      throw new Error(`The daemon exited with ${code}:\n${daemon.process.output().slice(-2000)}`);
    }
    let complete = true;
    for (const { name, type } of plugins) {
      const summary = await readSummary(dir.summary(name));
      const want = expected.get(type)!;
      complete &&= summary?.count === want.count && summary.sum === want.sum;
    }
    return {
      wallSeconds: Math.round(wallSeconds * 100) / 100,
      searches: await searches(sim.url) - searchesBefore,
      peakRssMiB: mib(peak),
      complete,
    };
  };
  const whole = await run(false);
  const narrowed = await run(true);
  const wanted = [...expected.values()].reduce((n, t) => n + t.count, 0);
  return {
    scenario: `catch-up ${options.events} x ${options.plugins}, rare types, narrow_reads off/on`,
    params: { ...options, types, simLayout: "sim-process" satisfies SimLayout },
    wantedShare: Math.round(wanted / options.events * 1000) / 1000,
    whole,
    narrowed,
    speedup: Math.round(whole.wallSeconds / narrowed.wallSeconds * 10) / 10,
  };
}

async function searches(url: string): Promise<number> {
  const response = await fetch(`${url}/_sim/stats`);
  const stats = await response.json() as { byRoute: { search: number } };
  return stats.byRoute.search;
}
