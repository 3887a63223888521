/**
 * One plugin's Worker as its host drives it: start it and load the plugin, hand it a
 * batch and wait for the outcome, watch it (watchdog.ts), terminate it. Retries across
 * restarts and resume points are the host's delivery policy (host.ts), not this file's.
 *
 * The host and worker share a control block (protocol.ts): the host sets the stop flag,
 * the worker writes how far the batch got and which callback runs, so a worker that is
 * terminated still tells where it was.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { PluginPermissions } from "../config/types.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import type { PluginBundle } from "./loader.ts";
import { workerPermissions } from "./permissions.ts";
import {
  type CallbackInfo,
  controlBlock,
  type FailedEvent,
  type HostMessage,
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
  /** Worker permissions; `null`/absent inherits the daemon's. */
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

/** What loading the plugin into a new worker gave. */
export type LoadResult =
  | {
    readonly kind: "loaded";
    readonly callbacks: readonly CallbackInfo[];
    readonly emails: readonly string[] | boolean;
  }
  | { readonly kind: "failed"; readonly error: string };

/** Where the worker was when it ended; `callbackIndex` -1: no callback running or waiting. */
export interface WorkerSnapshot {
  /** Events of the batch finished. */
  readonly done: number;
  readonly callbackIndex: number;
  /** The attempt running, or the last failed one while waiting to retry; -1 with no callback. */
  readonly attempt: number;
  /** Whether that attempt was running (not waiting to retry). */
  readonly running: boolean;
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
  }
  /**
   * The worker died or hung and was terminated: `error` fails the attempt in progress.
   * `hung`: a callback did not yield past its timeout (see PluginHost on why that pauses).
   */
  | (WorkerSnapshot & { readonly kind: "crashed"; readonly error: string; readonly hung: boolean })
  /** Shutdown, and the batch did not end within the grace period: terminated. */
  | (WorkerSnapshot & { readonly kind: "killed" })
  | { readonly kind: "closed"; readonly done: number };

/** Who the worker runs, for names and messages. */
export interface PluginWorkerOptions {
  /** The plugin's name. */
  readonly plugin: string;
  /** The entry file's base name. */
  readonly fileName: string;
  /** The plugin's logger (its records and the worker's own). */
  readonly log: Logger;
  /** A callback's name for messages. */
  readonly callbackName: (index: number) => string;
}

interface PendingBatch {
  readonly seq: number;
  readonly skipped: FailedEvent[];
  readonly resolve: (result: BatchResult) => void;
}

const defaultGraceMs = 2000;
const defaultLoadTimeoutMs = 30_000;
const workerUrl = new URL("./worker_main.ts", import.meta.url);

/** A plugin's Worker, replaced by `spawn()` after it died. */
export class PluginWorker {
  readonly #settings: PluginHostOptions;
  readonly #who: PluginWorkerOptions;
  readonly #control = controlBlock();
  #worker: Worker | null = null;
  #loadWaiter: ((result: LoadResult) => void) | null = null;
  #pending: PendingBatch | null = null;
  #seq = 0;
  #stop = false;

  /**
   * A handle with no worker yet: `spawn()` starts one.
   *
   * @param settings The host's options.
   * @param who The plugin's name, file name, logger.
   */
  constructor(settings: PluginHostOptions, who: PluginWorkerOptions) {
    this.#settings = settings;
    this.#who = who;
  }

  /** Whether a worker runs (`false` before `spawn()` and after it died or was terminated). */
  get alive(): boolean {
    return this.#worker !== null;
  }

  /** Time past a timeout, or after a shutdown, before a worker is terminated. */
  get graceMs(): number {
    return this.#settings.graceMs ?? defaultGraceMs;
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
    if (on) this.#post({ kind: "stop" });
  }

  /** Shutdown: abort the running callback's signal; no further callback starts. */
  abort(): void {
    this.#post({ kind: "abort" });
  }

  /**
   * Start a new worker and load the plugin into it.
   *
   * @param bundle The plugin's code.
   * @returns Its callbacks, or why it failed (the worker is then terminated).
   */
  async spawn(bundle: PluginBundle): Promise<LoadResult> {
    this.terminate();
    const { ints } = this.#control;
    for (let i = 0; i < ints.length; i++) Atomics.store(ints, i, 0);
    Atomics.store(ints, slot.stop, this.#stop ? 1 : 0);
    Atomics.store(ints, slot.callback, -1);
    Atomics.store(ints, slot.attempt, -1);
    const permissions = workerPermissions(this.#settings.permissions, this.#settings.shotgrid);
    const worker = new Worker(workerUrl, {
      type: "module",
      name: `plugin ${this.#who.plugin}`,
      ...(permissions === "inherit" ? {} : { deno: { permissions } }),
    });
    this.#worker = worker;
    worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
      if (this.#worker === worker) this.#onMessage(event.data);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      if (this.#worker === worker) this.#ended(`Worker crashed: ${event.message}`);
    };
    const loadTimeoutMs = this.#settings.loadTimeoutMs ?? defaultLoadTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await new Promise<LoadResult>((resolve) => {
      this.#loadWaiter = resolve;
      timer = setTimeout(() =>
        resolve({
          kind: "failed",
          error:
            `Cannot load plugin "${this.#who.fileName}": it did not finish loading within ${loadTimeoutMs} ms`,
        }), loadTimeoutMs);
      this.#post({ kind: "load", settings: this.#workerSettings(bundle) });
    }).finally(() => {
      clearTimeout(timer);
      this.#loadWaiter = null;
    });
    if (result.kind === "failed") this.terminate();
    return result;
  }

  /**
   * Run one batch in the current worker, watched for hung callbacks.
   *
   * @param events The wanted events, one JSON array.
   * @param options `resume`: where the first event picks up; `skipped`: receives failures
   *   passed over; `timing`: collect timings.
   * @returns How it ended; never rejects.
   */
  run(
    events: Uint8Array<SharedArrayBuffer>,
    options: { resume: Resume | null; skipped: FailedEvent[]; timing: boolean },
  ): Promise<BatchResult> {
    const { resume, skipped, timing } = options;
    const seq = ++this.#seq;
    const { ints } = this.#control;
    Atomics.store(ints, slot.done, 0);
    Atomics.store(ints, slot.running, 0);
    Atomics.store(ints, slot.callback, -1);
    Atomics.store(ints, slot.attempt, -1);
    const graceMs = this.graceMs;
    let watchdog: Disposable | undefined;
    return new Promise<BatchResult>((resolve) => {
      this.#pending = { seq, skipped, resolve };
      this.#post({ kind: "deliver", seq, events, resume, timing });
      watchdog = watchCallbacks(this.#control, {
        graceMs,
        onHung: ({ callbackIndex, timeoutMs }) =>
          this.#crashed(
            `TimeoutError: Callback ${
              this.#who.callbackName(callbackIndex)
            } did not return within ${timeoutMs} ms (+${graceMs} ms grace) and was terminated with its worker`,
            true,
          ),
      });
    }).finally(() => {
      watchdog?.[Symbol.dispose]();
      this.#pending = null;
    });
  }

  /** Shutdown grace is over: terminate a worker still in a batch (which ends `"killed"`). */
  kill(): void {
    if (!this.#pending) return;
    const snapshot = this.#snapshot();
    this.terminate();
    this.#pending.resolve({ kind: "killed", ...snapshot });
  }

  /** Terminate for good: a load in progress fails, a batch in progress ends `"closed"`. */
  close(): void {
    this.terminate();
    this.#loadWaiter?.({
      kind: "failed",
      error: `Cannot load plugin "${this.#who.fileName}": its host was closed`,
    });
    this.#pending?.resolve({ kind: "closed", done: this.#snapshot().done });
  }

  /** Terminate the worker, if any (a later `spawn()` starts another). */
  terminate(): void {
    this.#worker?.terminate();
    this.#worker = null;
  }

  #workerSettings(bundle: PluginBundle): WorkerSettings {
    const { backoff = {}, shotgrid, callbackTimeoutMs, retries } = this.#settings;
    return {
      plugin: this.#who.plugin,
      fileName: this.#who.fileName,
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

  #snapshot(): WorkerSnapshot {
    const { ints } = this.#control;
    return {
      done: Atomics.load(ints, slot.done),
      callbackIndex: Atomics.load(ints, slot.callback),
      attempt: Atomics.load(ints, slot.attempt),
      running: Atomics.load(ints, slot.running) === 1,
    };
  }

  /** The worker is gone or hung: kill it and fail the attempt in progress. */
  #crashed(error: string, hung = false): void {
    const snapshot = this.#snapshot();
    this.terminate();
    this.#pending?.resolve({ kind: "crashed", ...snapshot, error, hung });
  }

  /** The worker died (crash, or the plugin ended it): fail what it was doing. */
  #ended(reason: string): void {
    if (this.#loadWaiter) {
      this.#loadWaiter({
        kind: "failed",
        error: `Cannot load plugin "${this.#who.fileName}": ${reason}`,
      });
    } else if (this.#pending) {
      this.#crashed(reason);
    } else {
      this.#who.log.error("The worker of plugin {plugin} ended while idle: {error}", {
        plugin: this.#who.plugin,
        error: reason,
      });
      this.terminate();
    }
  }

  #onMessage(message: WorkerMessage): void {
    switch (message.kind) {
      case "loaded":
        this.#loadWaiter?.({
          kind: "loaded",
          callbacks: message.callbacks,
          emails: message.emails,
        });
        break;
      case "loadFailed":
        this.#loadWaiter?.({ kind: "failed", error: message.error });
        if (message.stack) this.#who.log.debug("{stack}", { stack: message.stack });
        break;
      case "exiting":
        this.#ended(`Worker exited: ${message.reason}`);
        break;
      case "log": {
        // Without properties, braces are text (a JSON dump), not LogTape placeholders.
        const text = message.properties === null
          ? message.message.replaceAll("{", "{{").replaceAll("}", "}}")
          : message.message;
        this.#who.log[message.level](text, message.properties ?? {});
        break;
      }
      case "skipped":
        if (this.#pending?.seq === message.seq) this.#pending.skipped.push(message.failure);
        break;
      case "done":
        if (this.#pending?.seq === message.seq) {
          const { done, paused, stopped, partial, timings } = message;
          this.#pending.resolve({ kind: "done", done, paused, stopped, partial, timings });
        }
        break;
    }
  }

  #post(message: HostMessage): void {
    this.#worker?.postMessage(message);
  }
}
