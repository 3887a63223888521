/**
 * The daemon's HTTP server: `/healthz`, `/readyz`, `/metrics`, the JSON API under
 * `/api/`, the web page at `/` and `/webhook`. Routing is Hono's, served by `Deno.serve`.
 * It reads the daemon only through a {@link StatusProvider} and {@link DaemonMetrics}, at
 * request time.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { Hono } from "hono";
import type { HttpConfig } from "../config/types.ts";
import type { OperatorRequest } from "../engine/operator_requests.ts";
import { apiRoutes } from "./api.ts";
import { hostProblem } from "./auth.ts";
import { LagHistory } from "./history.ts";
import type { DaemonMetrics } from "./metrics.ts";
import { renderMain, renderPage } from "./page.ts";
import type { StatusProvider } from "./status.ts";
import type { ViewSources } from "./view.ts";
import { webhookHandler } from "./webhook.ts";

/** What the server is built from. */
export interface HttpServerOptions {
  readonly status: StatusProvider;
  readonly metrics: DaemonMetrics;
  /** The state file (actions are appended to its requests file). */
  readonly stateFile: string;
  /** Sends an action to the engine instead (the PostgreSQL state's requests table). */
  readonly sendRequest?: (request: OperatorRequest) => Promise<void>;
  /** Makes the engine read the log now (webhook). */
  readonly wake: () => void;
  /** Ready only if the site answered and the state was saved within this (default 60 s). */
  readonly readyWithinMs?: number;
  /** How often lag is sampled for the charts and rates (default 10 s). */
  readonly sampleIntervalMs?: number;
  /** How long an action waits for the daemon's acknowledgement (default 5 s). */
  readonly ackTimeoutMs?: number;
  readonly clock?: () => number;
  readonly logger?: Logger;
}

/** A running server. */
export class HttpServer implements AsyncDisposable {
  /** `http://host:port` it listens on. */
  readonly url: string;
  /** The lag samples behind the charts (sampled on a timer; `sample()` takes one now). */
  readonly history: LagHistory;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #abort: AbortController;
  #timer: ReturnType<typeof setInterval>;
  #sources: ViewSources;
  #closed: Promise<void> | null = null;

  private constructor(
    server: Deno.HttpServer<Deno.NetAddr>,
    abort: AbortController,
    sources: ViewSources,
    intervalMs: number,
  ) {
    this.#server = server;
    this.#abort = abort;
    this.#sources = sources;
    this.history = sources.history;
    const { hostname, port } = server.addr;
    this.url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /**
   * Listen on `config.listen`.
   *
   * @param config The `http` section (address, token, webhook secret).
   * @param options Status, metrics, state file, wake-up.
   * @returns The running server.
   */
  static start(config: HttpConfig, options: HttpServerOptions): HttpServer {
    const clock = options.clock ?? Date.now;
    const logger = options.logger ?? getLogger(["sgevents", "http"]);
    const abort = new AbortController();
    const history = new LagHistory();
    const sources: ViewSources = {
      status: options.status,
      metrics: options.metrics,
      history,
      clock,
    };
    options.metrics.setStatus(options.status);
    const app = new Hono();
    app.use(async (c, next) => {
      const problem = hostProblem(c.req.raw, config.hostname);
      if (problem) return c.json({ error: problem }, 403);
      await next();
      c.header("x-content-type-options", "nosniff");
      c.header("x-frame-options", "DENY");
    });
    app.get("/healthz", (c) => {
      const running = options.status.status().running;
      return c.json({ status: running ? "ok" : "stopped" }, running ? 200 : 503);
    });
    app.get("/readyz", (c) => {
      const reasons = notReady(sources, options.readyWithinMs ?? 60_000);
      return reasons.length === 0
        ? c.json({ ready: true })
        : c.json({ ready: false, reasons }, 503);
    });
    app.get("/metrics", async (c) => {
      const text = await options.metrics.text();
      return c.body(text, 200, { "content-type": options.metrics.contentType });
    });
    app.route(
      "/api",
      apiRoutes({
        ...sources,
        stateFile: options.stateFile,
        ...(options.sendRequest ? { sendRequest: options.sendRequest } : {}),
        token: config.token,
        signal: abort.signal,
        ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
      }),
    );
    app.get(
      "/",
      async (c) => c.html(await renderPage(sources, { actions: config.token !== null })),
    );
    app.get("/parts/main", (c) => c.html(renderMain(sources)));
    app.post(
      "/webhook",
      webhookHandler({ secret: config.webhookSecret, wake: options.wake, logger }),
    );
    app.notFound((c) => c.json({ error: `No such page ${JSON.stringify(c.req.path)}` }, 404));
    app.onError((error, c) => {
      logger.error("HTTP {method} {path} failed: {error}", {
        method: c.req.method,
        path: c.req.path,
        error: error.stack ?? String(error),
      });
      return c.json({ error: "Internal error; see the daemon's log" }, 500);
    });
    const server = Deno.serve({
      hostname: config.hostname,
      port: config.port,
      signal: abort.signal,
      onListen: () => {},
    }, app.fetch);
    const started = new HttpServer(server, abort, sources, options.sampleIntervalMs ?? 10_000);
    started.sample();
    return started;
  }

  /** Take one lag sample of every plugin now (the timer does it every interval). */
  sample(): void {
    const { status, metrics, history, clock } = this.#sources;
    const at = clock();
    const names = new Set<string>();
    for (const plugin of status.status().plugins) {
      names.add(plugin.name);
      const lag = metrics.lag(plugin);
      history.add(plugin.name, {
        at,
        lagEvents: lag.events,
        lagSeconds: lag.seconds,
        processed: plugin.processed,
      });
    }
    history.keepOnly(names);
  }

  /** Stop listening (live tails end). Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer);
      this.#abort.abort();
      await this.#server.finished;
    })();
    return this.#closed;
  }

  /** Same as {@link HttpServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Why the daemon is not ready (empty: ready). */
function notReady(sources: ViewSources, withinMs: number): string[] {
  const now = sources.clock();
  const status = sources.status.status();
  const reasons: string[] = [];
  if (!status.running) reasons.push("the engine is not running");
  const answered = sources.metrics.lastSiteAnswer;
  if (answered === null) reasons.push("the site has not answered yet");
  else if (now - answered > withinMs) {
    reasons.push(`the site has not answered for ${Math.round((now - answered) / 1000)} s`);
  }
  if (status.savedAt === null) reasons.push("the state has not been saved yet");
  else if (now - status.savedAt > withinMs) {
    reasons.push(`the state was last saved ${Math.round((now - status.savedAt) / 1000)} s ago`);
  }
  const failed = status.plugins.filter((plugin) => plugin.state === "failed");
  if (failed.length > 0) {
    reasons.push(`plugin(s) failed to load: ${failed.map((plugin) => plugin.name).join(", ")}`);
  }
  return reasons;
}
