/**
 * Gap handling for one plugin: which ids between its cursor and the events it has
 * processed are missing, and which of those are worth waiting for.
 *
 * Ids near the newest end of a ShotGrid event log have gaps that fill when long
 * transactions commit. A gap is waited for `backlog_timeout` unless the event after it
 * is already older than that when first seen (then the id "never happened").
 * Waiting ids are looked up by id later (see backlog_resolver.ts); the cursor never moves
 * back, so a late event is delivered once and nothing after it is delivered again.
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";

/** What {@link findGaps} decided for the missing ids of a range. */
export interface GapReport {
  /** Ids to wait for. */
  readonly waiting: number[];
  /** Ids whose following event is older than the timeout: never waited for. */
  readonly neverHappened: number[];
  /** Ranges too wide to wait for id by id (a jump in the id sequence). */
  readonly skippedRanges: [number, number][];
}

/** Options for {@link findGaps}. */
export interface GapOptions {
  readonly now: number;
  readonly backlogTimeoutMs: number;
  /** A single gap wider than this is not waited for id by id (default 10 000). */
  readonly maxGap?: number;
}

/**
 * The ids in `(from, to]` absent from `events` (sorted ascending, all `> from`).
 *
 * @param from The cursor before the batch.
 * @param to The cursor after it.
 * @param events The batch's events, ascending.
 * @param options Clock and timeout.
 * @returns The waiting and never-happened ids.
 */
export function findGaps(
  from: number,
  to: number,
  events: readonly ShotGridEvent[],
  options: GapOptions,
): GapReport {
  const report: GapReport = { waiting: [], neverHappened: [], skippedRanges: [] };
  const maxGap = options.maxGap ?? 10_000;
  let previous = from;
  for (const event of events) {
    const first = previous + 1;
    const last = Math.min(event.id - 1, to);
    if (last >= first) {
      const wide = last - first + 1 > maxGap;
      const old = options.now - Date.parse(event.created_at) > options.backlogTimeoutMs;
      if (wide) report.skippedRanges.push([first, last]);
      else if (old) { for (let id = first; id <= last; id++) report.neverHappened.push(id); }
      else for (let id = first; id <= last; id++) report.waiting.push(id);
    }
    if (event.id >= to) break;
    previous = event.id;
  }
  return report;
}
