/**
 * Pages of the event log shared by every plugin lane.
 *
 * Each lane asks for "the events after my cursor". Lanes at the head of the log ask for
 * the same page, so requests are keyed by that cursor and coalesced: one HTTP request
 * serves every plugin at the head, and the next full page is prefetched while plugins
 * process the current one. A lane that lags (slow, paused, new with `start_at: oldest`)
 * asks for keys nobody else wants and so reads its own range, without stalling the
 * others. Memory is bounded by `capacity` pages, however far a lane lags. A narrowed
 * read (see narrowing.ts) is keyed by its narrowing and bound as well. With `readAhead`
 * above 1, a whole-page read that comes back full starts that many id ranges read at once
 * instead of one prefetched page (see read_ahead.ts).
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { type Clock, raceSignal, type Sleep } from "../util/abort.ts";
import { ReadAhead } from "./read_ahead.ts";
import type { EventSource, NarrowRead } from "./types.ts";

/** One page of the event log. */
export interface Page {
  /** The cursor it was read after. */
  readonly after: number;
  /** The events, ascending by id. */
  readonly events: readonly ShotGridEvent[];
  /** `events` less those no plugin may see (events caused by ignored script users). */
  readonly deliverable: readonly ShotGridEvent[];
  /** A full page: more events are likely waiting. */
  readonly full: boolean;
  /**
   * Read narrowed (see narrowing.ts): the ids it lacks are not gaps, and once it is done
   * the cursor may move to its upper bound.
   */
  readonly narrowed: boolean;
  /** The id a lane's cursor moves to once the whole page is done. */
  readonly lastId: number;
  /** When the request for it started (epoch ms). */
  readonly fetchedAt: number;
}

/** Options for {@link PageSource}. */
export interface PageSourceOptions {
  readonly batchSize: number;
  /** Runs each read until it succeeds (see recovery.ts); aborts with the engine. */
  readonly fetch: <T>(action: string, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;
  readonly clock: Clock;
  readonly sleep: Sleep;
  /**
   * Runs a narrowed read: once, since a lane whose narrowed read fails reads whole pages
   * instead (default: `fetch`).
   */
  readonly fetchNarrowed?: <T>(
    action: string,
    fn: (signal: AbortSignal) => Promise<T>,
  ) => Promise<T>;
  /** Events no plugin receives (loop prevention); default none. */
  readonly exclude?: (event: ShotGridEvent) => boolean;
  /** Pages kept for lanes that ask again (default 16). */
  readonly capacity?: number;
  /**
   * Id ranges read at once while a lane is behind (`daemon.read_ahead`; default 1: one
   * page after another, the next full one prefetched).
   */
  readonly readAhead?: number;
  /** `daemon.backlog_timeout` (read-ahead passes only over settled gaps; default 5 min). */
  readonly backlogTimeoutMs?: number;
  /** Ids per read-ahead range (default `batchSize`). */
  readonly readAheadSpan?: number;
}

interface Entry {
  readonly startedAt: number;
  readonly promise: Promise<Page>;
  page: Page | null;
}

/** Coalescing, prefetching reader of event-log pages. */
export class PageSource {
  #source: EventSource;
  #options: PageSourceOptions;
  #entries = new Map<string, Entry>();
  #requests = 0;
  #readAhead: ReadAhead | null = null;
  /** Pages handed out from read-ahead ranges, by the cursor they follow (bounded). */
  #rangePages = new Map<number, Promise<Page | null>>();

  /**
   * @param source Where events come from.
   * @param options Batch size, fetch wrapper, clock.
   * @throws {RangeError} When `readAhead` is not a positive integer.
   */
  constructor(source: EventSource, options: PageSourceOptions) {
    this.#source = source;
    this.#options = options;
    const depth = options.readAhead ?? 1;
    if (!Number.isInteger(depth) || depth < 1) {
      throw new RangeError(`Cannot read pages: readAhead "${depth}" is not a positive integer`);
    }
    if (depth > 1) {
      this.#readAhead = new ReadAhead(source, {
        batchSize: options.batchSize,
        depth,
        backlogTimeoutMs: options.backlogTimeoutMs ?? 300_000,
        fetch: options.fetch,
        clock: options.clock,
        ...(options.readAheadSpan === undefined ? {} : { span: options.readAheadSpan }),
      });
    }
  }

  /** Requests made to the site so far (for tests and benchmarks). */
  get requests(): number {
    return this.#requests + (this.#readAhead?.requests ?? 0);
  }

  /** The most read-ahead range requests in flight at once (0 without read-ahead). */
  get maxReadAheadInFlight(): number {
    return this.#readAhead?.maxInFlight ?? 0;
  }

  /**
   * The page after `after`, read no earlier than `notBefore`.
   *
   * @param after The lane's cursor.
   * @param notBefore Epoch ms; a caught-up lane passes its last read + fetch_interval.
   * @param signal Ends the wait (the shared read itself goes on for the other lanes).
   * @param narrow Read only these events, up to this id.
   * @returns The page.
   */
  async next(
    after: number,
    notBefore: number,
    signal: AbortSignal,
    narrow?: NarrowRead,
  ): Promise<Page> {
    const fresh = this.#fresh(after, notBefore, narrow);
    if (fresh) return await raceSignal(fresh, signal);
    if (this.#readAhead && !narrow) {
      const ahead = await raceSignal(this.#rangePage(after), signal);
      if (ahead) return ahead;
    }
    const wait = notBefore - this.#options.clock();
    if (wait > 0) await this.#options.sleep(wait, signal);
    // Another lane may have started the same read while this one slept.
    const entry = this.#fresh(after, notBefore, narrow) ?? this.#start(after, narrow);
    const page = await raceSignal(entry, signal);
    if (page.full && this.#readAhead && !narrow) this.#readAhead.extend(page.lastId);
    else if (page.full) this.#prefetch(page.lastId, narrow);
    return page;
  }

  /**
   * The page after `after` from read-ahead ranges, or null. Lanes at the same cursor get
   * the same Page object, as with whole pages: the plugin host sends a Worker each page
   * (array) once for all its plugins, so a copy per lane would cost a copy per plugin.
   */
  #rangePage(after: number): Promise<Page | null> {
    let pending = this.#rangePages.get(after);
    if (pending) return pending;
    pending = this.#readAhead!.page(after).then((ahead) =>
      ahead ? this.#fromRanges(after, ahead.events, ahead.fetchedAt) : null
    );
    const forget = () => {
      if (this.#rangePages.get(after) === pending) this.#rangePages.delete(after);
    };
    // Nothing read ahead there (or an abort): the next lane looks again.
    pending.then((page) => page ?? forget(), forget);
    this.#rangePages.set(after, pending);
    const capacity = this.#options.capacity ?? 16;
    for (const key of this.#rangePages.keys()) {
      if (this.#rangePages.size <= capacity) break;
      this.#rangePages.delete(key);
    }
    return pending;
  }

  /** A page of events handed out from read-ahead ranges (never empty). */
  #fromRanges(after: number, events: readonly ShotGridEvent[], fetchedAt: number): Page {
    const exclude = this.#options.exclude;
    const lastId = events[events.length - 1]!.id;
    // More ranges may follow: the lane reads on at once, and a walk that finds nothing
    // (the head of the log) falls back to an ordinary page.
    this.#readAhead!.extend(lastId);
    return {
      after,
      events,
      deliverable: exclude ? events.filter((event) => !exclude(event)) : events,
      full: true,
      narrowed: false,
      lastId,
      fetchedAt,
    };
  }

  #fresh(after: number, notBefore: number, narrow?: NarrowRead): Promise<Page> | null {
    const key = keyOf(after, narrow);
    const entry = this.#entries.get(key);
    if (!entry || entry.startedAt < notBefore) return null;
    // Refresh its place in the eviction order.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.promise;
  }

  #start(after: number, narrow?: NarrowRead): Promise<Page> {
    const key = keyOf(after, narrow);
    const startedAt = this.#options.clock();
    const { batchSize, exclude } = this.#options;
    this.#requests++;
    const what = narrow
      ? `read narrowed events after id ${after}`
      : `read events after id ${after}`;
    const fetch = narrow ? this.#options.fetchNarrowed ?? this.#options.fetch : this.#options.fetch;
    const promise = fetch(
      what,
      (signal) => this.#source.after(after, batchSize, signal, narrow),
    ).then((events) => {
      const deliverable = exclude ? events.filter((event) => !exclude(event)) : events;
      const full = events.length >= batchSize;
      const last = events.length > 0 ? events[events.length - 1]!.id : after;
      const page: Page = {
        after,
        events,
        deliverable,
        full,
        narrowed: narrow !== undefined,
        // Only an empty narrowed page shows that nothing wanted is left up to its bound (a
        // short one could be a server returning fewer rows than asked).
        lastId: narrow && events.length === 0 ? Math.max(after, narrow.upTo) : last,
        fetchedAt: startedAt,
      };
      entry.page = page;
      return page;
    });
    const entry: Entry = { startedAt, promise, page: null };
    // A failed read (only an abort gets here) must not be served to later callers.
    promise.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    this.#entries.set(key, entry);
    this.#evict();
    return promise;
  }

  #prefetch(after: number, narrow?: NarrowRead): void {
    if (this.#entries.has(keyOf(after, narrow))) return;
    this.#start(after, narrow).catch(() => {});
  }

  #evict(): void {
    const capacity = this.#options.capacity ?? 16;
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= capacity) break;
      if (entry.page) this.#entries.delete(key);
    }
  }
}

function keyOf(after: number, narrow?: NarrowRead): string {
  return narrow ? JSON.stringify([after, narrow.upTo, narrow.narrowing]) : String(after);
}
