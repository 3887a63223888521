/**
 * The EventLogEntry table: id allocation, late commits, and the index of visible ids.
 *
 * Visible ids are the union of synthesized ranges (preloaded or bulk-appended events, built
 * on demand from their id) and a sorted array of stored rows. Both are ordered, so `id > N`
 * pages and `id in [...]` cost O(log n + page).
 *
 * @module
 */

import type { Link } from "./dataset.ts";
import { synthesizeEvent } from "./synth.ts";

/** One EventLogEntry as the simulator holds it (`created_at` in epoch ms). */
export interface EventRow {
  readonly type: "EventLogEntry";
  readonly id: number;
  readonly event_type: string;
  readonly attribute_name: string | null;
  readonly description: string | null;
  readonly meta: { readonly [key: string]: unknown } | null;
  readonly entity: Link | null;
  readonly project: Link | null;
  readonly user: Link | null;
  readonly session_uuid: string | null;
  readonly created_at: number;
}

interface SynthRange {
  readonly start: number;
  readonly end: number;
  readonly t0: number;
  readonly stepMs: number;
}

function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The event table of one simulated site. */
export class EventLog {
  readonly #seed: number;
  readonly #ranges: SynthRange[] = [];
  readonly #ids: number[] = [];
  readonly #rows = new Map<number, EventRow>();
  #nextId = 1;
  #count = 0;

  /**
   * @param seed Seed of synthesized rows.
   */
  constructor(seed: number) {
    this.#seed = seed;
  }

  /** Highest committed (visible) id, 0 when empty. */
  get lastId(): number {
    const r = this.#ranges.at(-1)?.end ?? 0;
    const s = this.#ids.at(-1) ?? 0;
    return Math.max(r, s);
  }

  /** Number of visible rows. */
  get count(): number {
    return this.#count;
  }

  /** Highest id handed out so far, committed or not. */
  get allocatedId(): number {
    return this.#nextId - 1;
  }

  /**
   * Take the next id; it stays invisible until {@link commit} (or forever).
   *
   * @returns The id.
   */
  allocate(): number {
    return this.#nextId++;
  }

  /**
   * Make rows (with ids from {@link allocate}) visible.
   *
   * @param rows Rows to add, in any order.
   */
  commit(rows: readonly EventRow[]): void {
    for (const row of rows) {
      if (this.#rows.has(row.id)) continue;
      this.#rows.set(row.id, row);
      const ids = this.#ids;
      if (ids.length === 0 || ids[ids.length - 1]! < row.id) ids.push(row.id);
      else ids.splice(lowerBound(ids, row.id), 0, row.id);
      this.#count++;
    }
  }

  /**
   * Append `n` synthesized rows with fresh ids, visible at once.
   *
   * @param n How many.
   * @param t0 `created_at` of the first, epoch ms.
   * @param stepMs Time between consecutive rows.
   * @returns The first and last new id (first > last when n is 0).
   */
  appendSynthetic(n: number, t0: number, stepMs = 0): { first: number; last: number } {
    const first = this.#nextId;
    if (n <= 0) return { first, last: first - 1 };
    const last = first + n - 1;
    this.#ranges.push({ start: first, end: last, t0, stepMs });
    this.#nextId = last + 1;
    this.#count += n;
    return { first, last };
  }

  #range(id: number): SynthRange | undefined {
    const ranges = this.#ranges;
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = ranges[mid]!;
      if (id < r.start) hi = mid - 1;
      else if (id > r.end) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  /**
   * Whether `id` is visible.
   *
   * @param id Event id.
   * @returns `true` once committed.
   */
  has(id: number): boolean {
    return this.#rows.has(id) || this.#range(id) !== undefined;
  }

  /**
   * The visible row with this id.
   *
   * @param id Event id.
   * @returns The row, or `undefined` when absent or not committed.
   */
  get(id: number): EventRow | undefined {
    const row = this.#rows.get(id);
    if (row) return row;
    const r = this.#range(id);
    return r ? synthesizeEvent(id, this.#seed, r.t0 + (id - r.start) * r.stepMs) : undefined;
  }

  /**
   * Visible ids in `[from, to]`, ascending.
   *
   * @param from Lowest id wanted.
   * @param to Highest id wanted.
   * @returns The ids.
   */
  *ascending(from: number, to: number): Generator<number> {
    const ranges = this.#ranges;
    const ids = this.#ids;
    let ri = 0;
    while (ri < ranges.length && ranges[ri]!.end < from) ri++;
    let ii = lowerBound(ids, from);
    let cur = from;
    while (true) {
      const r = ranges[ri];
      const rNext = r ? Math.max(cur, r.start) : Infinity;
      const iNext = ii < ids.length ? ids[ii]! : Infinity;
      const next = Math.min(rNext, iNext);
      if (next > to || next === Infinity) return;
      yield next;
      cur = next + 1;
      if (next === iNext) ii++;
      else if (r && next >= r.end) ri++;
    }
  }

  /**
   * Visible ids in `[from, to]`, descending.
   *
   * @param from Lowest id wanted.
   * @param to Highest id wanted.
   * @returns The ids.
   */
  *descending(from: number, to: number): Generator<number> {
    const ranges = this.#ranges;
    const ids = this.#ids;
    let ri = ranges.length - 1;
    while (ri >= 0 && ranges[ri]!.start > to) ri--;
    let ii = lowerBound(ids, to + 1) - 1;
    let cur = to;
    while (true) {
      const r = ri >= 0 ? ranges[ri] : undefined;
      const rNext = r ? Math.min(cur, r.end) : -Infinity;
      const iNext = ii >= 0 ? ids[ii]! : -Infinity;
      const next = Math.max(rNext, iNext);
      if (next < from || next === -Infinity) return;
      yield next;
      cur = next - 1;
      if (next === iNext) ii--;
      else if (r && next <= r.start) ri--;
    }
  }
}
