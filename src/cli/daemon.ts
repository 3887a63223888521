/**
 * `sgevents daemon`: run the event daemon until SIGINT/SIGTERM (or, with `--once`,
 * until every plugin has caught up).
 *
 * @module
 */
import { Command } from "commander";
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import { Engine } from "../engine/engine.ts";
import { DaemonMetrics } from "../http/metrics.ts";
import { HttpServer } from "../http/server.ts";
import { engineStatus } from "../http/status.ts";
import { ShotGridEventSource } from "../engine/event_source.ts";
import type { PluginFileInfo } from "../engine/types.ts";
import { setupLogging } from "../log/setup.ts";
import { setPluginEmails } from "../log/email.ts";
import { discoverPlugins } from "../plugins/discovery.ts";
import { PluginHost } from "../plugins/host.ts";
import { watchPlugins } from "../plugins/watcher.ts";
import { StateStore } from "../state/state_store.ts";
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
Stops cleanly on SIGINT or SIGTERM: callbacks in flight finish (up to daemon.shutdown_timeout),
the state is saved, and a restart delivers nothing twice.

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
  /** Stops the daemon besides SIGINT/SIGTERM. */
  readonly signal?: AbortSignal;
}

/**
 * Run the daemon with a loaded config.
 *
 * @param config The config.
 * @param options `once` and an extra stop signal.
 */
export async function runDaemon(config: Config, options: RunDaemonOptions): Promise<void> {
  await using _logging = await setupLogging(config.logging, { email: config.email });
  const logger = getLogger(["sgevents", "daemon"]);
  const controller = new AbortController();
  const stop = (name: string) => () => {
    if (!controller.signal.aborted) logger.info("Received {signal}; stopping", { signal: name });
    controller.abort();
  };
  const signals: [Deno.Signal, () => void][] = [["SIGINT", stop("SIGINT")]];
  if (Deno.build.os !== "windows") signals.push(["SIGTERM", stop("SIGTERM")]);
  for (const [name, handler] of signals) Deno.addSignalListener(name, handler);
  if (options.signal?.aborted) controller.abort();
  options.signal?.addEventListener("abort", () => controller.abort(), { once: true });
  try {
    // Without the http section nothing is counted (the engine's default observer).
    const metrics = config.http ? new DaemonMetrics() : null;
    await using store = await StateStore.open(config.daemon.stateFile, {
      site: config.shotgrid.url,
      ...(metrics ? { onSave: (seconds: number) => metrics.stateSaved(seconds) } : {}),
    });
    await using client = daemonClient(config, metrics ? { fetch: metrics.siteFetch() } : {});
    logger.info("sgevents {version} starting: site {site}, state {state}, plugins {paths}", {
      version,
      site: config.shotgrid.url,
      state: config.daemon.stateFile,
      paths: config.plugins.paths.join(", "),
    });
    const engine = new Engine({
      config,
      source: new ShotGridEventSource(client),
      store,
      startHost: (plugin) => startHost(config, plugin),
      plugins: options.once ? discoverOnce(config) : watchPlugins(config.plugins.paths, {
        signal: controller.signal,
        rescanIntervalMs: config.plugins.rescanIntervalMs,
      }),
      once: options.once,
      ...(metrics ? { observer: metrics } : {}),
    });
    let running = false;
    await using _server = config.http && metrics
      ? startServer(config, { engine, store, metrics, running: () => running })
      : null;
    running = true;
    try {
      await engine.run(controller.signal);
    } finally {
      running = false;
    }
  } finally {
    for (const [name, handler] of signals) Deno.removeSignalListener(name, handler);
  }
}

function startServer(
  config: Config,
  parts: {
    engine: Engine;
    store: StateStore;
    metrics: DaemonMetrics;
    running: () => boolean;
  },
): HttpServer {
  const server = HttpServer.start(config.http!, {
    status: engineStatus(parts.engine, { store: parts.store, running: parts.running }),
    metrics: parts.metrics,
    stateFile: config.daemon.stateFile,
    wake: () => parts.engine.wake(),
    readyWithinMs: Math.max(60_000, 3 * config.daemon.fetchIntervalMs),
  });
  getLogger(["sgevents", "http"]).info("HTTP listening on {url}", { url: server.url });
  return server;
}

async function startHost(config: Config, plugin: PluginFileInfo): Promise<PluginHost> {
  const settings = config.plugins.settings[plugin.name];
  const host = await PluginHost.start(plugin, {
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

async function* discoverOnce(config: Config): AsyncIterable<PluginFileInfo[]> {
  const logger = getLogger(["sgevents", "plugins"]);
  yield await discoverPlugins(config.plugins.paths, {
    onProblem: (problem) => logger.warn("{reason}", { reason: problem.reason }),
  });
}
