/**
 * Where a lane's next page comes from: the shared page source, narrowed to the events
 * the plugins want while the lane is behind the settled horizon (see narrowing.ts), whole
 * at the head, and no sooner than `fetch_interval` after the last read once caught up.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Clock } from "../util/abort.ts";
import { type Narrowing, narrowSpan, type SettledHorizon } from "./narrowing.ts";
import type { Page, PageSource } from "./page_source.ts";

/** What a reader needs. */
export interface LaneReaderOptions {
  readonly plugin: string;
  readonly pages: PageSource;
  /** What catch-up reads may be narrowed to now; null: read everything. */
  readonly narrowing?: () => Narrowing | null;
  /** Where narrowed reads must stop; without it reads are never narrowed. */
  readonly horizon?: SettledHorizon | null;
  readonly clock: Clock;
  readonly fetchIntervalMs: number;
  readonly batchSize: number;
  readonly logger: Logger;
}

/** How long a lane reads whole pages after a narrowed read failed. */
const narrowRetryMs = 5 * 60_000;

/** A lane's read position bookkeeping (not its cursor: that is the PluginCursor's). */
export class LaneReader {
  readonly #options: LaneReaderOptions;
  /** Behind the head, as far as the lane knows: worth asking whether to read narrowed. */
  #behind = true;
  #notBefore = 0;
  /** Narrowed reads failed: whole pages until then (epoch ms). */
  #narrowAfter = 0;
  #caughtUp = false;
  /** When {@link wake} was last called (epoch ms): a page read before it is read again. */
  #wokenAt = 0;

  /**
   * @param options Page source, narrowing, clock and intervals.
   */
  constructor(options: LaneReaderOptions) {
    this.#options = options;
  }

  /** Whether the last page read was short (the lane is at the head of the log). */
  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  /** Whether the next read may start now (not waiting for `fetch_interval` at the head). */
  get due(): boolean {
    return this.#options.clock() >= this.#notBefore;
  }

  /** Read the next page at once (after a skip or resume: the lane may be behind). */
  rush(): void {
    this.#notBefore = 0;
    this.#behind = true;
  }

  /** Something changed on the site (a webhook): only a read started after now will do. */
  wake(): void {
    this.#wokenAt = this.#options.clock();
    // One started in the same ms may predate the wake-up.
    this.#notBefore = Math.min(this.#notBefore, this.#wokenAt + 1);
  }

  /**
   * The page after `cursor`: narrowed while behind the settled horizon, else whole.
   *
   * @param cursor The lane's cursor.
   * @param signal Ends the wait.
   * @returns The page.
   */
  async next(cursor: number, signal: AbortSignal): Promise<Page> {
    const { pages, horizon, narrowing, clock, logger } = this.#options;
    const wanted = this.#behind && horizon && clock() >= this.#narrowAfter;
    const narrow = wanted ? narrowing?.() ?? null : null;
    if (narrow) {
      const span = narrowSpan(this.#options.batchSize);
      const blockEnd = (Math.floor(cursor / span) + 1) * span;
      const upTo = await horizon!.get(cursor, blockEnd, signal);
      try {
        if (upTo > cursor) return await pages.next(cursor, 0, signal, { upTo, narrowing: narrow });
      } catch (error) {
        if (signal.aborted) throw error;
        // Narrowing only saves reads: fall back to whole pages rather than retry it.
        this.#narrowAfter = clock() + narrowRetryMs;
        logger.warn(
          "Plugin {plugin}: a narrowed read failed ({error}); reading whole pages for {minutes} min",
          { plugin: this.#options.plugin, error: String(error), minutes: narrowRetryMs / 60_000 },
        );
      }
    }
    return await pages.next(cursor, this.#notBefore, signal);
  }

  /**
   * A page was handled: a short one means caught up, so the next read waits an interval.
   *
   * @param page The page.
   */
  handled(page: Page): void {
    const more = page.full || page.narrowed;
    this.#behind = more;
    this.#caughtUp = !more;
    // A wake-up after this page's read started means it may lack what woke the lane.
    this.#notBefore = more
      ? 0
      : page.fetchedAt <= this.#wokenAt
      ? this.#wokenAt + 1
      : page.fetchedAt + this.#options.fetchIntervalMs;
  }
}
