/**
 * Kill and restart: the daemon is stopped many times at random moments while events
 * arrive (some committing late), and restarted each time. After SIGTERM or SIGHUP nothing
 * may be delivered twice; after SIGKILL at most one batch per plugin per kill (the cursor
 * is saved after each batch).
 *
 * @module
 */
import { startSimulator } from "../../src/sim/mod.ts";
import { spawnSgevents } from "../../tests/helpers.ts";
import {
  auditPlugin,
  between,
  type Check,
  check,
  committedIds,
  complete,
  crashLines,
  deliveryChecks,
  seeded,
  startTraffic,
  stopDaemon,
  waitUntil,
  workspace,
} from "./harness.ts";

/** Options of {@link killRestart}. */
export interface KillRestartOptions {
  /** SIGTERM and SIGHUP are clean stops: nothing may be delivered twice. */
  readonly signal: "SIGKILL" | "SIGTERM" | "SIGHUP";
  /** How many times the daemon is stopped. */
  readonly kills: number;
  /** Recording plugins. */
  readonly plugins: number;
  /** Events already on the site. */
  readonly preload: number;
  /** Live events per second while the daemon is killed and restarted. */
  readonly rate: number;
  /** Each stop comes this long after the daemon started (random in the range, ms). */
  readonly upMs: readonly [number, number];
  readonly batchSize: number;
  readonly seed?: number;
}

/**
 * Run the scenario.
 *
 * @param options Signal, repetitions, sizes.
 * @returns The checks.
 */
export async function killRestart(options: KillRestartOptions): Promise<Check[]> {
  const random = seeded(options.seed ?? 7);
  const label = `${options.signal} x${options.kills}`;
  const checks: Check[] = [];
  await using sim = await startSimulator({ port: 0, preload: options.preload, quiet: true });
  await using ws = await workspace(sim.url);
  const names = Array.from({ length: options.plugins }, (_, i) => `rec_${i}`);
  for (const name of names) await ws.addRecorder(name);
  await ws.configure({
    daemon: { max_event_batch_size: options.batchSize, backlog_timeout: "60s" },
  });
  const traffic = startTraffic(sim, {
    rate: options.rate,
    lateFraction: 0.05,
    lateMaxMs: 2000,
    random,
  });
  const exitCodes: number[] = [];
  let crashes: string[] = [];
  try {
    for (let i = 0; i < options.kills; i++) {
      await using daemon = spawnSgevents(["daemon", "-c", ws.configFile]);
      await new Promise((r) => setTimeout(r, between(random, options.upMs[0], options.upMs[1])));
      const { code } = await stopDaemon(daemon, { signal: options.signal });
      exitCodes.push(code ?? -1);
      crashes = crashes.concat(crashLines(daemon.output()));
    }
  } finally {
    await traffic.stop();
  }
  // Last run: no more kills; everything committed must arrive.
  const expected = committedIds(sim);
  await using daemon = spawnSgevents(["daemon", "-c", ws.configFile]);
  const delivered = await waitUntil(() => complete(ws, names, expected), 60_000, daemon);
  const { code: finalCode } = await stopDaemon(daemon);
  crashes = crashes.concat(crashLines(daemon.output()));
  checks.push(
    check(`${label}: the last run delivered everything`, delivered, `${expected.length} events`),
  );
  if (options.signal !== "SIGKILL") {
    const bad = exitCodes.filter((code) => code !== 0);
    checks.push(
      check(
        `${label}: every ${options.signal} exited 0`,
        bad.length === 0,
        `exit codes ${[...new Set(exitCodes)].join(", ")}`,
      ),
    );
  }
  checks.push(check(`${label}: the final stop exited 0`, finalCode === 0, `exit ${finalCode}`));
  checks.push(check(`${label}: no crash in the logs`, crashes.length === 0, crashes.join(" | ")));
  const audits = await Promise.all(names.map((name) => auditPlugin(ws, name, expected)));
  const bound = options.signal === "SIGKILL" ? options.kills * options.batchSize : 0;
  checks.push(...deliveryChecks(audits, bound, label));
  checks.push(
    check(
      `${label}: late commits were part of the run`,
      traffic.lateIds.length > 0,
      `${traffic.lateIds.length} late ids, ${
        audits.reduce((n, a) => n + a.extra, 0)
      } extra deliveries over all plugins`,
    ),
  );
  return checks;
}
