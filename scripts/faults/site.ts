/**
 * A faulty site: random 5xx, 429 with Retry-After, dropped connections, latency spikes and
 * tokens expiring every few seconds, then a full outage the daemon must ride out by
 * itself, then a second outage during which SIGTERM must stop it promptly.
 *
 * @module
 */
import { startSimulator } from "../../src/sim/mod.ts";
import { spawnSgevents } from "../../tests/helpers.ts";
import {
  auditPlugin,
  type Check,
  check,
  committedIds,
  complete,
  crashLines,
  deliveryChecks,
  occurrences,
  seeded,
  startTraffic,
  stopDaemon,
  waitUntil,
  workspace,
} from "./harness.ts";

/** Options of {@link faultySite}. */
export interface FaultySiteOptions {
  /** How long random faults last, ms. */
  readonly faultMs: number;
  /** The outage the daemon rides out while running, ms. */
  readonly outageMs: number;
  /** SIGTERM during the second outage must end the daemon within this, ms. */
  readonly stopLimitMs: number;
  readonly plugins: number;
  readonly seed?: number;
}

/**
 * Run the scenario.
 *
 * @param options Durations and plugins.
 * @returns The checks.
 */
export async function faultySite(options: FaultySiteOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const random = seeded(options.seed ?? 11);
  await using sim = await startSimulator({
    port: 0,
    preload: 500,
    tokenTtlSeconds: 3,
    seed: options.seed ?? 11,
    quiet: true,
  });
  await using ws = await workspace(sim.url);
  const names = Array.from({ length: options.plugins }, (_, i) => `rec_${i}`);
  for (const name of names) await ws.addRecorder(name);
  await ws.configure({
    daemon: {
      max_event_batch_size: 20,
      max_conn_retries: 3,
      conn_retry_sleep: "1s",
      fetch_interval: "100ms",
    },
    shotgrid: { timeout: "1s" },
  });
  const traffic = startTraffic(sim, { rate: 40, lateFraction: 0.05, lateMaxMs: 1000, random });
  let trafficStopped = false;
  await using daemon = spawnSgevents(["daemon", "-c", ws.configFile]);
  try {
    await daemon.waitFor("Loaded plugin", 30_000);
    // Random faults, tokens expiring every 2 s besides their 3 s lifetime.
    const statuses = [500, 502, 503, 504] as const;
    sim.faults.set({
      errorRate: 0.15,
      resetRate: 0.05,
      latencyJitterMs: 400,
      rateLimit: { every: 9, retryAfterSeconds: 1 },
    });
    // At least `faultMs`, and until each kind of fault has hit a few times (up to 4x as long).
    const since = Date.now();
    const enough = () => {
      const n = sim.faults.injected;
      return n.error >= 3 && n.reset >= 2 && n.rateLimit >= 2;
    };
    let tick = 0;
    while (
      Date.now() - since < options.faultMs ||
      (!enough() && Date.now() - since < 4 * options.faultMs)
    ) {
      await new Promise((r) => setTimeout(r, 500));
      sim.faults.set({ errorStatus: statuses[tick % 4]! });
      // A latency spike past the request timeout now and then.
      sim.faults.set({ latencyMs: tick % 6 === 5 ? 1500 : 0 });
      if (++tick % 4 === 0) sim.faults.expireTokens();
    }
    sim.faults.clear();
    const injected = {
      ...sim.faults.injected,
      requests: sim.stats.requests,
      auth: sim.stats.byRoute.auth,
    };
    checks.push(
      check(
        "faulty site: faults were injected",
        injected.error > 0 && injected.reset > 0 && injected.rateLimit > 0 && injected.auth > 1,
        JSON.stringify(injected),
      ),
    );

    // A full outage, ridden out without help.
    sim.faults.outage(options.outageMs);
    await new Promise((r) => setTimeout(r, options.outageMs));
    const headAfterOutage = committedIds(sim);
    const recovered = await waitUntil(
      () => complete(ws, names, headAfterOutage),
      30_000,
      daemon,
    );
    checks.push(
      check(
        `faulty site: the daemon recovered by itself after a ${options.outageMs / 1000} s outage`,
        recovered,
        `${headAfterOutage.length} events delivered to every plugin after it`,
      ),
    );

    // SIGTERM during an outage (dropped connections this time).
    sim.faults.set({ outageMode: "reset" });
    sim.faults.outage(600_000);
    await new Promise((r) => setTimeout(r, 1500));
    const { code, ms: stopMs } = await stopDaemon(daemon);
    checks.push(
      check(
        `faulty site: SIGTERM during an outage stops the daemon within ${options.stopLimitMs} ms`,
        code === 0 && stopMs <= options.stopLimitMs,
        `exit ${code} after ${stopMs} ms`,
      ),
    );
    const output = daemon.output();
    checks.push(
      check(
        "faulty site: read failures were logged and retried",
        // Whole pages ("read events after id N") and read-ahead ranges ("read events A to B").
        /Cannot "?read events (after id \d+|\d+ to \d+)/.test(output),
        `${occurrences(output, "Cannot ")} "Cannot ..." lines, e.g. ${
          output.split("\n").find((line) => line.includes("Cannot "))?.slice(0, 200)
        }`,
      ),
    );

    // Site back; restart; everything committed must arrive exactly once.
    sim.faults.clear();
    await traffic.stop();
    trafficStopped = true;
    const expected = committedIds(sim);
    await using again = spawnSgevents(["daemon", "-c", ws.configFile]);
    const delivered = await waitUntil(() => complete(ws, names, expected), 60_000, again);
    const { code: finalCode } = await stopDaemon(again);
    const crashes = crashLines(output + again.output());
    checks.push(check("faulty site: the restart delivered everything", delivered));
    checks.push(
      check("faulty site: the final stop exited 0", finalCode === 0, `exit ${finalCode}`),
    );
    checks.push(
      check("faulty site: no crash in the logs", crashes.length === 0, crashes.join(" | ")),
    );
    const audits = await Promise.all(names.map((name) => auditPlugin(ws, name, expected)));
    checks.push(...deliveryChecks(audits, 0, "faulty site"));
  } finally {
    sim.faults.clear();
    if (!trafficStopped) await traffic.stop();
  }
  return checks;
}
