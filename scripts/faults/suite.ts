/**
 * The fault scenarios at full size or scaled down (`quick`, also run by
 * tests/faults_test.ts), as named steps returning checks.
 *
 * @module
 */
import { badConfigs, badPlugins, badStateFiles } from "./bad_input.ts";
import { gapScenario } from "./gaps.ts";
import { crashLoop, hostilePages, siteRestore } from "./hostile.ts";
import type { Check } from "./harness.ts";
import { failover } from "./failover.ts";
import { killRestart } from "./kill.ts";
import { needsPostgres } from "../../src/state/postgres_testing.ts";
import { faultySite } from "./site.ts";
import { deletedLock, plantedLinks, unwritableAtStop } from "./state_file.ts";

/** One scenario of the suite. */
export interface Scenario {
  readonly name: string;
  run(): Promise<Check[]>;
}

/**
 * The scenarios.
 *
 * @param options `quick`: the scaled-down run.
 * @returns The scenarios, in the order they run.
 */
export function faultScenarios(options: { quick: boolean }): Scenario[] {
  const q = options.quick;
  // With PostgreSQL (always in CI): the HA failover under repeated SIGKILL of the leader.
  const ha: Scenario[] = needsPostgres().ignore ? [] : [{
    name: "HA failover: leader SIGKILLed while events flow",
    run: () =>
      failover({
        kills: q ? 2 : 5,
        plugins: q ? 2 : 3,
        preload: q ? 1000 : 20_000,
        rate: q ? 50 : 200,
        upMs: q ? [300, 800] : [500, 2500],
        batchSize: 100,
        leaseTimeoutMs: q ? 1500 : 10_000,
        checkTakeover: !q,
      }),
  }];
  return [
    ...ha,
    {
      name: "SIGKILL at random moments",
      run: () =>
        killRestart({
          signal: "SIGKILL",
          kills: q ? 3 : 20,
          plugins: 3,
          preload: q ? 5000 : 50_000,
          rate: q ? 50 : 200,
          upMs: q ? [300, 1200] : [300, 2500],
          batchSize: 100,
        }),
    },
    {
      name: "SIGTERM at random moments",
      run: () =>
        killRestart({
          signal: "SIGTERM",
          kills: q ? 3 : 20,
          plugins: 3,
          preload: q ? 5000 : 50_000,
          rate: q ? 50 : 200,
          upMs: q ? [300, 1200] : [300, 2500],
          batchSize: 100,
          seed: 8,
        }),
    },
    {
      name: "faulty site",
      run: () =>
        faultySite({
          faultMs: q ? 4000 : 20_000,
          outageMs: q ? 3000 : 30_000,
          stopLimitMs: q ? 10_000 : 2000,
          plugins: 3,
        }),
    },
    {
      name: "gaps",
      run: () =>
        gapScenario({
          lateCommits: q ? 5 : 100,
          lostIds: q ? 3 : 20,
          oldGaps: q ? 2 : 10,
          backlogTimeoutMs: q ? 3000 : 10_000,
          plugins: 3,
        }),
    },
    {
      name: "SIGHUP at random moments",
      run: () =>
        killRestart({
          signal: "SIGHUP",
          kills: q ? 2 : 10,
          plugins: q ? 1 : 3,
          preload: q ? 500 : 20_000,
          rate: q ? 50 : 200,
          upMs: q ? [300, 1000] : [300, 2500],
          batchSize: 100,
          seed: 9,
        }),
    },
    {
      name: "deleted lock file, second daemon",
      run: () => deletedLock({ preload: q ? 300 : 3000 }),
    },
    {
      name: "planted symlinks",
      run: () => plantedLinks({ preload: q ? 20 : 200, runs: q ? 1 : 3 }),
    },
    {
      name: "unwritable state folder at stop",
      run: () => unwritableAtStop({ preload: q ? 20 : 200 }),
    },
    { name: "hostile event pages", run: () => hostilePages() },
    { name: "site restored from an older backup", run: () => siteRestore() },
    { name: "a plugin exhausting the heap (crash loop)", run: () => crashLoop() },
    { name: "bad configs", run: () => badConfigs({ quick: q }) },
    { name: "bad state files", run: () => badStateFiles() },
    { name: "bad plugins", run: () => badPlugins({ callbackTimeout: q ? "1s" : "2s" }) },
  ];
}
