/**
 * The base data every simulated site starts with, and the pure naming rules that let
 * synthesized (preloaded) events point at the same entities without storing anything.
 *
 * @module
 */

/** A link as stored in the simulator: always carries the name it had when written. */
export interface Link {
  readonly type: string;
  readonly id: number;
  readonly name: string | null;
}

/** Human users of the base site (`jo` is the default password login). */
export const baseHumanUsers: readonly { id: number; login: string; name: string }[] = [
  { id: 1, login: "jo", name: "Jo Bloggs" },
  { id: 2, login: "ana", name: "Ana Lima" },
  { id: 3, login: "ben", name: "Ben Okafor" },
  { id: 4, login: "cy", name: "Cy Tanaka" },
];

/** Projects of the base site. */
export const baseProjects: readonly { id: number; name: string }[] = [
  { id: 1, name: "demo" },
  { id: 2, name: "big_show" },
];

/** How many of each kind the base site holds (ids 1..n). */
export const baseCounts = { shots: 24, assets: 12, tasks: 48 } as const;

const assetNames = ["hero", "villain", "car", "tree", "house", "dog", "ship", "lamp"];

/**
 * The code of base Shot `id`: `sh010`, `sh020`, ...
 *
 * @param id Shot id.
 * @returns Its code.
 */
export function shotCode(id: number): string {
  return `sh${String(id * 10).padStart(3, "0")}`;
}

/**
 * The code of base Asset `id`.
 *
 * @param id Asset id.
 * @returns Its code.
 */
export function assetCode(id: number): string {
  return `${assetNames[(id - 1) % assetNames.length]}_${Math.ceil(id / assetNames.length)}`;
}

/**
 * The Shot a base Task belongs to (two tasks per shot).
 *
 * @param id Task id.
 * @returns The shot id.
 */
export function taskShot(id: number): number {
  return ((id - 1) >> 1) % baseCounts.shots + 1;
}

/**
 * The content (name) of base Task `id`.
 *
 * @param id Task id.
 * @returns `Anim` or `Comp`.
 */
export function taskContent(id: number): string {
  return id % 2 === 1 ? "Anim" : "Comp";
}

/**
 * The project of base entity `id` (alternating).
 *
 * @param id Entity id (any integer).
 * @returns A link to the project.
 */
export function projectOf(id: number): Link {
  const n = baseProjects.length;
  const p = baseProjects[(((id - 1) % n) + n) % n]!;
  return { type: "Project", id: p.id, name: p.name };
}

/** Status values used by generated changes. */
export const statuses: readonly string[] = ["wtg", "rdy", "ip", "rev", "fin", "hld"];
