/**
 * Where plugins run: a pool of `plugins.workers` shared Worker isolates, plus a Worker of
 * its own for each plugin that needs one.
 *
 * Placement is deterministic: plugins are taken in processing order (the order discovery
 * lists them: path order, then file name) the first time they are seen, and the k-th
 * shared plugin goes to pool Worker `k mod workers` (round-robin). A plugin keeps its
 * place across reloads. Unless `plugins.workers` is set, the pool's size is fixed when its
 * first plugin is placed, from the plugins found at start (see {@link defaultWorkers}).
 * So with 2 Workers and plugins a, b, c in that order, a and c share `worker 1` and b has
 * `worker 2`. Isolates are started only for Workers with plugins, so
 * there are never more than plugins.
 *
 * A plugin gets a Worker of its own (`plugin <name>`) when configured `isolate: true`,
 * when it has `permissions` (Deno permissions are per Worker), or when quarantined: its
 * callback hung the thread, it ended its Worker (`Deno.exit`), or a callback ran longer
 * than the CPU budget on one event while co-tenants waited (see host.ts).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PluginPermissions } from "../config/types.ts";
import { workerPermissions } from "./permissions.ts";
import { PluginWorker } from "./plugin_worker.ts";

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /**
   * Shared Workers at most. Default: {@link defaultWorkers} for the machine's cores and the
   * plugins planned when the first shared Worker is placed (the ones found at start).
   */
  readonly workers?: number;
  /** Where `sg` connects (a plugin with permissions may reach it). */
  readonly site: { readonly url: string; readonly proxy: string | null };
  /**
   * A plugin whose callbacks run longer than this synchronously on one event, in a
   * shared Worker, is quarantined (default 1000 ms).
   */
  readonly cpuBudgetMs?: number;
  /**
   * A Worker whose thread does not answer for this long (or its plugins' longest callback
   * timeout + grace, if longer) is stuck outside any callback and is restarted (default
   * 10 000 ms; see PluginWorker).
   */
  readonly stuckFloorMs?: number;
}

/** How a plugin asks to be placed. */
export interface PlacementRequest {
  readonly isolate?: boolean;
  readonly permissions?: PluginPermissions | null;
}

/**
 * Plugins per shared Worker before the default pool grows a second: measured side by side
 * on 2 cores (AMD EPYC, 2026-12-03, 40,000 events, plugins that append a line per event,
 * alternating runs of `plugins.workers: 1` and `2`, medians):
 *
 * | plugins | 1 Worker: ev/s, CPU s, MiB | 2 Workers: ev/s, CPU s, MiB |
 * |---|---|---|
 * | 10 | 21,784, 3.17, 138 | 19,387, 3.53, 159 |
 * | 20 | 13,405, 5.15, 141 | 14,887, 5.02, 161 |
 * | 30 | 9,416, 6.91, 146 | 11,380, 6.58, 166 |
 * | 50 | 5,718, 11.29, 147 | 7,693, 9.92, 171 |
 *
 * A Worker's fixed costs (its isolate, parsing and freezing each page it is sent, a thread
 * beside the main one) pay for themselves once it has more than 10-20 plugins' work to do.
 */
export const pluginsPerWorker = 16;

/**
 * How many shared Workers a daemon runs when `plugins.workers` is not set: one per
 * {@link pluginsPerWorker} plugins, at least one, at most one per core.
 *
 * @param cores The machine's cores (`navigator.hardwareConcurrency`).
 * @param plugins The plugins found at start.
 * @returns The number of shared Workers.
 */
export function defaultWorkers(cores: number, plugins: number): number {
  const most = Math.max(1, Math.floor(cores || 1));
  return Math.min(most, Math.max(1, Math.ceil(plugins / pluginsPerWorker)));
}

/** The pool of Workers of one daemon. */
export class WorkerPool {
  /** CPU budget per event in a shared Worker, in ms. */
  readonly cpuBudgetMs: number;
  readonly #site: { readonly url: string; readonly proxy: string | null };
  readonly #stuckFloorMs: number | undefined;
  readonly #order = new Map<string, number>();
  readonly #shared: (PluginWorker | undefined)[] = [];
  readonly #own = new Set<PluginWorker>();
  #seen = 0;
  /** Set when configured, else when the first shared Worker is placed. */
  #workers: number | null;

  /**
   * An empty pool (Workers start with their first plugin).
   *
   * @param options Workers, site, CPU budget.
   * @throws {RangeError} When `workers` is not a positive integer.
   */
  constructor(options: WorkerPoolOptions) {
    const workers = options.workers ?? null;
    if (workers !== null && (!Number.isInteger(workers) || workers < 1)) {
      throw new RangeError(
        `Cannot create a worker pool of "${workers}" workers: expected a positive integer`,
      );
    }
    this.#workers = workers;
    this.cpuBudgetMs = options.cpuBudgetMs ?? 1000;
    this.#site = options.site;
    this.#stuckFloorMs = options.stuckFloorMs;
  }

  /** Shared Workers at most: fixed once the first shared Worker is placed. */
  get workers(): number {
    return this.#workers ?? defaultWorkers(navigator.hardwareConcurrency, this.#seen);
  }

  /**
   * Record the processing order of `names` (discovery order), for names not seen before.
   *
   * @param names Plugin names, in processing order.
   */
  plan(names: readonly string[]): void {
    for (const name of names) if (!this.#order.has(name)) this.#order.set(name, this.#seen++);
  }

  /**
   * The Worker for a plugin: a shared one, or one of its own.
   *
   * @param plugin The plugin's name.
   * @param request Its `isolate` and `permissions` settings.
   * @returns The Worker (not started yet if new).
   */
  place(plugin: string, request: PlacementRequest = {}): PluginWorker {
    if (request.isolate || request.permissions) {
      return this.#ownWorker(plugin, { permissions: request.permissions ?? null });
    }
    this.plan([plugin]);
    this.#workers ??= this.workers;
    const slot = this.#order.get(plugin)! % this.#workers;
    let worker = this.#shared[slot];
    if (!worker) {
      worker = new PluginWorker(`worker ${slot + 1}`, {
        shared: true,
        permissions: "inherit",
        log: getLogger(["sgevents", "plugins"]),
        ...(this.#stuckFloorMs !== undefined ? { stuckFloorMs: this.#stuckFloorMs } : {}),
      });
      this.#shared[slot] = worker;
    }
    return worker;
  }

  /**
   * A Worker of the plugin's own, for a plugin moved out of a shared one.
   *
   * @param plugin The plugin's name.
   * @param reason Why (logged by the caller; shown by `plugins list`).
   * @returns The new Worker.
   */
  quarantine(plugin: string, reason: string): PluginWorker {
    return this.#ownWorker(plugin, { permissions: null, quarantined: reason });
  }

  /** Terminate every Worker. */
  close(): void {
    for (const worker of [...this.#shared, ...this.#own]) worker?.close();
  }

  #ownWorker(
    plugin: string,
    options: { permissions: PluginPermissions | null; quarantined?: string },
  ): PluginWorker {
    const worker = new PluginWorker(`plugin ${plugin}`, {
      shared: false,
      permissions: workerPermissions(options.permissions, this.#site),
      log: getLogger(["sgevents", "plugin", plugin]),
      ...(this.#stuckFloorMs !== undefined ? { stuckFloorMs: this.#stuckFloorMs } : {}),
      ...(options.quarantined !== undefined ? { quarantined: options.quarantined } : {}),
    });
    for (const old of this.#own) if (old.size === 0) this.#own.delete(old);
    this.#own.add(worker);
    return worker;
  }
}
