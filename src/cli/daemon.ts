/**
 * `sgevents daemon`: run the event daemon until SIGINT, SIGTERM or SIGHUP (or, with
 * `--once`, until every plugin has caught up).
 *
 * @module
 */
import { Command } from "commander";
import { getLogger } from "@logtape/logtape";
import { prepareWritableFolders } from "../config/folders.ts";
import type { Config } from "../config/types.ts";
import { Engine } from "../engine/engine.ts";
import type { DaemonMetrics } from "../http/metrics.ts";
import type { HttpServer } from "../http/server.ts";
import { ShotGridEventSource } from "../engine/event_source.ts";
import type { DeliveryHost, PluginFile } from "../engine/types.ts";
import { setupLogging } from "../log/setup.ts";
import { setPluginEmails } from "../log/plugin_emails.ts";
import { discoverPlugins, type DiscoveryProblem } from "../plugins/discovery.ts";
import { PluginHost } from "../plugins/host.ts";
import { watchPlugins } from "../plugins/watcher.ts";
import { WorkerPool } from "../plugins/worker_pool.ts";
import { StateStore } from "../state/state_store.ts";
import type { OperatorRequest } from "../engine/operator_requests.ts";
import { configOption, daemonClient, loadCommandConfig } from "./context.ts";
import { earlySignal } from "./shutdown.ts";
import { version } from "./version.ts";

/**
 * The `daemon` command.
 *
 * @returns The commander command.
 */
export function daemonCommand(): Command {
  return new Command("daemon")
    .description("Run the event daemon")
    .option(...configOption)
    .option("--once", "process every event up to the newest, save, and exit")
    .addHelpText(
      "after",
      `
Stops cleanly on SIGINT, SIGTERM or SIGHUP: callbacks in flight finish (up to
daemon.shutdown_timeout), the state is saved, and a restart delivers nothing twice.

Examples:
  sgevents daemon -c /etc/sgevents/config.yaml
  SGEVENTS_CONFIG=./config.yaml sgevents daemon --once`,
    )
    .action(async (options: { config?: string; once?: boolean }) => {
      const config = await loadCommandConfig(options.config);
      await runDaemon(config, { once: options.once ?? false, signal: earlySignal });
    });
}

/** Options of {@link runDaemon}. */
export interface RunDaemonOptions {
  readonly once: boolean;
  /** Stops the daemon besides SIGINT/SIGTERM/SIGHUP. */
  readonly signal?: AbortSignal;
}

/**
 * Run the daemon with a loaded config.
 *
 * @param config The config.
 * @param options `once` and an extra stop signal.
 */
export async function runDaemon(config: Config, options: RunDaemonOptions): Promise<void> {
  // Before logging starts: an unwritable log or state folder is one line, exit 2.
  await prepareWritableFolders(config);
  await using _logging = await setupLogging(config.logging, { email: config.email });
  const logger = getLogger(["sgevents", "daemon"]);
  const controller = new AbortController();
  const stop = (name: string) => () => {
    if (!controller.signal.aborted) logger.info("Received {signal}; stopping", { signal: name });
    controller.abort();
  };
  const signals: [Deno.Signal, () => void][] = [["SIGINT", stop("SIGINT")]];
  // SIGHUP (a closed terminal, or a reload habit) is a clean stop too, never a kill.
  if (Deno.build.os !== "windows") {
    signals.push(["SIGTERM", stop("SIGTERM")], ["SIGHUP", stop("SIGHUP")]);
  }
  for (const [name, handler] of signals) Deno.addSignalListener(name, handler);
  if (options.signal?.aborted) controller.abort();
  options.signal?.addEventListener("abort", () => {
    const reason = options.signal?.reason;
    if (!controller.signal.aborted && reason instanceof DOMException && reason.message) {
      logger.info("{reason}; stopping", { reason: reason.message });
    }
    controller.abort();
  }, { once: true });
  const pool = new WorkerPool({
    ...(config.plugins.workers ? { workers: config.plugins.workers } : {}),
    site: { url: config.shotgrid.url, proxy: config.shotgrid.proxy },
  });
  try {
    // Without the http section nothing is counted (the engine's default observer), and
    // hono and prom-client are never loaded.
    const metrics = config.http ? new (await import("../http/metrics.ts")).DaemonMetrics() : null;
    if (config.daemon.stateUrl !== null) {
      // Loaded only with a PostgreSQL state: a daemon on a state file never loads postgres.
      const { runAsMember } = await import("./daemon_ha.ts");
      const groupMetrics = metrics
        ? new (await import("../http/group_metrics.ts")).GroupMetrics(config.daemon.name)
        : null;
      await runAsMember(config, {
        signal: controller.signal,
        once: options.once,
        startHost: (plugin) => startHost(config, plugin, pool),
        run: (store, lead) => {
          if (metrics && groupMetrics) groupMetrics.lead(metrics, lead.lock);
          return runEngine(config, store, {
            signal: lead.signal,
            startHost: lead.startHost,
            once: options.once,
            metrics,
            pool,
          });
        },
        ...(metrics ? { onSave: (seconds: number) => metrics.stateSaved(seconds) } : {}),
      });
      return;
    }
    const store = await StateStore.open(config.daemon.stateFile, {
      site: config.shotgrid.url,
      backlogTimeoutMs: config.daemon.backlogTimeoutMs,
      ...(metrics ? { onSave: (seconds: number) => metrics.stateSaved(seconds) } : {}),
    });
    let failure: { error: unknown } | null = null;
    try {
      await runEngine(config, store, {
        signal: controller.signal,
        once: options.once,
        metrics,
        pool,
      });
    } catch (error) {
      failure = { error };
    }
    // Not `await using`: a save failing both in the engine's stop and here would reach the
    // user as a SuppressedError with two stacks; they are the same failure, reported once.
    try {
      await store.close();
    } catch (error) {
      failure ??= { error };
    }
    if (failure !== null) throw failure.error;
  } finally {
    pool.close();
    for (const [name, handler] of signals) Deno.removeSignalListener(name, handler);
  }
}

async function runEngine(
  config: Config,
  store: StateStore,
  options: {
    signal: AbortSignal;
    once: boolean;
    metrics: DaemonMetrics | null;
    /** Where plugins run (shared with a standby's hosts started ahead). */
    pool: WorkerPool;
    startHost?: (plugin: PluginFile) => Promise<DeliveryHost>;
  },
): Promise<void> {
  const { signal, once, metrics } = options;
  const logger = getLogger(["sgevents", "daemon"]);
  await using client = daemonClient(config, metrics ? { fetch: metrics.siteFetch() } : {});
  logger.info("sgevents {version} starting: site {site}, state {state}, plugins {paths}", {
    version,
    site: config.shotgrid.url,
    state: store.file,
    paths: config.plugins.paths.join(", "),
  });
  const pool = options.pool;
  const plugins = once ? discoverOnce(config) : watchPlugins(config.plugins.paths, {
    signal,
    rescanIntervalMs: config.plugins.rescanIntervalMs,
    onProblem: logDiscoveryProblem,
  });
  const engine = new Engine({
    config,
    source: new ShotGridEventSource(client),
    store,
    startHost: options.startHost ?? ((plugin) => startHost(config, plugin, pool)),
    plugins: planned(plugins, pool),
    once,
    ...(metrics ? { observer: metrics } : {}),
  });
  let running = false;
  await using _server = config.http && metrics
    ? await startServer(config, { engine, store, metrics, running: () => running })
    : null;
  running = true;
  try {
    await engine.run(signal);
  } finally {
    running = false;
  }
}

/** Placement follows processing order (discovery's), whatever order hosts start in. */
async function* planned(
  lists: AsyncIterable<PluginFile[]>,
  pool: WorkerPool,
): AsyncIterable<PluginFile[]> {
  for await (const list of lists) {
    pool.plan(list.map((plugin) => plugin.name));
    yield list;
  }
}

async function startServer(
  config: Config,
  parts: {
    engine: Engine;
    store: StateStore;
    metrics: DaemonMetrics;
    running: () => boolean;
  },
): Promise<HttpServer> {
  const { HttpServer } = await import("../http/server.ts");
  const { engineStatus } = await import("../http/status.ts");
  // state_change.ts brings postgres, which only a PostgreSQL state needs.
  const queueRequest = config.daemon.stateUrl === null
    ? null
    : (await import("./state_change.ts")).queueRequest;
  const server = HttpServer.start(config.http!, {
    status: engineStatus(parts.engine, { store: parts.store, running: parts.running }),
    metrics: parts.metrics,
    stateFile: config.daemon.stateFile,
    // With state_url the leader reads requests from the database, from any host.
    ...(queueRequest === null ? {} : {
      sendRequest: (request: OperatorRequest) => queueRequest(config, request),
    }),
    wake: () => parts.engine.wake(),
    readyWithinMs: Math.max(60_000, 3 * config.daemon.fetchIntervalMs),
  });
  getLogger(["sgevents", "http"]).info("HTTP listening on {url}", { url: server.url });
  return server;
}

async function startHost(
  config: Config,
  plugin: PluginFile,
  pool: WorkerPool,
): Promise<PluginHost> {
  const settings = config.plugins.settings[plugin.name];
  const host = await PluginHost.start(plugin, {
    pool,
    isolate: settings?.isolate ?? false,
    shotgrid: {
      url: config.shotgrid.url,
      proxy: config.shotgrid.proxy,
      useSessionUuid: config.shotgrid.useSessionUuid,
      timeoutMs: config.shotgrid.timeoutMs,
    },
    callbackTimeoutMs: settings?.callbackTimeoutMs ?? config.plugins.callbackTimeoutMs,
    retries: settings?.retries ?? config.plugins.retries,
    permissions: settings?.permissions ?? null,
  });
  setPluginEmails(plugin.name, host.emails);
  return host;
}

async function* discoverOnce(config: Config): AsyncIterable<PluginFile[]> {
  yield await discoverPlugins(config.plugins.paths, { onProblem: logDiscoveryProblem });
}

/** A missing plugin folder is an error (its plugins do not run); a skipped file a warning. */
function logDiscoveryProblem(problem: DiscoveryProblem): void {
  const logger = getLogger(["sgevents", "plugins"]);
  if (problem.severity === "error") logger.error("{reason}", { reason: problem.reason });
  else logger.warn("{reason}", { reason: problem.reason });
}
