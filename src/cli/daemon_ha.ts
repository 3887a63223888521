/**
 * `sgevents daemon` with `daemon.state_url`: one of several daemons sharing a PostgreSQL
 * state. It waits as a standby (its plugins loaded, nothing read from the site) until it
 * wins the leader lock, then runs the engine on the state of its epoch; when the lead is
 * lost (lock connection cut, a save fenced) it stops delivering and waits again.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config/types.ts";
import type { DeliveryHost, PluginFile } from "../engine/types.ts";
import { discoverPlugins } from "../plugins/discovery.ts";
import { LeaderLock } from "../state/leader.ts";
import { openPostgresBackend, StateFencedError } from "../state/postgres_backend.ts";
import { StateStore } from "../state/state_store.ts";
import { sleep } from "../util/abort.ts";

/** What the leader runs: the engine on `store` until `signal` aborts. */
export type RunLeader = (
  store: StateStore,
  options: {
    signal: AbortSignal;
    startHost: (plugin: PluginFile) => Promise<DeliveryHost>;
    /** The lead held (its epoch, the group's members). */
    lock: LeaderLock;
  },
) => Promise<void>;

/** Options of {@link runAsMember}. */
export interface RunAsMemberOptions {
  /** Stops the daemon (SIGINT/SIGTERM). */
  readonly signal: AbortSignal;
  /** `--once`: lead once, catch up, stop. */
  readonly once: boolean;
  /** Starts a plugin's host (a Worker). */
  readonly startHost: (plugin: PluginFile) => Promise<DeliveryHost>;
  /** Runs the engine while this daemon leads. */
  readonly run: RunLeader;
  /** Told of each save's duration (metrics). */
  readonly onSave?: (seconds: number) => void;
}

/**
 * Take part in the election of `daemon.name` until `signal` aborts.
 *
 * @param config The config (with `daemon.stateUrl`).
 * @param options Stop signal, host starter and the engine run.
 * @throws {StateFileError} When the state is unusable (another site, corrupt rows).
 */
export async function runAsMember(config: Config, options: RunAsMemberOptions): Promise<void> {
  const url = config.daemon.stateUrl;
  if (url === null) throw new TypeError("runAsMember() needs daemon.stateUrl");
  const { name, leaseTimeoutMs, statePassword } = config.daemon;
  const logger = getLogger(["sgevents", "daemon"]);
  const warm = new WarmHosts(options.startHost);
  try {
    while (!options.signal.aborted) {
      let lock: LeaderLock;
      try {
        lock = await LeaderLock.acquire(url, {
          name,
          password: statePassword,
          leaseTimeoutMs,
          signal: options.signal,
          // A standby loads its plugins now, so taking over costs no plugin start.
          onStandby: () => void warm.prepare(config),
        });
      } catch (error) {
        if (options.signal.aborted) return;
        throw error;
      }
      const fenced = new AbortController();
      const lead = AbortSignal.any([options.signal, lock.lost, fenced.signal]);
      let failure: { error: unknown } | null = null;
      try {
        const store = await StateStore.openBackend(
          openPostgresBackend(url, {
            name,
            epoch: lock.epoch,
            password: statePassword,
            onFenced: () => fenced.abort(),
          }),
          {
            site: config.shotgrid.url,
            backlogTimeoutMs: config.daemon.backlogTimeoutMs,
            ...(options.onSave ? { onSave: options.onSave } : {}),
          },
        );
        try {
          await options.run(store, {
            signal: lead,
            startHost: (plugin) => warm.take(plugin),
            lock,
          });
        } catch (error) {
          failure = { error };
        }
        try {
          await store.close();
        } catch (error) {
          failure ??= { error };
        }
      } catch (error) {
        failure ??= { error };
      } finally {
        await lock.release();
      }
      const lost = !options.signal.aborted &&
        (lock.lost.aborted || fenced.signal.aborted ||
          failure?.error instanceof StateFencedError);
      if (lost) {
        logger.warn("No longer leading daemon {name}; waiting as a standby", { name });
        // Give the standbys one lease to take over before competing again: the lead moves
        // away from a daemon whose connection just failed.
        await sleep(leaseTimeoutMs, options.signal).catch(() => {});
        continue;
      }
      if (failure !== null) throw failure.error;
      if (options.once) return;
    }
  } finally {
    await warm.close();
  }
}

/** Plugin hosts started ahead by a standby, handed to the engine when it leads. */
class WarmHosts {
  #start: (plugin: PluginFile) => Promise<DeliveryHost>;
  #hosts = new Map<string, { plugin: PluginFile; host: Promise<DeliveryHost> }>();
  #preparing: Promise<void> | null = null;

  constructor(start: (plugin: PluginFile) => Promise<DeliveryHost>) {
    this.#start = start;
  }

  /** Start a host for each plugin found now (errors surface when the engine takes it). */
  prepare(config: Config): Promise<void> {
    this.#preparing ??= (async () => {
      const plugins = await discoverPlugins(config.plugins.paths).catch(() => []);
      for (const plugin of plugins) {
        if (config.plugins.settings[plugin.name]?.enabled === false) continue;
        if (this.#hosts.has(plugin.file)) continue;
        const host = this.#start(plugin);
        host.catch(() => {}); // Taken, it fails again in the engine, which logs it.
        this.#hosts.set(plugin.file, { plugin, host });
      }
    })().finally(() => this.#preparing = null);
    return this.#preparing;
  }

  /** The host started ahead for this very file and content, or a new one. */
  async take(plugin: PluginFile): Promise<DeliveryHost> {
    await this.#preparing;
    const warm = this.#hosts.get(plugin.file);
    this.#hosts.delete(plugin.file);
    if (warm && warm.plugin.hash === plugin.hash && warm.plugin.name === plugin.name) {
      return await warm.host;
    }
    if (warm) void warm.host.then((host) => host.close()).catch(() => {});
    return await this.#start(plugin);
  }

  /** Close the hosts nobody took. */
  async close(): Promise<void> {
    await this.#preparing;
    const left = [...this.#hosts.values()];
    this.#hosts.clear();
    await Promise.all(left.map(({ host }) => host.then((h) => h.close()).catch(() => {})));
  }
}
