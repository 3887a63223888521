/**
 * Background activity: random writes by a few fake users, some in transactions that commit
 * late, and ids that never commit, so a daemon sees what a busy real site looks like.
 *
 * @module
 */

import { baseCounts, baseHumanUsers, statuses } from "./dataset.ts";
import type { SimStore, WriteOptions, Writer } from "./store.ts";

/** Options of {@link startActivity}. */
export interface ActivityOptions {
  /** Entity changes per second (0 = none). */
  readonly rate: number;
  /** Fraction of changes done in a transaction that commits `lateDelayMs` later. */
  readonly lateFraction?: number;
  /** How late, ms (default 10 000). */
  readonly lateDelayMs?: number;
  /** Fraction of allocated event ids that never commit. */
  readonly neverCommitFraction?: number;
  /** Randomness in [0, 1). */
  readonly random: () => number;
}

/** A running activity generator. */
export interface Activity {
  /** Stop generating; pending late commits are dropped (their ids never commit). */
  stop(): void;
}

const tickMs = 50;

/**
 * Start generating writes.
 *
 * @param store The site's data.
 * @param options Rate, late and lost fractions, randomness.
 * @returns A handle to stop it.
 */
export function startActivity(store: SimStore, options: ActivityOptions): Activity {
  const { rate, random } = options;
  const lateFraction = options.lateFraction ?? 0;
  const lateDelayMs = options.lateDelayMs ?? 10_000;
  const lost = Math.min(options.neverCommitFraction ?? 0, 0.99);
  // Allocating a lost id after each row with probability f/(1-f) makes f of all ids lost.
  const lostPerRow = lost / (1 - lost);
  const pending = new Set<ReturnType<typeof setTimeout>>();
  const versions: number[] = [];
  const retired: number[] = [];
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

  const change = (w: Writer, opts: WriteOptions) => {
    const r = random();
    const shot = 1 + Math.floor(random() * baseCounts.shots);
    if (r < 0.35) {
      w.update("Shot", shot, { sg_status_list: pick(statuses) }, opts);
    } else if (r < 0.55) {
      const task = 1 + Math.floor(random() * baseCounts.tasks);
      w.update("Task", task, { sg_status_list: pick(statuses) }, opts);
    } else if (r < 0.7) {
      const v = w.create("Version", {
        code: `sh${String(shot * 10).padStart(3, "0")}_v${
          String(versions.length + 1).padStart(3, "0")
        }`,
        entity: { type: "Shot", id: shot },
        project: store.get("Shot", shot)?.project ?? null,
      }, opts);
      versions.push(v.id);
    } else if (r < 0.8) {
      w.create("Note", {
        subject: `Notes on ${shot}`,
        content: "Please tighten the timing.",
        note_links: [{ type: "Shot", id: shot }],
        project: store.get("Shot", shot)?.project ?? null,
      }, opts);
    } else if (r < 0.88) {
      const asset = 1 + Math.floor(random() * baseCounts.assets);
      const current = (store.get("Shot", shot)?.assets ?? []) as { type: string; id: number }[];
      const has = current.some((l) => l.id === asset);
      const next = has
        ? current.filter((l) => l.id !== asset)
        : [...current, { type: "Asset", id: asset }];
      w.update("Shot", shot, { assets: next.map((l) => ({ type: l.type, id: l.id })) }, opts);
    } else if (r < 0.93) {
      w.uploadThumbnail("Shot", shot, opts);
    } else if (r < 0.97 && versions.length > 0) {
      const i = Math.floor(random() * versions.length);
      const id = versions.splice(i, 1)[0]!;
      w.retire("Version", id, opts);
      retired.push(id);
    } else if (retired.length > 0) {
      const id = retired.shift()!;
      w.revive("Version", id, opts);
      versions.push(id);
    } else {
      w.update("Shot", shot, { description: `Revised ${Math.floor(random() * 1000)}` }, opts);
    }
  };

  const one = () => {
    const u = pick(baseHumanUsers);
    const opts: WriteOptions = {
      user: { type: "HumanUser", id: u.id },
      sessionUuid: crypto.randomUUID(),
    };
    const before = store.events.allocatedId;
    try {
      if (random() < lateFraction) {
        const tx = store.begin();
        change(tx, opts);
        const timer = setTimeout(() => {
          pending.delete(timer);
          tx.commit();
        }, lateDelayMs);
        pending.add(timer);
      } else {
        change(store, opts);
      }
    } catch {
      // A random change can hit a retired entity; a real site would refuse it too.
    }
    const rows = store.events.allocatedId - before;
    for (let i = 0; i < rows; i++) if (random() < lostPerRow) store.allocateLostIds(1);
  };

  let due = 0;
  let last = performance.now();
  const interval = rate > 0
    ? setInterval(() => {
      const now = performance.now();
      due += (rate * (now - last)) / 1000;
      last = now;
      for (; due >= 1; due--) one();
    }, Math.max(tickMs, Math.min(1000, 1000 / rate)))
    : undefined;

  return {
    stop() {
      if (interval !== undefined) clearInterval(interval);
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
    },
  };
}
