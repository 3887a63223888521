/**
 * Where a replay's events come from: the site, read by id range (or by id, for a retry of
 * failed events), one batch at a time from the replay's own position. Nothing here waits
 * for missing ids: an id in the range that the site does not have is simply not replayed.
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";
import type { Replay } from "../state/state_file.ts";
import type { EventSource } from "./types.ts";

/** One batch of a replay. */
export interface ReplayBatch {
  /** The events found, ascending, all within `replay.next..scannedTo`. */
  readonly events: readonly ShotGridEvent[];
  /** The highest id this batch accounts for: once its events are done, the replay goes on after it. */
  readonly scannedTo: number;
}

/** Reads a replay's next batch. */
export interface ReplayReader {
  next(replay: Replay, signal: AbortSignal): Promise<ReplayBatch>;
}

/** What {@link sourceReplayReader} reads through. */
export interface ReplayReaderOptions {
  readonly batchSize: number;
  /** Wraps each read (the engine's recovery loop: retries while the site is away). */
  readonly fetch: <T>(action: string, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;
}

/**
 * A {@link ReplayReader} over an {@link EventSource}.
 *
 * @param source The site.
 * @param options Batch size and the read wrapper.
 * @returns The reader.
 */
export function sourceReplayReader(
  source: EventSource,
  options: ReplayReaderOptions,
): ReplayReader {
  const { batchSize, fetch } = options;
  return {
    async next(replay) {
      if (replay.ids) {
        const ids = replay.ids.filter((id) => id >= replay.next).slice(0, batchSize);
        if (ids.length === 0) return { events: [], scannedTo: replay.to };
        const found = await fetch(
          `read events ${ids[0]} to ${ids[ids.length - 1]} to retry`,
          (signal) => source.byIds(ids, signal),
        );
        return { events: [...found].sort((a, b) => a.id - b.id), scannedTo: ids[ids.length - 1]! };
      }
      const page = await fetch(
        `read events after ${replay.next - 1} to replay`,
        (signal) => source.after(replay.next - 1, batchSize, signal),
      );
      const last = page[page.length - 1]?.id;
      // A full page may stop short of the range's end: the next batch starts after it.
      const scannedTo = page.length >= batchSize && last !== undefined && last < replay.to
        ? last
        : replay.to;
      return { events: page.filter((event) => event.id <= scannedTo), scannedTo };
    },
  };
}
