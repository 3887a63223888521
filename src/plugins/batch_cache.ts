/**
 * The JSON a batch crosses to a worker in. A batch goes as ONE JSON document (structured
 * clone of object arrays costs 1.7-1.9x more, see performance-notes), each event is
 * stringified once per page array however many hosts are given that page, and the
 * encoded bytes live in a SharedArrayBuffer: posting it to ten workers copies nothing,
 * where posting a string copies it once per worker (a quarter of the main thread's time
 * with ten plugins, measured).
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";

/** JSON of each event, per page array; dropped with the array. */
const serialized = new WeakMap<
  readonly ShotGridEvent[],
  { parts: (string | undefined)[]; all?: Uint8Array<SharedArrayBuffer> }
>();

const encoder = new TextEncoder();

/** Slack for non-ASCII characters when encoding straight into shared memory. */
const slack = 4096;

function shared(text: string): Uint8Array<SharedArrayBuffer> {
  // Events are mostly ASCII: encode straight into shared memory (no intermediate copy),
  // and only when that does not fit, through a plain buffer.
  const direct = new Uint8Array(new SharedArrayBuffer(text.length + slack));
  const { read, written } = encoder.encodeInto(text, direct);
  if (read === text.length) return direct.subarray(0, written);
  const bytes = encoder.encode(text);
  const view = new Uint8Array(new SharedArrayBuffer(bytes.length));
  view.set(bytes);
  return view;
}

/**
 * The JSON array of `events[i]` for each of `indices`, from the cache where it can.
 *
 * @param events A page of events; it must not change after the first call (its JSON is cached).
 * @param indices Ascending indices into `events`.
 * @returns One JSON array, UTF-8 in shared memory.
 */
export function serializeEvents(
  events: readonly ShotGridEvent[],
  indices: readonly number[],
): Uint8Array<SharedArrayBuffer> {
  let entry = serialized.get(events);
  if (!entry) {
    entry = { parts: new Array(events.length) };
    serialized.set(events, entry);
  }
  // The whole page (the common case) is one stringify, without a string per event.
  if (indices.length === events.length) return (entry.all ??= shared(JSON.stringify(events)));
  const parts = entry.parts;
  const part = (i: number) => (parts[i] ??= JSON.stringify(events[i]));
  return shared(`[${indices.map(part).join(",")}]`);
}
