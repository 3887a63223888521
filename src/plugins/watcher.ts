/**
 * Plugin folder watching: yields the discovered plugin list whenever it changed.
 *
 * Content hashes decide what changed, never mtimes: a file restored with an OLDER mtime
 * is reloaded, a touch without change is not, and a change to a helper module a plugin
 * imports changes that plugin's hash. `Deno.watchFs` (recursive, to see helpers in
 * subfolders) triggers a debounced rescan; a periodic rescan is the fallback for network
 * shares where file events do not arrive and for folders that appear later. A folder
 * that disappears is reported once and watched again when it comes back; nothing here
 * ends the iteration but the signal (or the consumer breaking out).
 *
 * @module
 */
import { resolve } from "node:path";
import { discoverPlugins, type DiscoveryProblem, type PluginFile } from "./discovery.ts";

/** Options of {@link watchPlugins}. */
export interface WatchPluginsOptions {
  /** Ends the iteration. */
  readonly signal?: AbortSignal;
  /** Quiet time after a file event before rescanning (default 300 ms). */
  readonly debounceMs?: number;
  /** Rescan this often even without file events (default 30 000 ms). */
  readonly rescanIntervalMs?: number;
  /** Called when a problem appears (a folder missing, a duplicate name); not repeated while it lasts. */
  readonly onProblem?: (problem: DiscoveryProblem) => void;
}

interface FolderWatch {
  readonly watcher: Deno.FsWatcher;
  readonly identity: string;
}

/**
 * Watch plugin folders.
 *
 * @param paths Plugin folders, in config order.
 * @param options Signal, debounce, rescan interval, problem reporting.
 * @returns The full plugin list (with hashes): first the initial list, then each time it changed.
 * @example
 * ```ts ignore
 * for await (const plugins of watchPlugins(["/srv/plugins"], { signal })) {
 *   console.log(plugins.map((p) => p.name));
 * }
 * ```
 */
export async function* watchPlugins(
  paths: readonly string[],
  options: WatchPluginsOptions = {},
): AsyncGenerator<PluginFile[], void, undefined> {
  const { signal, debounceMs = 300, rescanIntervalMs = 30_000, onProblem } = options;
  const folders = paths.map((p) => resolve(p));
  const watches = new Map<string, FolderWatch>();
  let kicked = false;
  let wake: (() => void) | null = null;
  const kick = () => {
    kicked = true;
    wake?.();
  };

  /** Resolves `true` on a file event (past or during the wait), `false` on timeout or abort. */
  const waitFor = (ms: number) =>
    new Promise<boolean>((resolveWait) => {
      if (kicked || signal?.aborted) {
        const value = kicked;
        kicked = false;
        return resolveWait(value);
      }
      const done = (value: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        wake = null;
        kicked = false;
        resolveWait(value);
      };
      const timer = setTimeout(() => done(false), ms);
      const onAbort = () => done(false);
      signal?.addEventListener("abort", onAbort, { once: true });
      wake = () => done(true);
    });

  const unwatch = (folder: string) => {
    const watch = watches.get(folder);
    watches.delete(folder);
    try {
      watch?.watcher.close();
    } catch {
      // already closed
    }
  };

  /** Watch every folder that exists; re-watch one that was replaced (removed and restored). */
  const ensureWatches = async () => {
    for (const folder of folders) {
      let identity: string;
      try {
        const info = await Deno.stat(folder);
        if (!info.isDirectory) throw new Deno.errors.NotFound(folder);
        identity = `${info.dev}:${info.ino}`;
      } catch {
        unwatch(folder);
        continue;
      }
      if (watches.get(folder)?.identity === identity) continue;
      unwatch(folder);
      let watcher: Deno.FsWatcher;
      try {
        watcher = Deno.watchFs(folder, { recursive: true });
      } catch {
        continue; // the rescan covers it
      }
      watches.set(folder, { watcher, identity });
      void (async () => {
        try {
          for await (const event of watcher) if (event.kind !== "access") kick();
        } catch {
          // a vanished folder can end the watcher with an error
        }
        if (watches.get(folder)?.watcher === watcher) {
          watches.delete(folder);
          kick();
        }
      })();
    }
  };

  let last: string | null = null;
  let known = new Set<string>();
  try {
    while (!signal?.aborted) {
      await ensureWatches();
      const problems: DiscoveryProblem[] = [];
      const plugins = await discoverPlugins(folders, { onProblem: (p) => problems.push(p) });
      for (const problem of problems) if (!known.has(problem.reason)) onProblem?.(problem);
      known = new Set(problems.map((p) => p.reason));
      const signature = JSON.stringify(plugins);
      if (signature !== last) {
        last = signature;
        yield plugins;
      }
      if (await waitFor(rescanIntervalMs)) {
        // Editors write in bursts: wait for quiet, but not forever if a file keeps changing.
        const deadline = Date.now() + Math.max(10 * debounceMs, 3000);
        while (Date.now() < deadline && await waitFor(debounceMs));
      }
    }
  } finally {
    for (const folder of [...watches.keys()]) unwatch(folder);
  }
}
