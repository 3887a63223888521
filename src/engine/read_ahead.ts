/**
 * Read-ahead for lanes behind the head (`daemon.read_ahead`): a site answers a page in about
 * 330 ms, so pages read one after another cap a catch-up at ~1,500 events/s whatever the
 * plugins do. While behind, a lane's next ids are read as several disjoint id ranges at
 * once, and handed out in id order as if read one page after another.
 *
 * A page "after X" can only be asked for once X is known, so concurrent requests are for
 * ranges `after < id <= upTo` (blocks of `span` ids, aligned so lanes share them), each with
 * `limit`: a full answer means the range continues, and the rest of the range is read
 * before any later range's events are handed out. A range is complete once read through to
 * its bound. Within one range a lane at X sees exactly what a page read "after X" (bounded
 * above) would have seen when the range was read, as a prefetched page does. Across ranges
 * the ids between a lane's cursor and the next range were read earlier than that range, so
 * an id missing there may have committed in between: the lane passes over them to the next
 * range's events only where no gap can still fill, i.e. when the event that follows them
 * was already older than `backlog_timeout` when the earliest of those ranges was read. Those
 * ids are then exactly the ones the gap rules (see backlog.ts) call "never happened"
 * (judged at that same earlier time); anywhere else, at a young gap or at the head of the
 * log, the lane reads an ordinary page after its cursor instead, as without read-ahead. So
 * the backlog and "never happened" rules hold unchanged, and at the head a caught-up lane
 * still reads one page per `fetch_interval`.
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";
import type { Clock } from "../util/abort.ts";
import type { EventSource } from "./types.ts";

/** Options for {@link ReadAhead}. */
export interface ReadAheadOptions {
  /** `limit` of each request (`max_event_batch_size`). */
  readonly batchSize: number;
  /** Ranges read at once ahead of a lane (`daemon.read_ahead`, at least 2 to be useful). */
  readonly depth: number;
  /** Ids per range (default `batchSize`: one request per range on a log without gaps). */
  readonly span?: number;
  /** Runs each request until it succeeds; aborts with the engine. */
  readonly fetch: <T>(action: string, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;
  readonly clock: Clock;
  /** `daemon.backlog_timeout`: how old an event must be before the ids below it are settled. */
  readonly backlogTimeoutMs: number;
  /** Finished ranges kept for lanes that come later (default `2 * depth`, at least 8). */
  readonly capacity?: number;
}

/** Events handed out from ranges read ahead. */
export interface RangePage {
  /** The next events above the lane's cursor, ascending, at most `batchSize`. */
  readonly events: readonly ShotGridEvent[];
  /** When the earliest range they were found across was read (epoch ms): gaps are judged then. */
  readonly fetchedAt: number;
}

interface Range {
  /** Ids `lo < id <= hi`. */
  readonly lo: number;
  readonly hi: number;
  readonly startedAt: number;
  /** Every event of the range, ascending, once read through to `hi`. */
  readonly promise: Promise<readonly ShotGridEvent[]>;
  done: boolean;
}

/** Concurrent, id-ordered reads of the ranges ahead of lanes that are behind. */
export class ReadAhead {
  #source: EventSource;
  #options: ReadAheadOptions;
  #span: number;
  /** By `lo`, in order of last use (eviction order). */
  #ranges = new Map<number, Range>();
  #requests = 0;
  #inFlight = 0;
  #maxInFlight = 0;

  /**
   * @param source Where events come from.
   * @param options Batch size, depth, fetch wrapper, clock.
   * @throws {RangeError} When `depth` or `span` is not a positive integer.
   */
  constructor(source: EventSource, options: ReadAheadOptions) {
    const span = options.span ?? options.batchSize;
    for (const [name, value] of [["depth", options.depth], ["span", span]] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`Cannot read ahead: ${name} "${value}" is not a positive integer`);
      }
    }
    this.#source = source;
    this.#options = options;
    this.#span = span;
  }

  /** Range requests made so far. */
  get requests(): number {
    return this.#requests;
  }

  /** The most range requests that were in flight at once (for tests and benchmarks). */
  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  /**
   * The events after `after` from ranges read ahead, or null when no range holds any
   * (then the lane reads an ordinary page).
   *
   * @param after The lane's cursor.
   * @returns The events and when they were read, or null.
   */
  async page(after: number): Promise<RangePage | null> {
    let range = this.#covering(after);
    let fetchedAt = Infinity;
    let stitched = false;
    // Each next range starts where the previous one ended, so no id is passed over unread.
    while (range) {
      this.#touch(range);
      const events = await range.promise;
      fetchedAt = Math.min(fetchedAt, range.startedAt);
      const from = firstAbove(events, after);
      if (from < events.length) {
        if (stitched && !this.#settled(events[from]!, fetchedAt)) return null;
        return { events: events.slice(from, from + this.#options.batchSize), fetchedAt };
      }
      stitched = true;
      range = this.#ranges.get(range.hi) ?? null;
    }
    return null;
  }

  /**
   * Keep `depth` ranges read ahead of a lane whose cursor will be at `position`.
   *
   * @param position Where the lane goes on from (the last id of the page it was handed).
   */
  extend(position: number): void {
    const span = this.#span;
    const block = Math.floor(position / span);
    if (!this.#covering(position)) this.#start(position, (block + 1) * span);
    for (let i = 1; i < this.#options.depth; i++) {
      const lo = (block + i) * span;
      if (!this.#ranges.has(lo)) this.#start(lo, lo + span);
    }
    this.#evict();
  }

  /** Whether no id below `next` can still commit, seen from `at` (as findGaps judges it). */
  #settled(next: ShotGridEvent, at: number): boolean {
    return at - Date.parse(next.created_at) > this.#options.backlogTimeoutMs;
  }

  #covering(after: number): Range | null {
    for (const range of this.#ranges.values()) {
      if (range.lo <= after && after < range.hi) return range;
    }
    return null;
  }

  #touch(range: Range): void {
    this.#ranges.delete(range.lo);
    this.#ranges.set(range.lo, range);
  }

  #start(lo: number, hi: number): void {
    const range: Range = {
      lo,
      hi,
      startedAt: this.#options.clock(),
      promise: this.#read(lo, hi),
      done: false,
    };
    range.promise.then(() => range.done = true, () => {
      // Only an abort gets here: later callers must not be handed a failed read.
      if (this.#ranges.get(lo) === range) this.#ranges.delete(lo);
    });
    this.#ranges.set(lo, range);
  }

  async #read(lo: number, hi: number): Promise<readonly ShotGridEvent[]> {
    const { batchSize, fetch } = this.#options;
    const events: ShotGridEvent[] = [];
    let after = lo;
    // A full answer means the range continues: read on to its bound before it is used.
    while (after < hi) {
      const page = await this.#request(after, hi, fetch);
      events.push(...page);
      if (page.length < batchSize) break;
      after = page[page.length - 1]!.id;
    }
    return events;
  }

  async #request(
    after: number,
    upTo: number,
    fetch: ReadAheadOptions["fetch"],
  ): Promise<ShotGridEvent[]> {
    this.#requests++;
    this.#maxInFlight = Math.max(this.#maxInFlight, ++this.#inFlight);
    try {
      return await fetch(
        `read events ${after + 1} to ${upTo}`,
        (signal) => this.#source.within({ after, upTo }, this.#options.batchSize, signal),
      );
    } finally {
      this.#inFlight--;
    }
  }

  #evict(): void {
    const capacity = this.#options.capacity ?? Math.max(8, 2 * this.#options.depth);
    for (const [lo, range] of this.#ranges) {
      if (this.#ranges.size <= capacity) break;
      if (range.done) this.#ranges.delete(lo);
    }
  }
}

/** The index of the first event with an id above `after` (events ascending). */
function firstAbove(events: readonly ShotGridEvent[], after: number): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (events[mid]!.id <= after) low = mid + 1;
    else high = mid;
  }
  return low;
}
