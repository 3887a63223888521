/**
 * The JSON a batch crosses to a worker in. A batch goes as ONE string (structured clone
 * of object arrays costs 1.7-1.9x more, see performance-notes), and each event is
 * stringified once per page array, however many hosts are given that page.
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";

/** JSON of each event, per page array; dropped with the array. */
const serialized = new WeakMap<
  readonly ShotGridEvent[],
  { parts: (string | undefined)[]; all?: string }
>();

/**
 * The JSON array of `events[i]` for each of `indices`, from the cache where it can.
 *
 * @param events A page of events; it must not change after the first call (its JSON is cached).
 * @param indices Ascending indices into `events`.
 * @returns One JSON array.
 */
export function serializeEvents(
  events: readonly ShotGridEvent[],
  indices: readonly number[],
): string {
  let entry = serialized.get(events);
  if (!entry) {
    entry = { parts: new Array(events.length) };
    serialized.set(events, entry);
  }
  const parts = entry.parts;
  const part = (i: number) => (parts[i] ??= JSON.stringify(events[i]));
  if (indices.length === events.length) {
    return (entry.all ??= `[${events.map((_, i) => part(i)).join(",")}]`);
  }
  return `[${indices.map(part).join(",")}]`;
}
