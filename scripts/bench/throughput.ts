/**
 * Throughput scenarios: a preloaded backlog delivered to N no-op plugins (events/s end to
 * end, callbacks/s), the 1,000,000-event catch-up (time, peak RSS), and one slow plugin
 * beside fast ones (the fast ones' throughput against the same run without it).
 *
 * @module
 */
import {
  benchDir,
  median,
  mib,
  type NoopSummary,
  pluginNames,
  type SimLayout,
  startDaemon,
  startSimProcess,
  waitForSummaries,
  writeNoopPlugins,
} from "./harness.ts";

/** Figures of one delivery run. */
export interface DeliveryRun {
  /** Events / (last callback start - first callback start), across all fast plugins. */
  readonly eventsPerSec: number;
  /** Callbacks of the fast plugins per second over the same span. */
  readonly callbacksPerSec: number;
  /** Events / (daemon spawn to the last plugin done): includes start-up and loading. */
  readonly wallEventsPerSec: number;
  readonly wallSeconds: number;
  readonly peakRssMiB: number;
  /** Every fast plugin saw each event exactly once (count and id checksum). */
  readonly complete: boolean;
}

/** Options of {@link deliveryRun}. */
export interface DeliveryRunOptions {
  readonly url: string;
  /** Events on the site (ids 1..events). */
  readonly events: number;
  readonly fastPlugins: number;
  /** Plugins sleeping `slowDelayMs` per event beside the fast ones. */
  readonly slowPlugins?: number;
  readonly slowDelayMs?: number;
  /** Extra `deno run` flags for the daemon (profiling). */
  readonly denoArgs?: readonly string[];
  readonly timeoutMs?: number;
  /** `daemon` config keys besides the bench defaults (`read_ahead`...). */
  readonly daemon?: Record<string, unknown>;
}

/**
 * Deliver ids 1..events to the plugins with the real daemon. Without slow plugins it runs
 * `daemon --once` (exits when caught up); with them it runs until the fast plugins are
 * done, then SIGTERM.
 *
 * @param options Site, sizes, plugins.
 * @returns The run's figures.
 */
export async function deliveryRun(options: DeliveryRunOptions): Promise<DeliveryRun> {
  const slow = options.slowPlugins ?? 0;
  await using dir = await benchDir({
    url: options.url,
    ...(options.daemon ? { daemon: options.daemon } : {}),
  });
  const fast = pluginNames(options.fastPlugins, "fast");
  await writeNoopPlugins(dir, fast, { lastId: options.events });
  if (slow > 0) {
    await writeNoopPlugins(dir, pluginNames(slow, "slow"), {
      lastId: options.events,
      delayMs: options.slowDelayMs ?? 1000,
    });
  }
  await using daemon = startDaemon(dir.configFile, {
    once: slow === 0,
    ...(options.denoArgs ? { denoArgs: options.denoArgs } : {}),
  });
  const summaries = await waitForSummaries(dir, fast, {
    lastId: options.events,
    timeoutMs: options.timeoutMs ?? 600_000,
    daemon,
  });
  const doneAt = Date.now();
  if (slow > 0) daemon.process.kill("SIGTERM");
  const code = await daemon.process.exited;
  const peak = await daemon.stopSampling();
  if (code !== 0) {
    throw new Error(`The daemon exited with ${code}:\n${daemon.process.output().slice(-2000)}`);
  }
  return figures([...summaries.values()], options.events, {
    wallSeconds: (doneAt - daemon.startedAt) / 1000,
    peakRss: peak,
  });
}

function figures(
  summaries: readonly NoopSummary[],
  events: number,
  extra: { wallSeconds: number; peakRss: number },
): DeliveryRun {
  const first = Math.min(...summaries.map((s) => s.firstAt));
  const last = Math.max(...summaries.map((s) => s.lastAt));
  const span = Math.max(1, last - first) / 1000;
  const expectedSum = events * (events + 1) / 2;
  return {
    eventsPerSec: Math.round(events / span),
    callbacksPerSec: Math.round(events * summaries.length / span),
    wallEventsPerSec: Math.round(events / extra.wallSeconds),
    wallSeconds: Math.round(extra.wallSeconds * 100) / 100,
    peakRssMiB: mib(extra.peakRss),
    complete: summaries.every((s) => s.count === events && s.sum === expectedSum),
  };
}

/** Result of a scenario of several runs. */
export interface ThroughputResult {
  readonly scenario: string;
  readonly params: Record<string, unknown>;
  /** Medians over the runs. */
  readonly median: DeliveryRun;
  readonly runs: readonly DeliveryRun[];
}

function medianRun(runs: readonly DeliveryRun[]): DeliveryRun {
  const pick = (key: keyof Omit<DeliveryRun, "complete">) => median(runs.map((r) => r[key]));
  return {
    eventsPerSec: pick("eventsPerSec"),
    callbacksPerSec: pick("callbacksPerSec"),
    wallEventsPerSec: pick("wallEventsPerSec"),
    wallSeconds: pick("wallSeconds"),
    peakRssMiB: pick("peakRssMiB"),
    complete: runs.every((r) => r.complete),
  };
}

const layout: SimLayout = "sim-process";

/**
 * `events` × `plugins` no-op plugins, `runs` times, simulator in its own process.
 *
 * @param options Sizes and repetitions.
 * @returns Medians and each run.
 */
export async function throughput(
  options: { events: number; plugins: number; runs: number; denoArgs?: readonly string[] },
): Promise<ThroughputResult> {
  await using sim = await startSimProcess(options.events);
  const runs: DeliveryRun[] = [];
  for (let i = 0; i < options.runs; i++) {
    runs.push(
      await deliveryRun({
        url: sim.url,
        events: options.events,
        fastPlugins: options.plugins,
        ...(options.denoArgs ? { denoArgs: options.denoArgs } : {}),
      }),
    );
  }
  return {
    scenario: `throughput ${options.events} x ${options.plugins}`,
    params: { ...options, batch: 500, simLayout: layout, mode: "daemon --once" },
    median: medianRun(runs),
    runs,
  };
}

/** The slow-plugin scenario's result. */
export interface SlowPluginResult {
  readonly scenario: string;
  readonly params: Record<string, unknown>;
  /** The fast plugins alone. */
  readonly unloaded: DeliveryRun;
  /** The same fast plugins beside the slow one. */
  readonly loaded: DeliveryRun;
  /** loaded / unloaded events per second of the fast plugins. */
  readonly ratio: number;
}

/**
 * `fast` fast plugins with and without one plugin that takes `slowDelayMs` per event.
 *
 * @param options Sizes and repetitions (medians of `runs`).
 * @returns Both figures and their ratio.
 */
export async function slowPlugin(
  options: { events: number; fast: number; slowDelayMs: number; runs: number },
): Promise<SlowPluginResult> {
  await using sim = await startSimProcess(options.events);
  const unloaded: DeliveryRun[] = [];
  const loaded: DeliveryRun[] = [];
  for (let i = 0; i < options.runs; i++) {
    const base = { url: sim.url, events: options.events, fastPlugins: options.fast };
    unloaded.push(await deliveryRun(base));
    loaded.push(
      await deliveryRun({ ...base, slowPlugins: 1, slowDelayMs: options.slowDelayMs }),
    );
  }
  const u = medianRun(unloaded);
  const l = medianRun(loaded);
  return {
    scenario: `1 slow (${options.slowDelayMs} ms/event) + ${options.fast} fast`,
    params: { ...options, simLayout: layout, mode: "daemon until the fast plugins are done" },
    unloaded: u,
    loaded: l,
    ratio: Math.round(l.eventsPerSec / u.eventsPerSec * 100) / 100,
  };
}
