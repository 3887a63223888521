/**
 * Server-side narrowing (`daemon.narrow_reads`): a lane catching up asks the site only for
 * the event types and projects the plugins want, so a site with millions of events no
 * plugin wants is not read needlessly.
 *
 * Narrowing hides which ids are missing (an absent id may just be of another type), and
 * missing ids are how late commits are found (see backlog.ts). So reads are narrowed only
 * up to the *settled horizon* H: the last settled event before the first event created
 * within twice `backlog_timeout` (at least `backlog_timeout` plus a minute, for clock
 * skew), both looked for within the lane's block of ids. Every event at or below H is
 * then older than `backlog_timeout`, so every id below H that is still missing is
 * followed by an old event: exactly an id the unnarrowed reader calls "never happened"
 * and does not wait for. A narrowed read up to H (or any bound below it) thus delivers
 * what an unnarrowed one would, less the unwanted events. The horizon is found from the
 * first *recent* event, not the last old one, so an event with an out-of-order
 * `created_at` (a backfill, a clock step) only lowers it; and H must itself be settled,
 * so an event committed between the two lookups cannot become it. Above H, where
 * transactions still commit, every lane reads everything and the gap backlog works as
 * before. At the head of the log this costs nothing: one request per `fetch_interval`
 * either way.
 *
 * An event of a transaction running longer than `backlog_timeout` is missed either way: the
 * unnarrowed reader waits `backlog_timeout` at most.
 *
 * @module
 */
import type { Filter, FilterCondition } from "../shotgrid/types.ts";
import { type Clock, raceSignal } from "../util/abort.ts";
import type { EventSource } from "./types.ts";

/** What catch-up reads are narrowed to; a null field is not narrowed. */
export interface Narrowing {
  /** Event types; `*` inside one is a wildcard (`Shotgun_*_Change`). Null: every type. */
  readonly eventTypes: readonly string[] | null;
  /** Project ids. Null: every project (and events without one). */
  readonly projects: readonly number[] | null;
}

/** One loaded plugin, as narrowing sees it. */
export interface NarrowingInput {
  readonly name: string;
  /** The types its callbacks match (as {@link Narrowing.eventTypes}). */
  readonly eventTypes: readonly string[] | null;
  /** Its `projects` setting. */
  readonly projects: readonly number[] | null;
}

/** The narrowing for a set of plugins, and why it is not narrower. */
export interface NarrowingPlan {
  /** Null when reads cannot be narrowed at all. */
  readonly narrowing: Narrowing | null;
  /** A readable form, "" when not narrowed (for log lines). */
  readonly key: string;
  /** Plugins that want every event type, and every project. */
  readonly anyType: readonly string[];
  readonly anyProject: readonly string[];
}

/**
 * Narrow reads to what every plugin wants together: a type is read if some plugin wants
 * it; types are not narrowed at all if some plugin wants every type (projects likewise).
 *
 * @param plugins The loaded plugins.
 * @returns The union, or a null narrowing when it would read everything anyway.
 */
export function planNarrowing(plugins: readonly NarrowingInput[]): NarrowingPlan {
  const anyType = plugins.filter((p) => p.eventTypes === null).map((p) => p.name);
  const anyProject = plugins.filter((p) => p.projects === null).map((p) => p.name);
  const eventTypes = plugins.length > 0 && anyType.length === 0
    ? [...new Set(plugins.flatMap((p) => p.eventTypes!))].sort()
    : null;
  const projects = plugins.length > 0 && anyProject.length === 0
    ? [...new Set(plugins.flatMap((p) => p.projects!))].sort((a, b) => a - b)
    : null;
  const narrowing = eventTypes || projects ? { eventTypes, projects } : null;
  return { narrowing, key: narrowing ? narrowingKey(narrowing) : "", anyType, anyProject };
}

/**
 * A readable form of a narrowing (for log lines).
 *
 * @param narrowing The narrowing.
 * @returns Its types and projects, `*` for a field not narrowed.
 */
export function narrowingKey(narrowing: Narrowing): string {
  const { eventTypes, projects } = narrowing;
  return `event types ${eventTypes?.join(", ") ?? "*"}; projects ${projects?.join(", ") ?? "*"}`;
}

/**
 * The filters that select a narrowing's events (a superset: wildcards become prefix and
 * suffix tests, and ShotGrid compares text without case; the plugin's matcher decides).
 *
 * @param narrowing What to select.
 * @returns Conditions to AND with the id range; `null` when nothing can match.
 */
export function narrowingFilters(narrowing: Narrowing): Filter[] | null {
  const filters: Filter[] = [];
  const types = narrowing.eventTypes;
  if (types) {
    if (types.length === 0) return null;
    const exact = types.filter((type) => !type.includes("*"));
    const alternatives: Filter[] = exact.length > 0 ? [["event_type", "in", exact]] : [];
    for (const pattern of types.filter((type) => type.includes("*"))) {
      const prefix = pattern.slice(0, pattern.indexOf("*"));
      const suffix = pattern.slice(pattern.lastIndexOf("*") + 1);
      const parts: FilterCondition[] = [];
      if (prefix) parts.push(["event_type", "starts_with", prefix]);
      if (suffix) parts.push(["event_type", "ends_with", suffix]);
      // "*" alone (or "**"): any type, so this union is not narrowed by type at all.
      if (parts.length === 0) return narrowingFilters({ ...narrowing, eventTypes: null });
      alternatives.push(
        parts.length === 1 ? parts[0]! : { filter_operator: "all", filters: parts },
      );
    }
    filters.push(
      alternatives.length === 1
        ? alternatives[0]!
        : { filter_operator: "any", filters: alternatives },
    );
  }
  if (narrowing.projects) {
    if (narrowing.projects.length === 0) return null;
    filters.push(["project", "in", narrowing.projects.map((id) => ({ type: "Project", id }))]);
  }
  return filters;
}

/**
 * How old an event must be before no gap below it can still fill: twice
 * `backlog_timeout`, and at least `backlog_timeout` plus a minute (clock skew).
 *
 * @param backlogTimeoutMs `daemon.backlog_timeout`.
 * @returns Milliseconds.
 */
export function settledAgeMs(backlogTimeoutMs: number): number {
  return backlogTimeoutMs + Math.max(backlogTimeoutMs, 60_000);
}

/**
 * The most ids one narrowed request may span (blocks aligned on multiples of it, so the
 * prefetched next page of a block is the one asked for): a site scanning for rare types
 * then never scans more than this per request.
 *
 * @param batchSize `max_event_batch_size`.
 * @returns Ids.
 */
export function narrowSpan(batchSize: number): number {
  return batchSize * 200;
}

/** Options for {@link SettledHorizon}. */
export interface SettledHorizonOptions {
  /** Ends lookups (the daemon stops). */
  readonly signal: AbortSignal;
  readonly clock: Clock;
  /** See {@link settledAgeMs}. */
  readonly settledAgeMs: number;
  /** How long an answer is used before a fresh one is looked up. */
  readonly reuseMs: number;
  /** Gets failed lookups (the lanes then read whole pages until the next one). */
  readonly onError: (error: unknown) => void;
}

/** What a lookup found for the ids of one block above `from`. */
interface Answer {
  readonly from: number;
  readonly blockEnd: number;
  /** Read narrowed up to here (`<= from`: not at all). */
  readonly upTo: number;
  /** When the lookup finished (epoch ms). */
  readonly at: number;
}

interface Lookup {
  readonly from: number;
  readonly blockEnd: number;
  readonly promise: Promise<Answer>;
}

/**
 * Where a lane may stop reading narrowed: the horizon within its block of ids.
 *
 * Lookups are bounded by the block, so they never scan more than it, and each is tried
 * once: narrowing only saves reads, so a failed lookup (a site refusing a filter, a scan
 * timing out) means whole pages until the next one, never a lane stuck retrying. Lanes
 * in a block use an answer found from at or below their cursor. An old answer is still
 * safe (events only grow older), so once it is `reuseMs` old it is still served while a
 * fresh one is looked up in the background: a lane waits only when there is no answer
 * for it yet, and then only for a lookup from its own cursor.
 */
export class SettledHorizon {
  #source: EventSource;
  #options: SettledHorizonOptions;
  #answers: Answer[] = [];
  #lookups: Lookup[] = [];
  #requests = 0;

  /**
   * @param source Where events come from.
   * @param options Abort signal, clock, ages, error sink.
   */
  constructor(source: EventSource, options: SettledHorizonOptions) {
    this.#source = source;
    this.#options = options;
  }

  /** Requests made to the site so far. */
  get requests(): number {
    return this.#requests;
  }

  /**
   * The id up to which a lane at `cursor` may read narrowed (`<= cursor`: not at all).
   *
   * @param cursor The lane's cursor.
   * @param blockEnd The end of its block of ids (see {@link narrowSpan}).
   * @param signal Ends the wait (the lookup goes on for other lanes).
   * @returns An event id, at most `blockEnd`.
   */
  async get(cursor: number, blockEnd: number, signal: AbortSignal): Promise<number> {
    const covers = (a: { from: number; blockEnd: number }) =>
      a.blockEnd === blockEnd && a.from <= cursor;
    let best: Answer | null = null;
    for (const answer of this.#answers) {
      if (covers(answer) && (!best || answer.at > best.at)) best = answer;
    }
    if (best) {
      const old = this.#options.clock() - best.at >= this.#options.reuseMs;
      if (old && !this.#lookups.some(covers)) this.#lookUp(cursor, blockEnd);
      return best.upTo;
    }
    // Without an answer, a lane waits only for a lookup from its own cursor: never for one
    // a lane far behind it started (that may scan a whole block).
    const own = this.#lookups.find((l) => l.blockEnd === blockEnd && l.from === cursor) ??
      this.#lookUp(cursor, blockEnd);
    return (await raceSignal(own.promise, signal)).upTo;
  }

  #lookUp(from: number, blockEnd: number): Lookup {
    const lookup = { from, blockEnd, promise: this.#find(from, blockEnd) };
    this.#lookups.push(lookup);
    lookup.promise.then((answer) => {
      this.#answers = this.#answers.filter((a) => !(a.blockEnd === blockEnd && a.from === from));
      this.#answers.push(answer);
      if (this.#answers.length > 64) this.#answers.shift();
    }, () => {}).finally(() => this.#lookups = this.#lookups.filter((l) => l !== lookup));
    return lookup;
  }

  async #find(from: number, blockEnd: number): Promise<Answer> {
    const { settledAgeMs, clock, signal } = this.#options;
    const settled = clock() - settledAgeMs;
    let upTo = from;
    try {
      this.#requests++;
      const recent = await this.#source.firstCreatedAfter(
        { after: from, upTo: blockEnd },
        settled,
        signal,
      );
      // The last *settled* event below it: an event committed since the first lookup,
      // with ids still missing below it, cannot become the horizon.
      const below = recent === null ? blockEnd : recent - 1;
      if (below > from) {
        this.#requests++;
        const last = await this.#source.lastCreatedBefore(
          { after: from, upTo: below },
          settled,
          signal,
        );
        upTo = last ?? from;
      }
    } catch (error) {
      if (signal.aborted) throw error;
      this.#options.onError(error);
    }
    return { from, blockEnd, upTo, at: clock() };
  }
}
