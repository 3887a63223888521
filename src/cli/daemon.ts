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
import { ShotGridEventSource } from "../engine/event_source.ts";
import type { PluginFileInfo } from "../engine/types.ts";
import { setupLogging } from "../log/setup.ts";
import { setPluginEmails } from "../log/email.ts";
import { discoverPlugins } from "../plugins/discovery.ts";
import { PluginHost } from "../plugins/host.ts";
import { watchPlugins } from "../plugins/watcher.ts";
import { WorkerPool } from "../plugins/worker_pool.ts";
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
    await using store = await StateStore.open(config.daemon.stateFile, {
      site: config.shotgrid.url,
    });
    await using client = daemonClient(config);
    logger.info("sgevents {version} starting: site {site}, state {state}, plugins {paths}", {
      version,
      site: config.shotgrid.url,
      state: config.daemon.stateFile,
      paths: config.plugins.paths.join(", "),
    });
    const pool = new WorkerPool({
      ...(config.plugins.workers ? { workers: config.plugins.workers } : {}),
      site: { url: config.shotgrid.url, proxy: config.shotgrid.proxy },
    });
    const plugins = options.once ? discoverOnce(config) : watchPlugins(config.plugins.paths, {
      signal: controller.signal,
      rescanIntervalMs: config.plugins.rescanIntervalMs,
    });
    const engine = new Engine({
      config,
      source: new ShotGridEventSource(client),
      store,
      startHost: (plugin) => startHost(config, plugin, pool),
      plugins: planned(plugins, pool),
      once: options.once,
    });
    try {
      await engine.run(controller.signal);
    } finally {
      pool.close();
    }
  } finally {
    for (const [name, handler] of signals) Deno.removeSignalListener(name, handler);
  }
}

/** Placement follows processing order (discovery's), whatever order hosts start in. */
async function* planned(
  lists: AsyncIterable<PluginFileInfo[]>,
  pool: WorkerPool,
): AsyncIterable<PluginFileInfo[]> {
  for await (const list of lists) {
    pool.plan(list.map((plugin) => plugin.name));
    yield list;
  }
}

async function startHost(
  config: Config,
  plugin: PluginFileInfo,
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

async function* discoverOnce(config: Config): AsyncIterable<PluginFileInfo[]> {
  const logger = getLogger(["sgevents", "plugins"]);
  yield await discoverPlugins(config.plugins.paths, {
    onProblem: (problem) => logger.warn("{reason}", { reason: problem.reason }),
  });
}
