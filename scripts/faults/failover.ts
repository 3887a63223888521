/**
 * Failover: two daemons on one PostgreSQL state (`SGEVENTS_TEST_PG_URL`), the leader
 * SIGKILLed again and again while events arrive (some committing late); each time the
 * standby must take over, and the killed one comes back as the new standby. Every plugin
 * must end with every committed id, repeats within one batch per failover. Takeover time
 * (kill to the standby's "Leading") is measured; the full run checks it stays within
 * `lease_timeout` + 5 s.
 *
 * @module
 */
import { startSimulator } from "../../src/sim/mod.ts";
import { testPostgresUrl, uniqueName } from "../../src/state/postgres_testing.ts";
import { type DaemonProcess, spawnSgevents } from "../../tests/helpers.ts";
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

/** Options of {@link failover}. */
export interface FailoverOptions {
  readonly kills: number;
  readonly plugins: number;
  readonly preload: number;
  /** Live events per second. */
  readonly rate: number;
  /** Each kill comes this long after the last takeover (random in the range, ms). */
  readonly upMs: readonly [number, number];
  readonly batchSize: number;
  readonly leaseTimeoutMs: number;
  /** Check the takeover time (the full run; the quick one only reports it). */
  readonly checkTakeover: boolean;
  readonly seed?: number;
}

/**
 * Run the scenario.
 *
 * @param options Repetitions, sizes, lease.
 * @returns The checks.
 */
export async function failover(options: FailoverOptions): Promise<Check[]> {
  const label = `failover x${options.kills}`;
  if (testPostgresUrl === null) {
    return [check(`${label}: needs PostgreSQL`, false, "SGEVENTS_TEST_PG_URL is not set")];
  }
  const random = seeded(options.seed ?? 11);
  await using sim = await startSimulator({ port: 0, preload: options.preload, quiet: true });
  await using ws = await workspace(sim.url);
  const names = Array.from({ length: options.plugins }, (_, i) => `rec_${i}`);
  for (const name of names) await ws.addRecorder(name);
  const daemonName = uniqueName("failover");
  await ws.configure({
    daemon: {
      state_url: testPostgresUrl,
      name: daemonName,
      lease_timeout: `${options.leaseTimeoutMs}ms`,
      max_event_batch_size: options.batchSize,
      backlog_timeout: "60s",
    },
    logging: { dir: null },
  });
  const leading = `Leading daemon ${daemonName}`;
  const standingBy = `Standby for daemon ${daemonName}`;
  const spawn = () => spawnSgevents(["daemon", "-c", ws.configFile]);
  const traffic = startTraffic(sim, {
    rate: options.rate,
    lateFraction: 0.05,
    lateMaxMs: 2000,
    random,
  });
  const takeovers: number[] = [];
  let crashes: string[] = [];
  const all: DaemonProcess[] = [];
  let leader = spawn();
  all.push(leader);
  let standby: DaemonProcess;
  try {
    await leader.waitFor(leading, 60_000);
    standby = spawn();
    all.push(standby);
    await standby.waitFor(standingBy, 60_000);
    for (let i = 0; i < options.kills; i++) {
      await new Promise((r) => setTimeout(r, between(random, options.upMs[0], options.upMs[1])));
      const killedAt = performance.now();
      leader.kill("SIGKILL");
      await leader.exited;
      crashes = crashes.concat(crashLines(leader.output()));
      await standby.waitFor(leading, 60_000);
      takeovers.push(Math.round(performance.now() - killedAt));
      leader = standby;
      standby = spawn();
      all.push(standby);
      await standby.waitFor(standingBy, 60_000);
    }
  } finally {
    await traffic.stop();
  }
  const expected = committedIds(sim);
  const delivered = await waitUntil(() => complete(ws, names, expected), 60_000, leader);
  const codes = [(await stopDaemon(standby)).code, (await stopDaemon(leader)).code];
  for (const daemon of all) await daemon[Symbol.asyncDispose]();
  crashes = crashes.concat(crashLines(leader.output()), crashLines(standby.output()));
  const checks: Check[] = [
    check(`${label}: every committed event delivered`, delivered, `${expected.length} events`),
    check(`${label}: both daemons stopped cleanly`, codes.every((c) => c === 0), `${codes}`),
    check(`${label}: no crash in the logs`, crashes.length === 0, crashes.join(" | ")),
  ];
  const worst = Math.max(...takeovers);
  const figures = `takeovers ${
    takeovers.join(", ")
  } ms (worst ${worst}, lease ${options.leaseTimeoutMs})`;
  checks.push(
    check(
      `${label}: the standby took over each time${
        options.checkTakeover ? " within lease_timeout + 5 s" : ""
      }`,
      takeovers.length === options.kills &&
        (!options.checkTakeover || worst <= options.leaseTimeoutMs + 5000),
      figures,
    ),
  );
  const audits = await Promise.all(names.map((name) => auditPlugin(ws, name, expected)));
  checks.push(...deliveryChecks(audits, options.kills * options.batchSize, label));
  checks.push(
    check(
      `${label}: late commits were part of the run`,
      traffic.lateIds.length > 0,
      `${traffic.lateIds.length} late ids`,
    ),
  );
  return checks;
}
