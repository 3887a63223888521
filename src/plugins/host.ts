/**
 * The plugin host: one per plugin, driven by the engine through a small contract
 * (`start`, `wants`, `deliver`, `requestStop`, `close`). Plugins share Worker isolates
 * (worker_pool.ts: placement, isolation); each keeps its own batch, retries, pause and
 * resume point inside its Worker. A bad plugin never hurts the daemon or another plugin:
 *
 * - load failures (syntax, imports, no `registerCallbacks`, a throwing one, a top level
 *   that never finishes) give a host with `status: "failed"` and a `loadError`;
 * - a page crosses to a Worker once, as ONE JSON array of the events any of its plugins
 *   wants (batch_cache.ts, plugin_worker.ts); each plugin's batch names its events in it,
 *   and the worker acks once per batch;
 * - stopping and the watchdog (watchdog.ts) use shared memory, not a message per event:
 *   the worker writes which callback runs and since when; the host sets a stop flag;
 * - a crashed worker is restarted from the same bundle; that attempt counts as failed and
 *   retries/pause/skip go on as usual;
 * - quarantine: a plugin that hangs its shared Worker (a CPU loop), ends it (`Deno.exit`),
 *   or runs a callback longer than the pool's CPU budget on one event, is moved to a
 *   Worker of its own (`quarantined` says why). Its co-tenants lose no event and repeat
 *   none: each one's control block says how far it got, and its batch goes on in the
 *   restarted Worker from there (a callback that was awaiting runs again, uncharged);
 * - a callback running past its timeout + `graceMs` without yielding (CPU loop, ignored
 *   signal) gets its worker terminated and the plugin paused at that event at once: Deno
 *   cannot reclaim a Worker thread stuck in a loop, so retries would strand more threads;
 * - no callback runs twice on an event without a crash: a batch that ends part-way
 *   through an event (stop in a retry wait, shutdown, pause, a stop after a restart)
 *   leaves a resume point, and the next batch starting at that event begins at the
 *   callback that had not finished.
 *
 * Memory: each Worker is a V8 isolate of 10-15 MiB, hence the shared pool. What a
 * stuck thread costs: a Worker terminated in a CPU loop keeps its OS thread and heap
 * spinning until the process exits (Deno cannot reclaim it), so every hang costs one
 * core's share and an isolate's memory until sgevents restarts.
 *
 * Permissions: see permissions.ts (needs `--unstable-worker-options` when set).
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { logCallbackTiming } from "../log/timing.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import type { PluginFile } from "./discovery.ts";
import { describeError, PluginLoadError } from "./errors.ts";
import { bundlePlugin, type PluginBundle } from "./loader.ts";
import { compileMatchEvents, type EventMatcher, eventTypesOf } from "./matcher.ts";
import { type PluginHostOptions, PluginWorker, Seat } from "./plugin_worker.ts";
import { workerPermissions } from "./permissions.ts";
import type { WorkerPool } from "./worker_pool.ts";
import type { CallbackInfo, FailedEvent, Resume, Timing } from "./protocol.ts";
import type { DeliveryHost, DeliveryReport } from "../engine/types.ts";

export type { CallbackInfo, FailedEvent } from "./protocol.ts";
export type { DeliveryReport } from "../engine/types.ts";
export type { PluginHostOptions } from "./plugin_worker.ts";

/** Where {@link PluginHost.start} runs the plugin. */
export interface PlacementOptions {
  /** The daemon's pool; absent: a Worker of the plugin's own. */
  readonly pool?: WorkerPool;
  /** A Worker of its own even in a pool (`plugins.settings.<name>.isolate`). */
  readonly isolate?: boolean;
}

/** Worker deaths outside any callback, without progress, before the event pauses. */
const maxIdleCrashes = 3;

/** A loaded plugin, in a pool Worker or one of its own. Open with `PluginHost.start`, close with `await using`. */
export class PluginHost implements DeliveryHost, AsyncDisposable {
  /** The plugin's name. */
  readonly name: string;
  /** The plugin's entry file. */
  readonly file: string;
  readonly #log: Logger;
  readonly #seat: Seat;
  readonly #pool: WorkerPool | null;
  #quarantined: string | null = null;
  /** Why the plugin must move to a Worker of its own after this batch. */
  #moveAfterBatch: string | null = null;
  readonly #wanted = new WeakMap<readonly ShotGridEvent[], readonly number[]>();
  #hash: string;
  #status: "ready" | "failed" = "ready";
  #loadError: string | null = null;
  #callbacks: readonly CallbackInfo[] = [];
  #eventTypes: readonly string[] | null = null;
  #matchers: readonly EventMatcher[] = [];
  #emails: readonly string[] | boolean = true;
  #bundle: PluginBundle | null = null;
  #delivering = false;
  #stopRequested = false;
  #closed = false;
  /** Where the event a batch ended part-way through picks up, if the next batch starts there. */
  #carry: { readonly eventId: number; readonly resume: Resume } | null = null;

  private constructor(plugin: PluginFile, options: PluginHostOptions & PlacementOptions) {
    this.name = plugin.name;
    this.file = plugin.file;
    this.#hash = plugin.hash;
    this.#log = getLogger(["sgevents", "plugin", plugin.name]);
    this.#pool = options.pool ?? null;
    const { permissions = null } = options;
    const worker = options.pool
      ? options.pool.place(plugin.name, { isolate: options.isolate ?? false, permissions })
      : new PluginWorker(`plugin ${plugin.name}`, {
        shared: false,
        permissions: workerPermissions(permissions, options.shotgrid),
        log: this.#log,
      });
    this.#seat = new Seat(worker, {
      settings: options,
      owner: {
        plugin: plugin.name,
        fileName: this.#fileName,
        log: this.#log,
        callbackName: (index) => this.#callbackName(index),
        wanted: (events) => this.#wantedIn(events),
        blamedIdle: (reason) => (this.#moveAfterBatch = reason),
        longestTimeoutMs: () => Math.max(0, ...this.#callbacks.map((c) => c.timeoutMs)),
      },
    });
  }

  /**
   * Bundle the plugin, start its worker and register its callbacks.
   *
   * @param plugin The plugin file (from discovery).
   * @param options ShotGrid settings, timeouts, retries, permissions; `pool` and `isolate`:
   *   where it runs (without a pool, in a Worker of its own).
   * @returns A host; never rejects for a plugin fault: `status` is `"failed"` with a `loadError`.
   */
  static async start(
    plugin: PluginFile,
    options: PluginHostOptions & PlacementOptions,
  ): Promise<PluginHost> {
    const host = new PluginHost(plugin, options);
    try {
      host.#bundle = await bundlePlugin(plugin.file);
      host.#hash = host.#bundle.hash;
      const result = await host.#seat.spawn(host.#bundle);
      if (result.kind === "failed") host.#fail(result.error);
      else host.#registered(result.callbacks, result.emails);
    } catch (error) {
      const reason = error instanceof PluginLoadError
        ? error.message
        : `Cannot load plugin "${host.#fileName}": ${describeError(error).error}`;
      host.#fail(reason);
    }
    return host;
  }

  /** Content hash of the code this host runs. */
  get hash(): string {
    return this.#hash;
  }

  /** `"failed"` when the plugin could not be loaded (or reloaded after a crash). */
  get status(): "ready" | "failed" {
    return this.#status;
  }

  /** Why the plugin failed to load, or `null`. */
  get loadError(): string | null {
    return this.#loadError;
  }

  /** The registered callbacks, in order. */
  get callbacks(): readonly CallbackInfo[] {
    return this.#callbacks;
  }

  /** The event types its callbacks match (null: every type, or not loaded). */
  get eventTypes(): readonly string[] | null {
    return this.#eventTypes;
  }

  /** The Worker it runs in: `worker 1` (shared, of the pool) or `plugin <name>` (its own). */
  get placement(): string {
    return this.#seat.worker.name;
  }

  /** Why it was moved to a Worker of its own, or `null`. */
  get quarantined(): string | null {
    return this.#quarantined;
  }

  /** Error mail recipients set by the plugin (`true`: the configured ones). */
  get emails(): readonly string[] | boolean {
    return this.#emails;
  }

  /**
   * Whether any callback wants this event (the same matcher the worker uses).
   *
   * @param event An event.
   * @returns `false` for a failed host.
   */
  wants(event: ShotGridEvent): boolean {
    if (this.#status !== "ready") return false;
    for (const matches of this.#matchers) if (matches(event)) return true;
    return false;
  }

  /**
   * Run a batch through the plugin: events it does not want count as finished.
   *
   * @param events Ascending events; the array must not change afterwards (its JSON is cached).
   * @param options `signal`: shutdown; aborts the running callback's `ctx.signal`, starts no
   *   further callback, and terminates the worker if the batch has not ended within
   *   `graceMs`; resolves with `stopped: true` (never rejects for it).
   * @returns How far the plugin got, what it skipped, where it paused.
   * @throws {TypeError} When called while another delivery runs, after `close()`, or on a failed host.
   */
  async deliver(
    events: readonly ShotGridEvent[],
    options: { signal?: AbortSignal } = {},
  ): Promise<DeliveryReport> {
    const refuse = this.#delivering
      ? "a delivery is already in progress"
      : this.#closed
      ? "its host is closed"
      : this.#status === "failed"
      ? `it failed to load: ${this.#loadError}`
      : null;
    if (refuse !== null) throw new TypeError(`Cannot deliver to plugin "${this.name}": ${refuse}`);
    this.#delivering = true;
    this.#stopRequested = false;
    this.#seat.setStop(false);
    const { signal } = options;
    let grace: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      this.requestStop();
      this.#seat.abort();
      // A callback that ignores its signal must not hold up shutdown past the grace period.
      grace = setTimeout(() => this.#seat.kill(), this.#seat.graceMs);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal?.aborted) onAbort();
      return await this.#deliver(events);
    } finally {
      clearTimeout(grace);
      signal?.removeEventListener("abort", onAbort);
      this.#delivering = false;
    }
  }

  /** Finish the event in flight, then end the pending `deliver()` with `stopped: true`. No-op when idle. */
  requestStop(): void {
    if (!this.#delivering) return;
    this.#stopRequested = true;
    this.#seat.setStop(true);
  }

  /** Terminate the worker; a pending `deliver()` resolves with `stopped: true`. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#seat.close();
    return Promise.resolve();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get #fileName(): string {
    return this.file.split(/[\\/]/).pop() ?? this.file;
  }

  /** The indices of the events of `events` it wants, matched once per page. */
  #wantedIn(events: readonly ShotGridEvent[]): readonly number[] {
    if (this.#status !== "ready" || this.#matchers.length === 0) return [];
    let wanted = this.#wanted.get(events);
    if (!wanted) {
      const found: number[] = [];
      for (let i = 0; i < events.length; i++) if (this.wants(events[i]!)) found.push(i);
      this.#wanted.set(events, wanted = found);
    }
    return wanted;
  }

  /** Move to a Worker of its own (its next spawn loads it there). */
  #quarantine(reason: string): void {
    if (!this.#pool || this.#closed) return;
    this.#quarantined = reason;
    this.#seat.moveTo(this.#pool.quarantine(this.name, reason));
    this.#log.warning("Moved plugin {plugin} to a Worker of its own: {reason}", {
      plugin: this.name,
      reason,
    });
  }

  async #deliver(events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
    if (this.#moveAfterBatch !== null) {
      this.#quarantine(this.#moveAfterBatch);
      this.#moveAfterBatch = null;
    }
    const wanted = this.#wantedIn(events);
    const skipped: FailedEvent[] = [];
    /** `pending`: where event `wanted[finished]` picks up next time, when it was begun. */
    const finish = (
      finished: number,
      paused: FailedEvent | null,
      stopped: boolean,
      pending: Resume | null,
    ): DeliveryReport => {
      const next = wanted[finished];
      this.#carry = pending && next !== undefined
        ? { eventId: events[next]!.id, resume: pending }
        : null;
      const done = next === undefined ? events.length : next;
      return {
        done,
        skipped,
        paused,
        stopped: stopped && done < events.length,
      };
    };
    // Timings cost a record per callback and event: only collected when the timing log is on.
    const timing = getLogger(["sgevents", "timing"]).isEnabledFor("info");
    let offset = 0;
    // Where event `wanted[offset]` picks up.
    const carry = this.#carry;
    this.#carry = null;
    const firstId = wanted.length > 0 ? events[wanted[0]!]!.id : null;
    let resume = carry !== null && carry.eventId === firstId ? carry.resume : null;
    let idleCrashes = 0;
    for (;;) {
      if (offset >= wanted.length) return finish(offset, null, false, null);
      if (this.#stopRequested || this.#closed) return finish(offset, null, true, resume);
      if (!this.#seat.alive) {
        const result = await this.#seat.spawn(this.#bundle!);
        if (result.kind === "failed") {
          this.#fail(result.error);
          const failure: FailedEvent = {
            id: events[wanted[offset]!]!.id,
            callback: resume ? this.#callbackName(resume.callbackIndex) : "(load)",
            error: result.error,
            stack: null,
            attempts: resume?.failedAttempts ?? 0,
          };
          return this.#closed
            ? finish(offset, null, true, null)
            : finish(offset, failure, false, null);
        }
      }
      const result = await this.#seat.run(events, wanted.slice(offset), {
        resume,
        skipped,
        timing,
      });
      if (result.kind === "done") {
        this.#emitTimings(result.timings);
        if (result.cpuMs > (this.#pool?.cpuBudgetMs ?? Infinity) && this.#seat.worker.size > 1) {
          this.#moveAfterBatch =
            `a callback ran ${result.cpuMs} ms on one event, over the CPU budget of ${this.#pool?.cpuBudgetMs} ms of a shared Worker`;
        }
        return finish(offset + result.done, result.paused, result.stopped, result.partial);
      }
      if (result.kind === "closed") return finish(offset + result.done, null, true, null);
      const { callbackIndex, attempt, running } = result;
      // A resume point holds until its event finishes; a crash outside callbacks keeps it.
      if (result.done > 0) resume = null;
      offset += result.done;
      if (result.kind === "killed") {
        // Cut short by shutdown: the attempt that was running does not count as failed.
        const failedAttempts = running ? attempt - 1 : attempt;
        const cut = callbackIndex < 0
          ? resume
          : { callbackIndex, failedAttempts, error: "", stack: null };
        return finish(offset, null, true, cut);
      }
      const eventId = events[wanted[offset] ?? 0]?.id ?? null;
      if (result.collateral) {
        // Another plugin ended the Worker: nothing is charged to this one; an attempt
        // that was running runs again (uncharged), one waiting to retry keeps its count.
        if (callbackIndex >= result.next) {
          resume = {
            callbackIndex,
            failedAttempts: running ? attempt - 1 : attempt,
            error: resume?.error ?? "",
            stack: null,
          };
        } else if (result.next > 0) {
          resume = { callbackIndex: result.next, failedAttempts: 0, error: "", stack: null };
        }
        this.#log.info("Restarting plugin {plugin} at event {eventId}: {error}", {
          plugin: this.name,
          eventId,
          error: result.error,
        });
        continue;
      }
      if (result.blamed) {
        this.#quarantine(result.error);
      }
      if (result.hung && callbackIndex >= 0) {
        // Deno cannot stop a Worker stuck in a CPU loop: terminate() leaves its thread
        // spinning until the process exits. Retrying would strand one more thread per
        // attempt, so a hung callback pauses the plugin at once, whatever its retries
        // and stopOnError; fix the plugin (or resume it) to go on.
        const failure: FailedEvent = {
          id: events[wanted[offset]!]!.id,
          callback: this.#callbackName(callbackIndex),
          error:
            `${result.error}; not retried: a Worker stuck in a loop keeps its thread busy until sgevents restarts`,
          stack: null,
          attempts: attempt,
        };
        return finish(offset, failure, false, {
          callbackIndex,
          failedAttempts: 0,
          error: result.error,
          stack: null,
        });
      }
      if (callbackIndex >= 0) {
        resume = { callbackIndex, failedAttempts: attempt, error: result.error, stack: null };
        idleCrashes = 0;
      } else {
        // Between events (or before the first callback): no callback is charged an
        // attempt, but a worker that keeps dying without progress pauses the event.
        idleCrashes = result.done > 0 ? 1 : idleCrashes + 1;
        if (idleCrashes >= maxIdleCrashes) {
          const failure: FailedEvent = {
            id: events[wanted[offset]!]!.id,
            callback: "(worker)",
            error: result.error,
            stack: null,
            attempts: idleCrashes,
          };
          return finish(offset, failure, false, resume);
        }
      }
      const properties = { plugin: this.name, eventId, error: result.error };
      if (callbackIndex >= 0) {
        this.#log.warning(
          "Restarting the worker of plugin {plugin} after callback {callback} failed on event {eventId}: {error}",
          { ...properties, callback: this.#callbackName(callbackIndex) },
        );
      } else {
        this.#log.warning(
          "Restarting the worker of plugin {plugin}, which ended outside any callback before event {eventId}: {error}",
          properties,
        );
      }
    }
  }

  #registered(callbacks: readonly CallbackInfo[], emails: readonly string[] | boolean): void {
    this.#callbacks = callbacks;
    this.#matchers = callbacks.map((c) => compileMatchEvents(c.matchEvents));
    this.#eventTypes = eventTypesOf(callbacks.map((c) => c.matchEvents));
    this.#emails = emails;
  }

  #fail(error: string): void {
    this.#status = "failed";
    this.#loadError = error;
    this.#seat.close();
  }

  #emitTimings(timings: readonly Timing[]): void {
    for (const { callback, eventId, durationMs, delayMs, ok } of timings) {
      logCallbackTiming({ plugin: this.name, callback, eventId, durationMs, delayMs, ok });
    }
  }

  #callbackName(index: number): string {
    return this.#callbacks[index]?.name ?? `callback#${index + 1}`;
  }
}
