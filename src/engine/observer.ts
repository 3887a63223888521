/**
 * What the engine tells an observer as it works (the HTTP server's metrics and live
 * tail). Each call is a plain increment or a small push on the observer's side: nothing
 * here may block, throw or cost more than the event it reports.
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";

/** Receives the engine's counters as they happen; gauges are read at scrape time instead. */
export interface EngineObserver {
  /** Events read from the site (every page, shared or narrowed): head id and `created_at`. */
  pageRead(events: readonly ShotGridEvent[]): void;
  /** Events a plugin's callbacks received and finished (ids its callbacks want). */
  delivered(plugin: string, events: readonly ShotGridEvent[]): void;
  /** One hand-over to a plugin took `seconds` for `events` finished events. */
  deliverySeconds(plugin: string, seconds: number, events: number): void;
  /** Callback failures (skipped with stopOnError false, or the one that paused the plugin). */
  callbackFailed(plugin: string, count: number): void;
}

/** An observer that ignores everything (the default). */
export const noObserver: EngineObserver = {
  pageRead() {},
  delivered() {},
  deliverySeconds() {},
  callbackFailed() {},
};
