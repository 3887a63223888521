/**
 * The engine's {@link EventSource} over the ShotGrid REST client.
 *
 * @module
 */
import type { ShotGridClient } from "../shotgrid/client.ts";
import { eventFields, type Filter, type ShotGridEvent } from "../shotgrid/types.ts";
import {
  checkEventId,
  checkEventPage,
  checkLookedUp,
  InvalidEventPageError,
} from "./event_page.ts";
import { narrowingFilters } from "./narrowing.ts";
import type { EventSource, IdRange, NarrowRead } from "./types.ts";

/**
 * Reads EventLogEntry rows through a {@link ShotGridClient}; every id it returns has been
 * checked (see event_page.ts), so the engine can trust them.
 */
export class ShotGridEventSource implements EventSource {
  #client: ShotGridClient;

  /**
   * @param client A client with the daemon's own script credentials. Its own retries
   *   should be few: the engine's recovery loop handles long outages.
   */
  constructor(client: ShotGridClient) {
    this.#client = client;
  }

  /** Events with `id > after` (within `narrow`, when given), ascending, at most `limit`. */
  async after(
    after: number,
    limit: number,
    signal: AbortSignal,
    narrow?: NarrowRead,
  ): Promise<ShotGridEvent[]> {
    const filters: Filter[] = [["id", "greater_than", after]];
    if (narrow) {
      const narrowed = narrowingFilters(narrow.narrowing);
      if (!narrowed || narrow.upTo <= after) return [];
      filters.push(["id", "less_than", narrow.upTo + 1], ...narrowed);
    }
    const events = await this.#client.find("EventLogEntry", filters, eventFields, {
      order: [{ field_name: "id", direction: "asc" }],
      limit,
      pageSize: limit,
      signal,
    }) as ShotGridEvent[];
    return checkEventPage(events, after);
  }

  /** Events with `range.after < id <= range.upTo`, ascending, at most `limit`. */
  async within(range: IdRange, limit: number, signal: AbortSignal): Promise<ShotGridEvent[]> {
    if (range.upTo <= range.after) return [];
    const events = await this.#client.find("EventLogEntry", idFilters(range), eventFields, {
      order: [{ field_name: "id", direction: "asc" }],
      limit,
      pageSize: limit,
      signal,
    }) as ShotGridEvent[];
    const checked = checkEventPage(events, range.after);
    const above = checked.find((event) => event.id > range.upTo);
    if (above) {
      throw new InvalidEventPageError(
        `The site sent a page of events ${
          range.after + 1
        } to ${range.upTo} with id ${above.id} above it`,
      );
    }
    return checked;
  }

  /** The events among `ids` that exist now. */
  async byIds(ids: readonly number[], signal: AbortSignal): Promise<ShotGridEvent[]> {
    if (ids.length === 0) return [];
    const events = await this.#client.find(
      "EventLogEntry",
      [["id", "in", [...ids]]],
      eventFields,
      {
        order: [{ field_name: "id", direction: "asc" }],
        pageSize: Math.min(5000, Math.max(1, ids.length)),
        signal,
      },
    ) as ShotGridEvent[];
    return checkLookedUp(events, ids);
  }

  /** The newest event id, or null on an empty site. */
  newestId(signal: AbortSignal): Promise<number | null> {
    return this.#firstId([], "desc", signal);
  }

  /** The oldest event id, or null on an empty site. */
  oldestId(signal: AbortSignal): Promise<number | null> {
    return this.#firstId([], "asc", signal);
  }

  /** The lowest id in `range` of an event created after `time` (whole seconds). */
  async firstCreatedAfter(
    range: IdRange,
    time: number,
    signal: AbortSignal,
  ): Promise<number | null> {
    return await this.#firstId(
      [...idFilters(range), ["created_at", "greater_than", isoSecond(time)]],
      "asc",
      signal,
    );
  }

  /** The highest id in `range` of an event created before `time` (whole seconds). */
  async lastCreatedBefore(
    range: IdRange,
    time: number,
    signal: AbortSignal,
  ): Promise<number | null> {
    return await this.#firstId(
      [...idFilters(range), ["created_at", "less_than", isoSecond(time)]],
      "desc",
      signal,
    );
  }

  async #firstId(
    filters: Filter[],
    direction: "asc" | "desc",
    signal: AbortSignal,
  ): Promise<number | null> {
    const record = await this.#client.findOne("EventLogEntry", filters, ["id"], {
      order: [{ field_name: "id", direction }],
      signal,
    });
    if (!record) return null;
    return checkEventId(
      record.id,
      `a request for its ${direction === "asc" ? "first" : "last"} event`,
    );
  }
}

function idFilters(range: IdRange): Filter[] {
  return [["id", "greater_than", range.after], ["id", "less_than", range.upTo + 1]];
}

// ShotGrid's dates are whole seconds.
function isoSecond(time: number): string {
  return new Date(time).toISOString().replace(/\.\d+Z$/, "Z");
}
