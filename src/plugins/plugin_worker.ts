/**
 * Plugin Workers as hosts drive them. A `PluginWorker` is one Worker isolate hosting one
 * plugin or several (placement: worker_pool.ts); a `Seat` is one plugin's place in it:
 * load the plugin, hand it a batch and wait for the outcome, watch it (watchdog.ts).
 * Retries across restarts, resume points and quarantine are the host's delivery policy
 * (host.ts), not this file's.
 *
 * Each seat shares a control block with its tenant in the Worker (protocol.ts): the host
 * sets the stop flag, the worker writes how far the batch got and which callback runs, so
 * a Worker that is terminated still tells where each of its plugins was.
 *
 * Heap: Deno's `Worker` takes no heap limit (no `resourceLimits` as Node's worker_threads
 * has; its `deno` option holds only `permissions`). V8 flags are the one cap and apply to
 * every isolate of the process alike: the daemon runs with `--max-semi-space-size=1` and
 * `--max-old-space-size=768`, which caps each Worker and the main isolate the same. A
 * plugin that outgrows it ends the process (V8 has no per-isolate out-of-memory recovery);
 * the restarted daemon pauses it at that event (the in-flight mark, state/cursor.ts).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { PluginPermissions } from "../config/types.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import { serializeEvents } from "./batch_cache.ts";
import type { PluginBundle } from "./loader.ts";
import type { WorkerPermissions } from "./permissions.ts";
import {
  type CallbackInfo,
  controlBlock,
  ended,
  type FailedEvent,
  type HostMessage,
  packIndices,
  type PagePayload,
  type Resume,
  slot,
  type Timing,
  type WorkerMessage,
  type WorkerSettings,
} from "./protocol.ts";
import { watchCallbacks } from "./watchdog.ts";

/** How the host runs a plugin. */
export interface PluginHostOptions {
  /** Where `sg` connects (credentials are each callback's own). */
  readonly shotgrid: {
    readonly url: string;
    readonly proxy: string | null;
    readonly useSessionUuid: boolean;
    readonly timeoutMs: number;
  };
  /** Default callback timeout (already merged with the plugin's settings by the caller). */
  readonly callbackTimeoutMs: number;
  /** Retries after a failed attempt (already merged likewise). */
  readonly retries: number;
  /** Worker permissions; `null`/absent inherits the daemon's. Set, the plugin runs alone. */
  readonly permissions?: PluginPermissions | null;
  /** Spacing of retries (the `random` function stays in the host; workers use Math.random). */
  readonly backoff?: BackoffOptions;
  /**
   * Time past a callback's timeout, or after a delivery's signal aborted, before its
   * worker is terminated (default 2000 ms).
   */
  readonly graceMs?: number;
  /** Longest time importing and registering may take (default 30 000 ms). */
  readonly loadTimeoutMs?: number;
}

/** What loading the plugin into a worker gave. */
export type LoadResult =
  | {
    readonly kind: "loaded";
    readonly callbacks: readonly CallbackInfo[];
    readonly emails: readonly string[] | boolean;
  }
  | { readonly kind: "failed"; readonly error: string };

/** Where a plugin was when its Worker ended; `callbackIndex` -1: no callback running or waiting. */
export interface WorkerSnapshot {
  /** Events of the batch finished. */
  readonly done: number;
  readonly callbackIndex: number;
  /** The attempt running, or the last failed one while waiting to retry; only with a callback. */
  readonly attempt: number;
  /** Whether that attempt was running (not waiting to retry). */
  readonly running: boolean;
  /** Callbacks before this index are finished on event `done`. */
  readonly next: number;
}

/** What became of one batch in one worker. */
export type BatchResult =
  | {
    readonly kind: "done";
    readonly done: number;
    readonly paused: FailedEvent | null;
    readonly stopped: boolean;
    readonly partial: Resume | null;
    readonly timings: readonly Timing[];
    /** The longest synchronous run of one callback on one event, in ms. */
    readonly cpuMs: number;
  }
  /**
   * The worker died or hung and was terminated: `error` fails the attempt in progress.
   * `hung`: a callback did not yield past its timeout (see PluginHost on why that pauses).
   * `collateral`: another plugin of the Worker caused it; nothing is charged to this one.
   * `blamed`: this plugin caused it (known), and its Worker hosted others.
   */
  | (WorkerSnapshot & {
    readonly kind: "crashed";
    readonly error: string;
    readonly hung: boolean;
    readonly collateral: boolean;
    readonly blamed: boolean;
  })
  /** Shutdown, and the batch did not end within the grace period: terminated. */
  | (WorkerSnapshot & { readonly kind: "killed" })
  | { readonly kind: "closed"; readonly done: number };

/** Who a seat runs, for names, messages and the pages it shares. */
export interface SeatOwner {
  /** The plugin's name. */
  readonly plugin: string;
  /** The entry file's base name. */
  readonly fileName: string;
  /** The plugin's logger (its records and the worker's own). */
  readonly log: Logger;
  /** A callback's name for messages. */
  readonly callbackName: (index: number) => string;
  /** Its code ended a Worker it shared while it had no batch: move it before the next. */
  readonly blamedIdle: (reason: string) => void;
  /** The longest timeout of its callbacks, in ms (0 before it loaded). */
  readonly longestTimeoutMs: () => number;
  /** The indices of the events of `events` the plugin wants (empty while not loaded). */
  readonly wanted: (events: readonly ShotGridEvent[]) => readonly number[];
}

/** How an isolate ended, for each of its seats. */
interface Ending {
  readonly reason: string;
  /** The tenant that caused it, when known. */
  readonly blame: number | null;
  readonly hung: boolean;
  /** Shutdown grace over: batches end `"killed"`. */
  readonly killed: boolean;
  /** Set by `end()`: the Worker hosted more than one plugin. */
  readonly crowded?: boolean;
}

const defaultGraceMs = 2000;
const defaultLoadTimeoutMs = 30_000;
/** Pages a Worker holds for plugins that have not taken them yet. */
const maxPages = 4;
const workerUrl = new URL("./worker_main.ts", import.meta.url);

/** One Worker isolate hosting one or several plugins; restarted by the next `Seat.spawn()`. */
export class PluginWorker {
  /** Its name in `plugins list` and thread names (`worker 1`, `plugin notify`). */
  readonly name: string;
  /** A pool Worker (may host several plugins), not one of a plugin's own. */
  readonly shared: boolean;
  /** Why its one plugin was moved here, or `null`. */
  readonly quarantined: string | null;
  readonly #permissions: WorkerPermissions;
  readonly #log: Logger;
  /**
   * `[tenant + 1 whose code runs now, heartbeat]`, written by the Worker; a new one for each
   * isolate, so that one given up while still running cannot write into its successor's.
   */
  #busy = new Int32Array(new SharedArrayBuffer(8));
  #heart: ReturnType<typeof setInterval> | undefined;
  readonly #stuckFloorMs: number;
  readonly #seats = new Map<number, Seat>();
  #worker: Worker | null = null;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #nextTenant = 0;
  #pages: { id: number; events: readonly ShotGridEvent[]; held: Uint8Array }[] = [];
  #nextPage = 1;

  /**
   * A Worker not started yet (the first seat's `spawn()` starts it).
   *
   * @param name Its name.
   * @param options `shared`, its `permissions`, the logger for the Worker's own records,
   *   `quarantined`: why its plugin was moved here.
   */
  constructor(
    name: string,
    options: {
      shared: boolean;
      permissions: WorkerPermissions;
      log: Logger;
      quarantined?: string;
      /** The shortest time without a heartbeat that counts as stuck (default 10 000 ms). */
      stuckFloorMs?: number;
    },
  ) {
    this.name = name;
    this.#stuckFloorMs = options.stuckFloorMs ?? 10_000;
    this.shared = options.shared;
    this.#permissions = options.permissions;
    this.#log = options.log;
    this.quarantined = options.quarantined ?? null;
  }

  /** Whether the isolate runs. */
  get alive(): boolean {
    return this.#worker !== null;
  }

  /** Plugins placed here. */
  get size(): number {
    return this.#seats.size;
  }

  /** Terminate the isolate; its seats' batches end `"closed"`. */
  close(): void {
    for (const seat of [...this.#seats.values()]) seat.close();
    this.#terminate();
  }

  /** @internal A seat takes its place; returns its tenant id. */
  attach(seat: Seat): number {
    const tenant = this.#nextTenant++;
    this.#seats.set(tenant, seat);
    return tenant;
  }

  /**
   * @internal A seat leaves: its plugin is unloaded; the last one out ends the isolate.
   * One whose code still holds the thread after `graceMs` (a loop its watchdog no longer
   * watches) ends the isolate, so its co-tenants restart instead of waiting behind it.
   */
  detach(tenant: number, graceMs: number): void {
    if (!this.#seats.delete(tenant)) return;
    this.post({ kind: "unload", tenant });
    if (this.#seats.size === 0 || !this.#worker) return this.#terminate();
    // Looked at later, not now: a batch posted just before may not have begun.
    const worker = this.#worker;
    const holds = () => this.#worker === worker && this.busyWith(tenant);
    this.#later(graceMs, () => {
      if (!holds()) return;
      // Two looks apart: a leftover continuation of the unloaded plugin is not a loop.
      this.#later(50, () => {
        if (!holds()) return;
        this.end({
          reason: "a plugin closed while its callback held the thread (a loop) was still running",
          blame: tenant,
          hung: true,
          killed: false,
        });
      });
    });
  }

  /** A timer cancelled when the isolate ends. */
  #later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    this.#timers.add(timer);
  }

  /** @internal Start the isolate if it is not running. */
  start(): void {
    if (this.#worker) return;
    const permissions = this.#permissions;
    const worker = new Worker(workerUrl, {
      type: "module",
      name: this.name,
      ...(permissions === "inherit" ? {} : { deno: { permissions } }),
    });
    this.#worker = worker;
    this.#busy = new Int32Array(new SharedArrayBuffer(8));
    worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
      if (this.#worker === worker) this.#onMessage(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      if (this.#worker !== worker) return;
      this.end({
        reason: `Worker crashed: ${event.message}`,
        blame: null,
        hung: false,
        killed: false,
      });
    };
    worker.postMessage({ kind: "init", busy: this.#busy.buffer } satisfies HostMessage);
    this.#watchHeart(worker);
  }

  /**
   * A thread whose event loop stops beating for longer than any callback of its plugins
   * may run (plus grace) is stuck outside a watched callback (a loop in a plugin's timer):
   * end it, charged to the plugin whose code holds it when known.
   */
  #watchHeart(worker: Worker): void {
    let beat = Atomics.load(this.#busy, 1);
    let beatAt = Date.now();
    this.#heart = setInterval(() => {
      if (this.#worker !== worker) return clearInterval(this.#heart);
      const now = Date.now();
      const current = Atomics.load(this.#busy, 1);
      if (current !== beat) {
        beat = current;
        beatAt = now;
        return;
      }
      // Not before its first beat (a Worker still starting), nor within a floor that rides
      // out pauses of a busy machine: this is the backstop, the watchdog the precise check.
      if (current === 0) return;
      let limit = this.#stuckFloorMs;
      for (const seat of this.#seats.values()) limit = Math.max(limit, seat.stuckAfterMs);
      if (now - beatAt <= limit) return;
      const busy = Atomics.load(this.#busy, 0);
      this.end({
        reason: `Worker ${this.name} did not answer for ${
          now - beatAt
        } ms: a plugin's code held its thread outside any callback`,
        blame: busy > 0 ? busy - 1 : null,
        hung: true,
        killed: false,
      });
    }, 250);
  }

  /** @internal Whether the tenant's code runs on the isolate's thread now. */
  busyWith(tenant: number): boolean {
    return Atomics.load(this.#busy, 0) === tenant + 1;
  }

  /** @internal Post to the isolate, if it runs. */
  post(message: HostMessage): void {
    this.#worker?.postMessage(message);
  }

  /** @internal A seat's callback hung: the isolate must go; blame who runs now. */
  hung(tenant: number, reason: string): void {
    const busy = Atomics.load(this.#busy, 0);
    this.end({ reason, blame: busy > 0 ? busy - 1 : tenant, hung: true, killed: false });
  }

  /** @internal Terminate the isolate and tell each seat how, with where it was. */
  end(ending: Ending): void {
    if (!this.#worker) return;
    const seats = [...this.#seats.entries()];
    // First: a thread that is slow rather than stuck runs on after terminate(), and must
    // start no callback past where its plugins are now taken to be (see slot.stop).
    for (const [, seat] of seats) seat.giveUp();
    const snapshots = seats.map(([, seat]) => seat.snapshot());
    // Unknown cause (a crash, `Deno.exit` after an await): the one plugin whose callback
    // was running, if only one was; in a Worker of its own, its plugin.
    const runningNow = seats.filter((_, i) => snapshots[i]!.running).map(([tenant]) => tenant);
    const blame = ending.blame ??
      (seats.length === 1 ? seats[0]![0] : runningNow.length === 1 ? runningNow[0]! : null);
    this.#terminate();
    let told = false;
    seats.forEach(([tenant, seat], i) => {
      const crowded = seats.length > 1;
      told = seat.ended({ ...ending, blame, crowded }, tenant === blame, snapshots[i]!) || told;
    });
    if (!told && !ending.killed) {
      this.#log.error("The worker {worker} ended while idle: {error}", {
        worker: this.name,
        error: ending.reason,
      });
    }
  }

  /**
   * @internal The page payload for a delivery of `indices` of `events`: the page is sent
   * once, with every event any plugin here wants; later deliveries name it.
   */
  page(events: readonly ShotGridEvent[], indices: readonly number[]): PagePayload {
    const entry = this.#pages.find((p) => p.events === events);
    if (entry && indices.every((i) => entry.held[i] === 1)) {
      return { id: entry.id, bytes: null, indices: null, evict: [] };
    }
    const held = new Uint8Array(events.length);
    for (const i of indices) held[i] = 1;
    for (const seat of this.#seats.values()) for (const i of seat.owner.wanted(events)) held[i] = 1;
    const union: number[] = [];
    for (let i = 0; i < held.length; i++) if (held[i] === 1) union.push(i);
    const evict: number[] = [];
    if (entry) {
      evict.push(entry.id);
      this.#pages = this.#pages.filter((p) => p !== entry);
    }
    const id = this.#nextPage++;
    this.#pages.push({ id, events, held });
    while (this.#pages.length > maxPages) evict.push(this.#pages.shift()!.id);
    return { id, bytes: serializeEvents(events, union), indices: packIndices(union), evict };
  }

  #terminate(): void {
    clearInterval(this.#heart);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#worker?.terminate();
    this.#worker = null;
    this.#pages = [];
  }

  #onMessage(message: WorkerMessage): void {
    if (message.kind === "exiting") {
      return this.end({
        reason: `Worker exited: ${message.reason}`,
        blame: message.tenant,
        hung: false,
        killed: false,
      });
    }
    if (message.kind === "log" && message.tenant === null) {
      return void this.#log[message.level]("{message}", { message: message.message });
    }
    this.#seats.get(message.tenant!)?.onMessage(message);
  }
}

/** One plugin's place in a {@link PluginWorker}; `moveTo()` another (quarantine). */
export class Seat {
  /** Who runs here. */
  readonly owner: SeatOwner;
  readonly #settings: PluginHostOptions;
  /** Shared with the isolate running the plugin; a new one for each isolate. */
  #control = controlBlock();
  #worker: PluginWorker;
  #tenant: number;
  #loaded = false;
  #loadWaiter: ((result: LoadResult | "collateral") => void) | null = null;
  #pending: {
    readonly seq: number;
    readonly skipped: FailedEvent[];
    readonly resolve: (result: BatchResult) => void;
  } | null = null;
  #seq = 0;
  #stop = false;

  /**
   * A seat in `worker`, its plugin not loaded yet (`spawn()` loads it).
   *
   * @param worker The Worker.
   * @param options The host's options and who runs here.
   */
  constructor(worker: PluginWorker, options: { settings: PluginHostOptions; owner: SeatOwner }) {
    this.#worker = worker;
    this.#settings = options.settings;
    this.owner = options.owner;
    this.#tenant = worker.attach(this);
  }

  /** The Worker it sits in. */
  get worker(): PluginWorker {
    return this.#worker;
  }

  /** Whether the plugin is loaded in a running Worker. */
  get alive(): boolean {
    return this.#loaded && this.#worker.alive;
  }

  /** Time past a timeout, or after a shutdown, before a worker is terminated. */
  get graceMs(): number {
    return this.#settings.graceMs ?? defaultGraceMs;
  }

  /** @internal How long its code may hold the thread: its longest callback timeout + grace. */
  get stuckAfterMs(): number {
    return Math.max(this.#settings.callbackTimeoutMs, this.owner.longestTimeoutMs()) + this.graceMs;
  }

  /**
   * Leave this Worker for `worker` (its plugin is unloaded here; `spawn()` loads it there).
   *
   * @param worker The new Worker.
   */
  moveTo(worker: PluginWorker): void {
    this.#worker.detach(this.#tenant, this.graceMs);
    this.#loaded = false;
    this.#worker = worker;
    this.#tenant = worker.attach(this);
  }

  /**
   * Set or clear the stop flag: set, the batch ends after the event in flight (and a retry
   * wait ends at once).
   *
   * @param on The flag.
   */
  setStop(on: boolean): void {
    this.#stop = on;
    Atomics.store(this.#control.ints, slot.stop, on ? 1 : 0);
    if (on) this.#worker.post({ kind: "stop", tenant: this.#tenant });
  }

  /** Shutdown: abort the running callback's signal; no further callback starts. */
  abort(): void {
    this.#worker.post({ kind: "abort", tenant: this.#tenant });
  }

  /**
   * Load the plugin into its Worker (starting the Worker if it is not running).
   *
   * @param bundle The plugin's code.
   * @returns Its callbacks, or why it failed.
   */
  async spawn(bundle: PluginBundle): Promise<LoadResult> {
    // A co-tenant that kills the Worker while this plugin loads is not this plugin's fault.
    for (let attempt = 1;; attempt++) {
      const result = await this.#load(bundle);
      if (result !== "collateral") return result;
      if (attempt >= 3) {
        return {
          kind: "failed",
          error:
            `Cannot load plugin "${this.owner.fileName}": its Worker kept ending while it loaded`,
        };
      }
    }
  }

  /**
   * Run the events at `indices` of `events` in the Worker, watched for hung callbacks.
   *
   * @param events A page (shared with co-tenants: the Worker gets it once).
   * @param indices Ascending indices of the events to run.
   * @param options `resume`: where the first event picks up; `skipped`: receives failures
   *   passed over; `timing`: collect timings.
   * @returns How it ended; never rejects.
   */
  run(
    events: readonly ShotGridEvent[],
    indices: readonly number[],
    options: { resume: Resume | null; skipped: FailedEvent[]; timing: boolean },
  ): Promise<BatchResult> {
    const { resume, skipped, timing } = options;
    const seq = ++this.#seq;
    const { ints } = this.#control;
    Atomics.store(ints, slot.done, 0);
    Atomics.store(ints, slot.running, 0);
    Atomics.store(ints, slot.callback, -1);
    Atomics.store(ints, slot.attempt, -1);
    Atomics.store(ints, slot.cpuMs, 0);
    const graceMs = this.graceMs;
    let watchdog: Disposable | undefined;
    return new Promise<BatchResult>((resolve) => {
      this.#pending = { seq, skipped, resolve };
      const worker = this.#worker;
      const page = worker.page(events, indices);
      worker.post({
        kind: "deliver",
        tenant: this.#tenant,
        seq,
        page,
        indices: packIndices(indices),
        resume,
        timing,
      });
      watchdog = watchCallbacks(this.#control, {
        graceMs,
        onHung: ({ callbackIndex, timeoutMs }) =>
          worker.hung(
            this.#tenant,
            `TimeoutError: Callback ${
              this.owner.callbackName(callbackIndex)
            } did not return within ${timeoutMs} ms (+${graceMs} ms grace) and was terminated with its worker`,
          ),
      });
    }).finally(() => {
      watchdog?.[Symbol.dispose]();
      this.#pending = null;
    });
  }

  /** Shutdown grace is over: terminate the Worker (its batches end `"killed"`). */
  kill(): void {
    if (!this.#pending) return;
    this.#worker.end({ reason: "shutdown", blame: null, hung: false, killed: true });
  }

  /** Leave for good: a load in progress fails, a batch in progress ends `"closed"`. */
  close(): void {
    const done = Atomics.load(this.#control.ints, slot.done);
    this.#worker.detach(this.#tenant, this.graceMs);
    this.#loaded = false;
    this.#loadWaiter?.({
      kind: "failed",
      error: `Cannot load plugin "${this.owner.fileName}": its host was closed`,
    });
    this.#pending?.resolve({ kind: "closed", done });
  }

  /**
   * @internal The isolate is being given up: it must start no further callback, and the
   * next one gets a control block of its own.
   */
  giveUp(): void {
    Atomics.store(this.#control.ints, slot.stop, ended);
  }

  /** @internal Where the plugin is, from the control block. */
  snapshot(): WorkerSnapshot {
    const { ints } = this.#control;
    return {
      done: Atomics.load(ints, slot.done),
      callbackIndex: Atomics.load(ints, slot.callback),
      attempt: Atomics.load(ints, slot.attempt),
      running: Atomics.load(ints, slot.running) === 1,
      next: Atomics.load(ints, slot.next),
    };
  }

  /**
   * @internal The Worker ended: fail or end what this seat was doing.
   * @returns Whether this seat was loading or running a batch.
   */
  ended(ending: Ending, blamed: boolean, snapshot: WorkerSnapshot): boolean {
    this.#loaded = false;
    this.#control = controlBlock();
    const collateral = !blamed && ending.blame !== null;
    if (this.#loadWaiter) {
      this.#loadWaiter(
        collateral ? "collateral" : {
          kind: "failed",
          error: `Cannot load plugin "${this.owner.fileName}": ${ending.reason}`,
        },
      );
      return true;
    }
    if (!this.#pending) {
      if (blamed && ending.crowded === true) this.owner.blamedIdle(ending.reason);
      return false;
    }
    if (ending.killed) {
      this.#pending.resolve({ kind: "killed", ...snapshot });
      return true;
    }
    const error = collateral
      ? `its Worker ${this.#worker.name} was terminated: ${ending.reason}`
      : ending.reason;
    this.#pending.resolve({
      kind: "crashed",
      ...snapshot,
      error,
      hung: ending.hung && blamed,
      collateral,
      blamed: blamed && ending.crowded === true,
    });
    return true;
  }

  /** @internal A message from this seat's tenant. */
  onMessage(message: WorkerMessage): void {
    switch (message.kind) {
      case "loaded":
        this.#loaded = true;
        this.#loadWaiter?.({
          kind: "loaded",
          callbacks: message.callbacks,
          emails: message.emails,
        });
        break;
      case "loadFailed":
        this.#loadWaiter?.({ kind: "failed", error: message.error });
        if (message.stack) this.owner.log.debug("{stack}", { stack: message.stack });
        break;
      case "log": {
        // Without properties, braces are text (a JSON dump), not LogTape placeholders.
        const text = message.properties === null
          ? message.message.replaceAll("{", "{{").replaceAll("}", "}}")
          : message.message;
        this.owner.log[message.level](text, message.properties ?? {});
        break;
      }
      case "skipped":
        if (this.#pending?.seq === message.seq) this.#pending.skipped.push(message.failure);
        break;
      case "done":
        if (this.#pending?.seq === message.seq) {
          const { done, paused, stopped, partial, timings } = message;
          const cpuMs = Atomics.load(this.#control.ints, slot.cpuMs);
          this.#pending.resolve({ kind: "done", done, paused, stopped, partial, timings, cpuMs });
        }
        break;
    }
  }

  async #load(bundle: PluginBundle): Promise<LoadResult | "collateral"> {
    const { ints } = this.#control;
    for (let i = 0; i < ints.length; i++) Atomics.store(ints, i, 0);
    Atomics.store(ints, slot.stop, this.#stop ? 1 : 0);
    Atomics.store(ints, slot.callback, -1);
    Atomics.store(ints, slot.attempt, -1);
    this.#loaded = false;
    this.#worker.start();
    const loadTimeoutMs = this.#settings.loadTimeoutMs ?? defaultLoadTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let timedOut = false;
    const result = await new Promise<LoadResult | "collateral">((resolve) => {
      this.#loadWaiter = resolve;
      timer = setTimeout(() => {
        timedOut = true;
        resolve({
          kind: "failed",
          error:
            `Cannot load plugin "${this.owner.fileName}": it did not finish loading within ${loadTimeoutMs} ms`,
        });
      }, loadTimeoutMs);
      this.#worker.post({
        kind: "load",
        tenant: this.#tenant,
        settings: this.#workerSettings(bundle),
      });
    }).finally(() => {
      clearTimeout(timer);
      this.#loadWaiter = null;
    });
    if (result !== "collateral" && result.kind === "failed") {
      // A top level that never finishes may hold the thread: a shared Worker restarts.
      if (timedOut && this.#worker.size > 1 && this.#worker.busyWith(this.#tenant)) {
        this.#worker.end({ reason: result.error, blame: this.#tenant, hung: true, killed: false });
      } else this.#worker.post({ kind: "unload", tenant: this.#tenant });
      this.#loaded = false;
    }
    return result;
  }

  #workerSettings(bundle: PluginBundle): WorkerSettings {
    const { backoff = {}, shotgrid, callbackTimeoutMs, retries } = this.#settings;
    return {
      plugin: this.owner.plugin,
      fileName: this.owner.fileName,
      url: bundle.url,
      modules: bundle.modules,
      shotgrid: { ...shotgrid },
      callbackTimeoutMs,
      retries,
      backoff: {
        ...(backoff.initialMs !== undefined ? { initialMs: backoff.initialMs } : {}),
        ...(backoff.maxMs !== undefined ? { maxMs: backoff.maxMs } : {}),
        ...(backoff.factor !== undefined ? { factor: backoff.factor } : {}),
      },
      control: this.#control.buffer,
    };
  }
}
