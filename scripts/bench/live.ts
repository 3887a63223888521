/**
 * Live-traffic scenarios, with the simulator in the bench process so that each event's
 * commit time is known exactly: delivery latency (commit to callback start) at a steady
 * rate, and the request rate to the site while gaps wait in the backlog.
 *
 * @module
 */
import { signBody } from "../../src/http/auth.ts";
import { startSimulator } from "../../src/sim/mod.ts";
import type { Simulator } from "../../src/sim/mod.ts";
import {
  benchDir,
  mib,
  percentile,
  pluginNames,
  readSummary,
  startDaemon,
  waitForSummaries,
  writeNoopPlugins,
} from "./harness.ts";

/** Latency figures of one fetch interval. */
export interface LatencyResult {
  readonly scenario: string;
  readonly params: Record<string, unknown>;
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly peakRssMiB: number;
}

/**
 * Commit `rate` events/s for `seconds` while the daemon runs; measure commit to callback
 * start for every event and plugin.
 *
 * @param options Rate, duration, plugins and `fetch_interval`.
 * @returns Percentiles of the latency.
 */
export async function latency(
  options: {
    rate: number;
    seconds: number;
    plugins: number;
    fetchInterval: string;
    /** Send a signed ShotGrid webhook delivery to the daemon after each commit. */
    webhook?: boolean;
  },
): Promise<LatencyResult> {
  const preload = 200;
  const total = Math.round(options.rate * options.seconds);
  const lastId = preload + total;
  await using sim = await startSimulator({ port: 0, preload, quiet: true });
  const secret = "bench-webhook-secret";
  await using dir = await benchDir({
    url: sim.url,
    daemon: { fetch_interval: options.fetchInterval },
    ...(options.webhook
      ? { http: { listen: "127.0.0.1:0", webhook_secret_file: "./secret" } }
      : {}),
  });
  if (options.webhook) await Deno.writeTextFile(`${dir.path}/secret`, secret);
  const names = pluginNames(options.plugins);
  await writeNoopPlugins(dir, names, { lastId, timestamps: true });
  await using daemon = startDaemon(dir.configFile);
  // The preload flushes each summary once (200 timestamps): every plugin is at the head.
  await waitForSummaries(dir, names, { lastId: preload, timeoutMs: 60_000, daemon });
  let notify: ((id: number) => void) | undefined;
  const deliveries: Promise<void>[] = [];
  if (options.webhook) {
    await daemon.process.waitFor("HTTP listening on");
    const url = /HTTP listening on "?(http:\/\/[\d.:]+)/.exec(daemon.process.output())![1]!;
    notify = (id) => {
      const body = JSON.stringify({ data: { event_log_entry_id: id } });
      deliveries.push(
        fetch(`${url}/webhook`, {
          method: "POST",
          body,
          headers: { "x-sg-signature": signBody(body, secret) },
        }).then((response) => response.body?.cancel()),
      );
    };
  }
  const committedAt = await commitSteadily(sim, options.rate, total, notify);
  await Promise.all(deliveries);
  const summaries = await waitForSummaries(dir, names, {
    lastId,
    timeoutMs: 120_000,
    daemon,
  });
  daemon.process.kill("SIGTERM");
  await daemon.process.exited;
  const peak = await daemon.stopSampling();
  const latencies: number[] = [];
  for (const summary of summaries.values()) {
    for (const [id, at] of summary.times ?? []) {
      const committed = committedAt.get(id);
      if (committed !== undefined) latencies.push(at - committed);
    }
  }
  return {
    scenario: `latency ${options.rate}/s, fetch_interval ${options.fetchInterval}${
      options.webhook ? ", a webhook per change" : ""
    }`,
    params: { ...options, simLayout: "bench-process" },
    samples: latencies.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
    peakRssMiB: mib(peak),
  };
}

/**
 * Append `total` events at `rate` per second, one at a time.
 *
 * @returns Commit time (epoch ms) by event id.
 */
async function commitSteadily(
  sim: Simulator,
  rate: number,
  total: number,
  notify?: (id: number) => void,
): Promise<Map<number, number>> {
  const committedAt = new Map<number, number>();
  const start = performance.now();
  for (let i = 0; i < total;) {
    const due = Math.min(total, Math.floor((performance.now() - start) * rate / 1000) + 1);
    for (; i < due; i++) {
      const id = sim.store.appendEvents(1);
      committedAt.set(id, Date.now());
      notify?.(id);
    }
    await new Promise((r) => setTimeout(r, Math.max(1, Math.floor(1000 / rate / 2))));
  }
  return committedAt;
}

/** Requests to the site while gaps wait. */
export interface GapRequestsResult {
  readonly scenario: string;
  readonly params: Record<string, unknown>;
  /** Requests/s with no gap. */
  readonly baselinePerSec: number;
  /** Requests/s in consecutive windows while one gap waits, then while `manyGaps` wait. */
  readonly oneGapWindows: readonly number[];
  readonly manyGapsWindows: readonly number[];
  /** Highest window during the gaps / baseline. */
  readonly ratio: number;
}

/**
 * Measure the site's request rate with a trickle of events: first without gaps, then with
 * one id that never commits, then with `manyGaps` of them.
 *
 * @param options Window length and count, plugins, fetch interval, number of gaps.
 * @returns Requests per second per window.
 */
export async function gapRequests(
  options: {
    windowSeconds: number;
    windows: number;
    plugins: number;
    fetchInterval: string;
    manyGaps: number;
  },
): Promise<GapRequestsResult> {
  const preload = 200;
  await using sim = await startSimulator({ port: 0, preload, quiet: true });
  await using dir = await benchDir({
    url: sim.url,
    daemon: { fetch_interval: options.fetchInterval, backlog_timeout: "5m" },
  });
  const names = pluginNames(options.plugins);
  await writeNoopPlugins(dir, names, { lastId: preload });
  await using daemon = startDaemon(dir.configFile);
  await waitForSummaries(dir, names, { lastId: preload, timeoutMs: 60_000, daemon });
  const trickle = setInterval(() => sim.store.appendEvents(1), 100);
  try {
    const measure = async () => {
      const rates: number[] = [];
      for (let w = 0; w < options.windows; w++) {
        const before = sim.stats.requests;
        await new Promise((r) => setTimeout(r, options.windowSeconds * 1000));
        rates.push(round((sim.stats.requests - before) / options.windowSeconds));
      }
      return rates;
    };
    const baseline = await measure();
    sim.store.allocateLostIds(1);
    sim.store.appendEvents(1);
    const oneGap = await measure();
    for (let i = 0; i < options.manyGaps; i++) {
      sim.store.allocateLostIds(1);
      sim.store.appendEvents(1);
    }
    const manyGaps = await measure();
    const summary = await readSummary(dir.summary(names[0]!));
    if (!summary) throw new Error("The plugins wrote no summary");
    const baselinePerSec = round(baseline.reduce((a, b) => a + b, 0) / baseline.length);
    return {
      scenario: `requests/s while gaps wait (${options.plugins} plugins)`,
      params: { ...options, simLayout: "bench-process", trickle: "10 events/s" },
      baselinePerSec,
      oneGapWindows: oneGap,
      manyGapsWindows: manyGaps,
      ratio: round(Math.max(...oneGap, ...manyGaps) / Math.max(baselinePerSec, 0.01)),
    };
  } finally {
    clearInterval(trickle);
    daemon.process.kill("SIGTERM");
    await daemon.process.exited;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
