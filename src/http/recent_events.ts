/**
 * The `created_at` of recently read events, for `sgevents_plugin_lag_seconds`: the pages
 * the engine read are kept by reference (no copy, no parsing on the delivery path) up to
 * a bound, and searched only when lag is asked for.
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";

/** Options of {@link RecentEvents}. */
export interface RecentEventsOptions {
  /** Events kept at most (oldest pages dropped first; default 20,000). */
  readonly capacity?: number;
}

/** Recently read pages, searchable by id. */
export class RecentEvents {
  #pages: (readonly ShotGridEvent[])[] = [];
  #size = 0;
  #capacity: number;
  #head = 0;
  /** Per plugin: the last answer, for a plugin paused on an event long since dropped. */
  #memo = new Map<string, { after: number; id: number; createdAt: number }>();

  /** @param options The bound. */
  constructor(options: RecentEventsOptions = {}) {
    this.#capacity = options.capacity ?? 20_000;
  }

  /** The highest id read so far (0 before any). */
  get headId(): number {
    return this.#head;
  }

  /**
   * Keep a page read from the site (ascending ids).
   *
   * @param events The page (kept by reference).
   */
  add(events: readonly ShotGridEvent[]): void {
    const last = events.at(-1);
    if (!last) return;
    if (last.id > this.#head) this.#head = last.id;
    this.#pages.push(events);
    this.#size += events.length;
    while (this.#size > this.#capacity && this.#pages.length > 1) {
      this.#size -= this.#pages.shift()!.length;
    }
  }

  /**
   * When the first known event after `cursor` was created (epoch ms), or null when none
   * is known (the plugin is caught up with what was read).
   *
   * @param plugin Whose cursor it is (remembered for when the page is dropped).
   * @param cursor The plugin's cursor.
   * @returns Epoch ms or null.
   */
  nextCreatedAt(plugin: string, cursor: number): number | null {
    let best: ShotGridEvent | null = null;
    for (const page of this.#pages) {
      const event = firstAfter(page, cursor);
      if (event && (!best || event.id < best.id)) best = event;
    }
    // Still at the cursor it was last seen at: the event found then may have been dropped
    // since (a plugin paused on it while newer pages came in), and comes first.
    const memo = this.#memo.get(plugin);
    if (memo && memo.after === cursor && (!best || memo.id < best.id)) return memo.createdAt;
    if (!best) return null;
    const createdAt = Date.parse(best.created_at);
    this.#memo.set(plugin, { after: cursor, id: best.id, createdAt });
    return createdAt;
  }
}

function firstAfter(page: readonly ShotGridEvent[], cursor: number): ShotGridEvent | null {
  let low = 0;
  let high = page.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (page[mid]!.id <= cursor) low = mid + 1;
    else high = mid;
  }
  return page[low] ?? null;
}
