/**
 * What the HTTP server reads about the daemon, at request time only: one
 * {@link StatusProvider} built over the engine and the state document, so nothing on the
 * delivery path does any work for the server.
 *
 * @module
 */
import type { Engine } from "../engine/engine.ts";
import type { FailedEventRecord, Replay } from "../state/state_file.ts";
import type { StateStore } from "../state/state_store.ts";

/** A plugin's state as the operator sees it. */
export type PluginRunState = "running" | "paused" | "halted" | "quarantined" | "failed";

/** Every {@link PluginRunState}, in the order metrics list them. */
export const pluginRunStates: readonly PluginRunState[] = [
  "running",
  "paused",
  "halted",
  "quarantined",
  "failed",
];

/** One plugin, read at request time. */
export interface PluginStatus {
  readonly name: string;
  readonly state: PluginRunState;
  /** Last id processed; null before the plugin has a place in the log. */
  readonly cursor: number | null;
  /** Missing ids still awaited. */
  readonly backlog: number;
  /** Events delivered over the plugin's life (for the rate). */
  readonly processed: number;
  readonly lastError: string | null;
  /** The event of `lastError`, when known. */
  readonly lastErrorEvent: number | null;
  /** Events skipped after failing (stopOnError false), oldest first. */
  readonly failed: readonly FailedEventRecord[];
  /** The replay under way (`sgevents replay`, `plugins retry-failed`), or null. */
  readonly replay: Replay | null;
}

/** The daemon, read at request time. */
export interface DaemonStatus {
  /** The engine loop runs (false before start and after stop). */
  readonly running: boolean;
  readonly plugins: readonly PluginStatus[];
  /** When the state was last saved (epoch ms), or null. */
  readonly savedAt: number | null;
}

/** Where the server reads the daemon's status and run-time request acknowledgements. */
export interface StatusProvider {
  status(): DaemonStatus;
  /** The acknowledgement of a run-time request: null while not applied. */
  acknowledgement(id: string): { readonly error: string | null } | null;
}

/**
 * The status of a running engine and its state store.
 *
 * @param engine The engine (its lanes: loaded or failed to load).
 * @param options The state store, and whether the engine loop runs.
 * @returns The provider.
 */
export function engineStatus(
  engine: Engine,
  options: { readonly store: StateStore; readonly running: () => boolean },
): StatusProvider {
  const { store } = options;
  return {
    status() {
      const plugins: PluginStatus[] = [];
      for (const lane of engine.lanes()) {
        const state = store.plugins.get(lane.name);
        if (!state) continue;
        const lastFailed = state.failed.at(-1);
        const lastErrorEvent = state.paused?.eventId ??
          (lastFailed && lastFailed.error === state.lastError ? lastFailed.eventId : null);
        plugins.push({
          name: lane.name,
          state: lane.loadError !== null
            ? "failed"
            : state.status === "paused" || state.status === "halted"
            ? state.status
            : state.quarantine
            ? "quarantined"
            : "running",
          cursor: state.cursor,
          backlog: state.backlog.size,
          processed: state.processed,
          lastError: lane.loadError ?? state.lastError,
          lastErrorEvent,
          failed: state.failed,
          replay: state.replay,
        });
      }
      const savedAt = store.savedAt === null ? null : Date.parse(store.savedAt);
      return { running: options.running(), plugins, savedAt };
    },
    acknowledgement(id) {
      for (const line of store.applied) {
        if (line === id) return { error: null };
        if (line.startsWith(`${id} `)) return { error: line.slice(id.length + 1) };
      }
      return null;
    },
  };
}
