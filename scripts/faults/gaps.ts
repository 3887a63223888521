/**
 * Gaps in event ids: late commits within the backlog timeout (each delivered once), ids
 * that never commit (they expire: "Timeout elapsed on backlog event id N"), and gaps
 * already older than the timeout when first seen ("Event N never happened - ignoring").
 *
 * @module
 */
import { startSimulator, type Transaction } from "../../src/sim/mod.ts";
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
  occurrences,
  seeded,
  stopDaemon,
  waitUntil,
  workspace,
} from "./harness.ts";

/** Options of {@link gapScenario}. */
export interface GapOptions {
  /** Transactions that commit late, within the timeout. */
  readonly lateCommits: number;
  /** Ids that never commit. */
  readonly lostIds: number;
  /** Ids missing since before the timeout when the daemon first sees them. */
  readonly oldGaps: number;
  readonly backlogTimeoutMs: number;
  readonly plugins: number;
  readonly seed?: number;
}

/**
 * Run the scenario.
 *
 * @param options Counts, timeout, plugins.
 * @returns The checks.
 */
export async function gapScenario(options: GapOptions): Promise<Check[]> {
  const random = seeded(options.seed ?? 5);
  const checks: Check[] = [];
  const timeout = options.backlogTimeoutMs;
  await using sim = await startSimulator({ port: 0, preload: 50, quiet: true });
  await using ws = await workspace(sim.url);
  const names = Array.from({ length: options.plugins }, (_, i) => `rec_${i}`);
  for (const name of names) await ws.addRecorder(name);
  await ws.configure({
    daemon: { backlog_timeout: `${timeout}ms`, fetch_interval: "200ms" },
  });

  // Old gaps: missing ids followed by events that are older than the timeout at start.
  const oldIds: number[] = [];
  for (let i = 0; i < options.oldGaps; i++) {
    oldIds.push(...sim.store.allocateLostIds(1));
    sim.store.appendEvents(2);
  }
  // created_at has whole seconds; wait past the timeout plus that rounding.
  await new Promise((r) => setTimeout(r, timeout + 1100));

  await using daemon = spawnSgevents(["daemon", "-c", ws.configFile]);
  // The live gaps start once every lane is at the head: a daemon still starting when they
  // are made (a busy machine) would first see them older than the timeout, and rightly
  // call them "never happened" instead of waiting for them.
  const caughtUp = await waitUntil(() => complete(ws, names, committedIds(sim)), 60_000, daemon);
  checks.push(check("gaps: the daemon caught up with the log before the live gaps", caughtUp));
  const lostIds: number[] = [];
  const lateIds: number[] = [];
  const commits: Promise<void>[] = [];
  // Spread the live gaps over half the timeout; each late commit lands within 70 % of it.
  const steps = options.lateCommits + options.lostIds;
  const order = Array.from({ length: steps }, (_, i) => i < options.lateCommits);
  order.sort(() => random() - 0.5);
  for (const late of order) {
    if (late) {
      const tx: Transaction = sim.store.begin();
      // A distinct value each time: writing an unchanged value logs no event.
      tx.update("Shot", between(random, 1, 20), {
        description: `late ${lateIds.length} ${random()}`,
      });
      const wait = between(random, Math.round(timeout * 0.1), Math.round(timeout * 0.6));
      commits.push(
        new Promise((resolve) =>
          setTimeout(() => {
            tx.commit();
            lateIds.push(...tx.ids);
            resolve();
          }, wait)
        ),
      );
    } else {
      lostIds.push(...sim.store.allocateLostIds(1));
    }
    sim.store.appendEvents(1);
    await new Promise((r) => setTimeout(r, Math.max(5, (timeout * 0.5) / steps)));
  }
  await Promise.all(commits);
  const expected = committedIds(sim);
  const timeoutLine = (id: number) => `Timeout elapsed on backlog event id ${id} `;
  const ignoredLine = (id: number) => `Event ${id} never happened - ignoring`;
  // A lane that reads a gap only once the event after it is older than the timeout (its
  // poll delayed that long) rightly ignores it at once instead of expiring it later.
  const settledFor = (output: string, id: number) =>
    occurrences(output, timeoutLine(id)) + occurrences(output, ignoredLine(id)) >= names.length;
  const settled = await waitUntil(
    async () =>
      await complete(ws, names, expected) &&
      lostIds.every((id) => settledFor(daemon.output(), id)),
    timeout + 30_000,
    daemon,
  );
  const { code } = await stopDaemon(daemon);
  const output = daemon.output();
  checks.push(check("gaps: every committed event arrived, lost ids expired", settled));
  checks.push(check("gaps: the daemon stopped with exit 0", code === 0, `exit ${code}`));
  const crashes = crashLines(output);
  checks.push(check("gaps: no crash in the logs", crashes.length === 0, crashes.join(" | ")));
  const audits = await Promise.all(names.map((name) => auditPlugin(ws, name, expected)));
  checks.push(...deliveryChecks(audits, 0, "gaps"));
  const unlogged = (ids: number[], line: (id: number) => string) =>
    ids.filter((id) => occurrences(output, line(id)) < names.length);
  const unsettled = lostIds.filter((id) => !settledFor(output, id));
  const expired = lostIds.reduce((n, id) => n + occurrences(output, timeoutLine(id)), 0);
  checks.push(
    check(
      `gaps: ${lostIds.length} ids that never commit expired with "Timeout elapsed on backlog event id N"`,
      unsettled.length === 0,
      unsettled.length
        ? `not logged for every plugin: ${unsettled.join(", ")}`
        : `${expired} of ${lostIds.length * names.length} expired, the rest read late and ignored`,
    ),
  );
  const notIgnored = unlogged(oldIds, ignoredLine);
  checks.push(
    check(
      `gaps: ${oldIds.length} gaps older than the timeout logged "Event N never happened - ignoring"`,
      notIgnored.length === 0,
      notIgnored.length ? `not logged for every plugin: ${notIgnored.join(", ")}` : "",
    ),
  );
  const fromBacklog = lateIds.filter((id) =>
    occurrences(output, `Processed id ${id} from backlog`) > 0
  );
  checks.push(
    check(
      `gaps: ${lateIds.length} late-committed ids delivered once each`,
      lateIds.length > 0 && audits.every((a) => lateIds.every((id) => !a.duplicates.includes(id))),
      `${fromBacklog.length} of them through the backlog`,
    ),
  );
  return checks;
}
