/**
 * Looks up the ids plugins are waiting for (their backlogs) by id, `id in [...]`, never
 * by re-reading the processed range: the Python daemon re-read everything from the
 * lowest missing id on every pass (a hot loop while a gap waited). Lookups from all
 * lanes made in the same tick are merged into one request, and an answer is reused for
 * `fetch_interval`, so the request rate stays flat however many plugins wait.
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";
import type { Clock } from "../util/abort.ts";
import { raceSignal } from "../util/abort.ts";
import type { EventSource } from "./types.ts";

/** Options for {@link BacklogResolver}. */
export interface BacklogResolverOptions {
  readonly fetch: <T>(action: string, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;
  readonly clock: Clock;
  /** How long an answer ("id N exists" or "not yet") is reused. */
  readonly intervalMs: number;
  /** Ids per request (default 500). */
  readonly chunk?: number;
}

/** Shared lookups of backlog ids. */
export class BacklogResolver {
  #source: EventSource;
  #options: BacklogResolverOptions;
  #checkedAt = new Map<number, number>();
  #found = new Map<number, ShotGridEvent>();
  #queued = new Set<number>();
  #batch: Promise<void> | null = null;
  #requests = 0;

  /**
   * @param source Where events come from.
   * @param options Fetch wrapper, clock, reuse interval.
   */
  constructor(source: EventSource, options: BacklogResolverOptions) {
    this.#source = source;
    this.#options = options;
  }

  /** Requests made to the site so far. */
  get requests(): number {
    return this.#requests;
  }

  /**
   * The events among `ids` that exist now (answers up to `intervalMs` old are reused).
   *
   * @param ids Waiting ids.
   * @param signal Ends the wait (the shared lookup goes on for the other lanes).
   * @returns The found events, ascending by id.
   */
  async resolve(ids: Iterable<number>, signal?: AbortSignal): Promise<ShotGridEvent[]> {
    const wanted = [...ids];
    const now = this.#options.clock();
    this.#prune(now);
    const stale = wanted.filter((id) =>
      !this.#found.has(id) &&
      (this.#checkedAt.get(id) ?? -Infinity) < now - this.#options.intervalMs
    );
    if (stale.length > 0) {
      for (const id of stale) this.#queued.add(id);
      // Lanes asking in the same tick share one request.
      this.#batch ??= Promise.resolve().then(() => this.#run());
      await (signal ? raceSignal(this.#batch, signal) : this.#batch);
    }
    const found: ShotGridEvent[] = [];
    for (const id of wanted) {
      const event = this.#found.get(id);
      if (event) found.push(event);
    }
    return found.sort((a, b) => a.id - b.id);
  }

  async #run(): Promise<void> {
    const ids = [...this.#queued].sort((a, b) => a - b);
    this.#queued.clear();
    this.#batch = null;
    const chunk = this.#options.chunk ?? 500;
    for (let i = 0; i < ids.length; i += chunk) {
      const part = ids.slice(i, i + chunk);
      const at = this.#options.clock();
      this.#requests++;
      const events = await this.#options.fetch(
        `look up ${part.length} backlog event id(s)`,
        (signal) => this.#source.byIds(part, signal),
      );
      for (const id of part) this.#checkedAt.set(id, at);
      for (const event of events) this.#found.set(event.id, event);
    }
  }

  // Found events are kept a while for lanes that have not asked yet; then dropped.
  #prune(now: number): void {
    const horizon = now - 10 * this.#options.intervalMs - 60_000;
    for (const [id, at] of this.#checkedAt) {
      if (at < horizon) {
        this.#checkedAt.delete(id);
        this.#found.delete(id);
      }
    }
  }
}
