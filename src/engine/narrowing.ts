/**
 * Server-side narrowing (`daemon.server_filter`): when every loaded plugin names exact
 * event types, pages are read with `event_type in [...]`, so a site with millions of
 * events no plugin wants is not read needlessly.
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
