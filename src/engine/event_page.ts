/**
 * Event ids are checked where they enter, so no later code has to be defensive: a page
 * from the site must hold positive safe-integer ids, above the cursor it was asked for,
 * strictly increasing. A page that breaks a rule is refused whole, with the ids named,
 * as a retriable error: a site serving garbage is waited out (and logged), never allowed
 * to move a cursor backwards, past 2^53, to a fraction, or to deliver an event twice.
 *
 * Why refuse the whole page and not drop the bad rows: a site that ignores the sort or the
 * filter may also have left out rows that belong to the page, and a cursor moved past
 * them would lose them for good.
 *
 * @module
 */
import { ShotGridError } from "../shotgrid/errors.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { isEventId } from "../state/cursor.ts";

/** The site sent event rows no cursor may be moved over. */
export class InvalidEventPageError extends ShotGridError {
  /**
   * @param message What was wrong, with the ids.
   */
  constructor(message: string) {
    super(message, { title: "invalid event page", retriable: true });
    this.name = "InvalidEventPageError";
  }
}

/** How many offending ids a message names. */
const shown = 5;

/**
 * Check a page read with `id > after`, ascending by id.
 *
 * @param events The rows as the client returned them.
 * @param after The id the page was read after.
 * @returns The same rows.
 * @throws {InvalidEventPageError} When an id is not a positive safe integer, is not above
 *   `after`, is repeated, or the ids are not increasing.
 */
export function checkEventPage(events: readonly ShotGridEvent[], after: number): ShotGridEvent[] {
  const where = `a page of events after id ${after}`;
  checkIds(events, where);
  const low = events.filter((event) => event.id <= after);
  if (low.length > 0) {
    throw new InvalidEventPageError(
      `The site sent ${where} with ids at or below it: ${list(low.map((e) => e.id))}`,
    );
  }
  for (let i = 1; i < events.length; i++) {
    const previous = events[i - 1]!.id;
    const id = events[i]!.id;
    if (id === previous) {
      throw new InvalidEventPageError(`The site sent ${where} with event id ${id} twice`);
    }
    if (id < previous) {
      throw new InvalidEventPageError(
        `The site sent ${where} out of id order (${id} after ${previous}); it was asked to sort by id`,
      );
    }
  }
  return [...events];
}

/**
 * Check rows looked up by id: only ids asked for, each valid (any order; duplicates dropped).
 *
 * @param events The rows as the client returned them.
 * @param asked The ids asked for.
 * @returns The rows, ascending, one per id.
 * @throws {InvalidEventPageError} When an id is invalid or was not asked for.
 */
export function checkLookedUp(
  events: readonly ShotGridEvent[],
  asked: readonly number[],
): ShotGridEvent[] {
  const where = `a lookup of ${asked.length} backlog id(s)`;
  checkIds(events, where);
  const wanted = new Set(asked);
  const strays = events.filter((event) => !wanted.has(event.id));
  if (strays.length > 0) {
    throw new InvalidEventPageError(
      `The site answered ${where} with ids not asked for: ${list(strays.map((e) => e.id))}`,
    );
  }
  const byId = new Map<number, ShotGridEvent>();
  for (const event of events) if (!byId.has(event.id)) byId.set(event.id, event);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/**
 * Check one id the site reported (its newest or oldest event, a horizon lookup).
 *
 * @param id What the site answered.
 * @param what What was asked, for the message.
 * @returns The id.
 * @throws {InvalidEventPageError} When it is not a positive safe integer.
 */
export function checkEventId(id: unknown, what: string): number {
  if (isEventId(id)) return id;
  throw new InvalidEventPageError(
    `The site answered ${what} with an invalid event id ${
      JSON.stringify(id) ?? String(id)
    } (expected a whole number from 1 to 2^53 - 1)`,
  );
}

function checkIds(events: readonly ShotGridEvent[], where: string): void {
  const bad = events.filter((event) => !isEventId(event.id)).map((event) => event.id);
  if (bad.length === 0) return;
  throw new InvalidEventPageError(
    `The site sent ${where} with invalid event ids: ${
      list(bad)
    } (expected whole numbers from 1 to 2^53 - 1)`,
  );
}

function list(ids: readonly unknown[]): string {
  const head = ids.slice(0, shown).map((id) => JSON.stringify(id) ?? String(id)).join(", ");
  return ids.length > shown ? `${head} and ${ids.length - shown} more` : head;
}
