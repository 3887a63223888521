/**
 * Server-side narrowing (`daemon.server_filter`): when every loaded plugin names exact
 * event types, pages are read with `event_type in [...]`; when every plugin is limited to
 * some projects (`plugins.settings.<name>.projects`), with `project in [...]` too. A site
 * with millions of events no plugin wants is then not read needlessly.
 *
 * A narrowed page no longer shows which ids are missing (an absent id may be of another
 * type), so the gap backlog cannot work on it. Late commits are found instead by a
 * recency sweep: once per interval, one shared request for the wanted types created
 * within `backlog_timeout` (plus a margin for clock skew); each plugin receives those at
 * or below its cursor that it has not had, remembering the ids it was given within that
 * window (persisted with its cursor, so nothing is delivered twice across restarts).
 *
 * @module
 */
import type { MatchEvents } from "../plugins/mod.ts";

/** Margin on the sweep window for the site's clock being ahead of ours. */
export const sweepMarginMs = 60_000;

/** What reads are narrowed to; a null field is not narrowed. */
export interface Narrowing {
  readonly types: readonly string[] | null;
  readonly projects: readonly number[] | null;
}

/** A loaded plugin as narrowing sees it. */
export interface NarrowingInput {
  readonly callbacks: readonly { readonly matchEvents: MatchEvents | null }[];
  /** Its `projects` setting, or null for every project. */
  readonly projects: readonly number[] | null;
}

/**
 * How reads can be narrowed for a plugin set, or null when they cannot be at all.
 *
 * @param plugins The loaded plugins.
 * @returns Types and projects every plugin is limited to (each null when some plugin is not).
 */
export function narrowing(plugins: readonly NarrowingInput[]): Narrowing | null {
  if (plugins.length === 0) return null;
  const types = narrowTypes(plugins.map((p) => p.callbacks));
  let projects: number[] | null = null;
  if (plugins.every((p) => p.projects !== null)) {
    projects = [...new Set(plugins.flatMap((p) => p.projects!))].sort((a, b) => a - b);
  }
  return types || projects ? { types, projects } : null;
}

/**
 * A stable text key for a narrowing (for caches).
 *
 * @param narrow The narrowing, or null.
 * @returns The key ("" when not narrowed).
 */
export function narrowingKey(narrow: Narrowing | null): string {
  if (!narrow) return "";
  return `${narrow.types?.join(",") ?? "*"} ${narrow.projects?.join(",") ?? "*"}`;
}

/**
 * The event types a plugin set wants, or null when some plugin wants any type (a `*` or
 * a pattern in a key, or no matchEvents at all).
 *
 * @param plugins Each loaded plugin's callbacks.
 * @returns The sorted union of types, or null (no narrowing).
 */
export function narrowTypes(
  plugins: Iterable<readonly { readonly matchEvents: MatchEvents | null }[]>,
): string[] | null {
  const types = new Set<string>();
  let any = false;
  for (const callbacks of plugins) {
    any = true;
    for (const { matchEvents } of callbacks) {
      const keys = matchEvents ? Object.keys(matchEvents) : [];
      if (keys.length === 0) return null;
      for (const key of keys) {
        if (key.includes("*")) return null;
        types.add(key);
      }
    }
  }
  return any && types.size > 0 ? [...types].sort() : null;
}
