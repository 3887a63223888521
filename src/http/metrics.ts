/**
 * The daemon's Prometheus metrics (prom-client, which runs unchanged under Deno and in
 * the compiled binary). Counters and histograms are plain increments made by the engine
 * through {@link EngineObserver}; every gauge is computed at scrape time from the
 * {@link StatusProvider}, so a scrape costs the delivery path nothing.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EngineObserver } from "../engine/observer.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { RecentEvents } from "./recent_events.ts";
import { pluginRunStates, type PluginStatus, type StatusProvider } from "./status.ts";

/** One delivered event, for the page's live tail. */
export interface DeliveredEvent {
  readonly plugin: string;
  readonly id: number;
  readonly eventType: string;
  /** When it was delivered (epoch ms). */
  readonly at: number;
}

/** A plugin's lag. */
export interface Lag {
  /** Head id minus cursor (0 when caught up). */
  readonly events: number;
  /** Now minus the `created_at` of the next unprocessed event (0 when caught up). */
  readonly seconds: number;
}

/** Options of {@link DaemonMetrics}. */
export interface DaemonMetricsOptions {
  readonly clock?: () => number;
}

const secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The daemon's metrics registry, engine observer and live-tail source. */
export class DaemonMetrics implements EngineObserver {
  /** The registry `/metrics` serialises. */
  readonly registry: Registry = new Registry();
  #clock: () => number;
  #recent = new RecentEvents();
  #status: StatusProvider | null = null;
  #listeners = new Set<(events: readonly DeliveredEvent[]) => void>();
  #lastSiteAnswer: number | null = null;
  #delivered: Counter<"plugin">;
  #failures: Counter<"plugin">;
  #callbackSeconds: Histogram<"plugin">;
  #siteRequests: Counter<"kind" | "status">;
  #siteSeconds: Histogram<"kind">;
  #saveSeconds: Histogram;

  /** @param options The clock (epoch ms), for lag in seconds. */
  constructor(options: DaemonMetricsOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    const registers = [this.registry];
    this.#delivered = new Counter({
      name: "sgevents_events_delivered_total",
      help: "Events handed to a plugin's callbacks and finished with (a skipped failure too)",
      labelNames: ["plugin"],
      registers,
    });
    this.#failures = new Counter({
      name: "sgevents_callback_failures_total",
      help: "Callback failures (skipped, or pausing the plugin)",
      labelNames: ["plugin"],
      registers,
    });
    this.#callbackSeconds = new Histogram({
      name: "sgevents_callback_seconds",
      help: "Callback time per event (each hand-over's time divided by the events it finished)",
      labelNames: ["plugin"],
      buckets: secondsBuckets,
      registers,
    });
    this.#siteRequests = new Counter({
      name: "sgevents_site_requests_total",
      help: "Requests to the ShotGrid site by kind and HTTP status (error: no answer)",
      labelNames: ["kind", "status"],
      registers,
    });
    this.#siteSeconds = new Histogram({
      name: "sgevents_site_request_seconds",
      help: "Time to the site's answer",
      labelNames: ["kind"],
      buckets: secondsBuckets,
      registers,
    });
    this.#saveSeconds = new Histogram({
      name: "sgevents_state_save_seconds",
      help: "Time to write the state file durably",
      buckets: [0.001, 0.0025, ...secondsBuckets],
      registers,
    });
    const plugins = () => this.#plugins();
    const headId = () => this.headId;
    const perPlugin = (
      name: string,
      help: string,
      value: (plugin: PluginStatus) => number,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ["plugin"],
        registers,
        collect() {
          this.reset();
          for (const plugin of plugins()) this.set({ plugin: plugin.name }, value(plugin));
        },
      });
    perPlugin(
      "sgevents_plugin_lag_events",
      "Head event id minus the plugin's cursor",
      (p) => this.lag(p).events,
    );
    perPlugin(
      "sgevents_plugin_lag_seconds",
      "Now minus the created_at of the plugin's next unprocessed event (0 when caught up)",
      (p) => this.lag(p).seconds,
    );
    perPlugin("sgevents_backlog_ids", "Missing ids the plugin still awaits", (p) => p.backlog);
    perPlugin(
      "sgevents_plugin_replay_next",
      "The next event id of the plugin's replay (0 when none is under way)",
      (p) => p.replay?.next ?? 0,
    );
    perPlugin(
      "sgevents_plugin_cursor",
      "The last event id the plugin processed",
      (p) => p.cursor ?? 0,
    );
    new Gauge({
      name: "sgevents_plugin_state",
      help: "1 for the plugin's current state",
      labelNames: ["plugin", "state"],
      registers,
      collect() {
        this.reset();
        for (const plugin of plugins()) {
          for (const state of pluginRunStates) {
            this.set({ plugin: plugin.name, state }, plugin.state === state ? 1 : 0);
          }
        }
      },
    });
    new Gauge({
      name: "sgevents_head_event_id",
      help: "The highest event id read from the site",
      registers,
      collect() {
        this.set(headId());
      },
    });
  }

  /** The highest event id read so far. */
  get headId(): number {
    return this.#recent.headId;
  }

  /** When the site last answered (epoch ms; any status below 500), or null. */
  get lastSiteAnswer(): number | null {
    return this.#lastSiteAnswer;
  }

  /**
   * Read gauges from this provider at scrape time.
   *
   * @param status The daemon's status.
   */
  setStatus(status: StatusProvider): void {
    this.#status = status;
  }

  /**
   * A plugin's lag now.
   *
   * @param plugin Its status.
   * @returns Lag in events and seconds.
   */
  lag(plugin: PluginStatus): Lag {
    const cursor = plugin.cursor ?? 0;
    const events = Math.max(0, this.headId - cursor);
    const next = this.#recent.nextCreatedAt(plugin.name, cursor);
    const seconds = next === null ? 0 : Math.max(0, (this.#clock() - next) / 1000);
    return { events, seconds };
  }

  /**
   * Call `listener` with each batch of delivered events (the live tail).
   *
   * @param listener Receives events in delivery order.
   * @returns Stops listening.
   */
  onDelivered(listener: (events: readonly DeliveredEvent[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Prometheus text of every metric. */
  async text(): Promise<string> {
    return await this.registry.metrics();
  }

  /** The content type of {@link DaemonMetrics.text}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  pageRead(events: readonly ShotGridEvent[]): void {
    this.#recent.add(events);
  }

  delivered(plugin: string, events: readonly ShotGridEvent[]): void {
    this.#delivered.inc({ plugin }, events.length);
    if (this.#listeners.size === 0) return;
    const at = this.#clock();
    // The tail shows the newest few only; a catch-up batch of 500 is not sent whole.
    const shown = events.slice(-20).map((event) => ({
      plugin,
      id: event.id,
      eventType: event.event_type,
      at,
    }));
    for (const listener of this.#listeners) listener(shown);
  }

  deliverySeconds(plugin: string, seconds: number, events: number): void {
    for (let i = 0; i < events; i++) this.#callbackSeconds.observe({ plugin }, seconds / events);
  }

  callbackFailed(plugin: string, count: number): void {
    this.#failures.inc({ plugin }, count);
  }

  /**
   * Count one request to the site.
   *
   * @param kind What it was (`search`, `auth`, `read`, `create`, `update`, `delete`).
   * @param status Its HTTP status, or `error` when no answer came.
   * @param seconds Time to the answer.
   */
  siteRequest(kind: string, status: number | "error", seconds: number): void {
    this.#siteRequests.inc({ kind, status: String(status) });
    this.#siteSeconds.observe({ kind }, seconds);
    if (status !== "error" && status < 500) this.#lastSiteAnswer = this.#clock();
  }

  /**
   * Time one state write.
   *
   * @param seconds How long it took.
   */
  stateSaved(seconds: number): void {
    this.#saveSeconds.observe(seconds);
  }

  /**
   * A fetch that counts and times every request (give it to the ShotGrid client).
   *
   * @param base The fetch to wrap.
   * @returns The counting fetch.
   */
  siteFetch(base: typeof fetch = fetch): typeof fetch {
    return async (input, init) => {
      // Passed on untouched: init may carry a Deno.HttpClient (the proxy).
      const url = input instanceof Request ? input.url : String(input);
      const method = init?.method ?? (input instanceof Request ? input.method : "GET");
      const kind = requestKind(url, method);
      const started = performance.now();
      try {
        const response = await base(input, init);
        this.siteRequest(kind, response.status, (performance.now() - started) / 1000);
        return response;
      } catch (error) {
        this.siteRequest(kind, "error", (performance.now() - started) / 1000);
        throw error;
      }
    };
  }

  #plugins(): readonly PluginStatus[] {
    return this.#status?.status().plugins ?? [];
  }
}

function requestKind(url: string, method: string): string {
  const path = new URL(url).pathname;
  if (path.endsWith("/auth/access_token")) return "auth";
  if (path.endsWith("/_search")) return "search";
  switch (method.toUpperCase()) {
    case "GET":
      return "read";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "DELETE":
      return "delete";
    default:
      return "other";
  }
}
