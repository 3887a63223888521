/**
 * The plugins as the API and the page show them: status, lag, rate, errors (redacted).
 *
 * @module
 */
import { redact } from "../log/redact.ts";
import type { LagHistory } from "./history.ts";
import type { DaemonMetrics } from "./metrics.ts";
import type { PluginRunState, StatusProvider } from "./status.ts";

/** One plugin row. */
export interface PluginView {
  readonly name: string;
  readonly state: PluginRunState;
  readonly cursor: number | null;
  readonly lagEvents: number;
  readonly lagSeconds: number;
  /** Events delivered per second over the last minute. */
  readonly rate: number;
  readonly backlog: number;
  readonly processed: number;
  readonly lastError: string | null;
  readonly lastErrorEvent: number | null;
  readonly failed: number;
  /** The replay under way: its range, next id, and ids (a retry of failed events), or null. */
  readonly replay: {
    readonly from: number;
    readonly to: number;
    readonly next: number;
    readonly ids: readonly number[] | null;
  } | null;
}

/** One failed event. */
export interface FailedView {
  readonly plugin: string;
  readonly eventId: number;
  readonly callback: string;
  readonly error: string;
  readonly at: string;
}

/** What views are built from. */
export interface ViewSources {
  readonly status: StatusProvider;
  readonly metrics: DaemonMetrics;
  readonly history: LagHistory;
  readonly clock: () => number;
}

/**
 * Every plugin's row, by name.
 *
 * @param sources Status, metrics and history.
 * @returns The rows.
 */
export function pluginViews(sources: ViewSources): PluginView[] {
  const now = sources.clock();
  return sources.status.status().plugins.map((plugin) => {
    const lag = sources.metrics.lag(plugin);
    const rate = sources.history.rate(plugin.name, {
      at: now,
      lagEvents: lag.events,
      lagSeconds: lag.seconds,
      processed: plugin.processed,
    });
    return {
      name: plugin.name,
      state: plugin.state,
      cursor: plugin.cursor,
      lagEvents: lag.events,
      lagSeconds: Math.round(lag.seconds * 10) / 10,
      rate: Math.round(rate * 10) / 10,
      backlog: plugin.backlog,
      processed: plugin.processed,
      lastError: plugin.lastError === null ? null : redact(plugin.lastError),
      lastErrorEvent: plugin.lastErrorEvent,
      failed: plugin.failed.length,
      replay: plugin.replay &&
        {
          from: plugin.replay.from,
          to: plugin.replay.to,
          next: plugin.replay.next,
          ids: plugin.replay.ids,
        },
    };
  }).sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The failed events of every plugin (or one), newest first.
 *
 * @param sources Status.
 * @param plugin Only this plugin's.
 * @returns The failed events.
 */
export function failedViews(
  sources: Pick<ViewSources, "status">,
  plugin?: string,
): FailedView[] {
  const rows: FailedView[] = [];
  for (const status of sources.status.status().plugins) {
    if (plugin !== undefined && status.name !== plugin) continue;
    for (const record of status.failed) {
      rows.push({
        plugin: status.name,
        eventId: record.eventId,
        callback: record.callback,
        error: redact(record.error),
        at: record.at,
      });
    }
  }
  return rows.sort((a, b) => b.at.localeCompare(a.at) || b.eventId - a.eventId);
}
