/**
 * The plugin host: one Worker per plugin, driven by the engine through a small contract
 * (`start`, `wants`, `deliver`, `requestStop`, `close`). A bad plugin never hurts the
 * daemon or another plugin:
 *
 * - load failures (syntax, imports, no `registerCallbacks`, a throwing one, a top level
 *   that never finishes) give a host with `status: "failed"` and a `loadError`;
 * - a batch crosses to the worker as ONE JSON string (structured clone of object arrays
 *   costs 1.7-1.9x more, see performance-notes), serialised once per page array for all
 *   hosts; the worker acks once per batch;
 * - stopping and the watchdog use shared memory, not a message per event: the worker
 *   writes which callback runs and since when; the host sets a stop flag;
 * - a callback running past its timeout + `graceMs` without yielding (CPU loop, ignored
 *   signal), or a crashed worker, gets the worker terminated and restarted from the
 *   same bundle; that attempt counts as failed and retries/pause/skip go on as usual.
 *
 * Memory: each Worker is a V8 isolate. Measured (Deno 2.9.6, idle hosts of a small
 * plugin, process RSS): 1 host 83 MiB, 10 hosts 175 MiB, 20 hosts 274 MiB, so about
 * 10 MiB per plugin after the first (which also pays for the loader's wasm).
 *
 * Permissions: with `permissions` set, the worker gets exactly those (`read`, `write`,
 * `env`, `run`, `net`; the rest denied), plus network access to the ShotGrid site and
 * proxy so `sg` works. Needs `--unstable-worker-options`. Without, it inherits.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { PluginPermissions } from "../config/types.ts";
import { logCallbackTiming } from "../log/timing.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import type { PluginFile } from "./discovery.ts";
import { describeError, PluginLoadError } from "./errors.ts";
import { bundlePlugin, type PluginBundle } from "./loader.ts";
import { compileMatchEvents, type EventMatcher } from "./matcher.ts";
import {
  type CallbackInfo,
  type Control,
  controlBlock,
  type FailedEvent,
  type HostMessage,
  type Resume,
  slot,
  type Timing,
  type WorkerMessage,
} from "./protocol.ts";

export type { CallbackInfo, FailedEvent } from "./protocol.ts";

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
  /** Time past a callback's timeout before its worker is terminated (default 2000 ms). */
  readonly graceMs?: number;
  /** Longest time importing and registering may take (default 30 000 ms). */
  readonly loadTimeoutMs?: number;
}

/** What became of a batch. */
export interface DeliveryReport {
  /** How many events from the front of `events` are finished (success, not wanted, or skipped). */
  readonly done: number;
  /** Id of `events[done - 1]`, or `null`. */
  readonly lastId: number | null;
  /** `stopOnError: false` failures, recorded and passed. */
  readonly skipped: readonly FailedEvent[];
  /** A `stopOnError: true` failure: `events[done]` is the one to resume at. */
  readonly paused: FailedEvent | null;
  /** `requestStop()`, the signal or `close()` cut the batch short. */
  readonly stopped: boolean;
}

type BatchResult =
  | {
    readonly kind: "done";
    readonly done: number;
    readonly paused: FailedEvent | null;
    readonly stopped: boolean;
    readonly timings: readonly Timing[];
  }
  | {
    readonly kind: "crashed";
    readonly done: number;
    readonly callbackIndex: number;
    readonly attempt: number;
    readonly error: string;
  }
  | { readonly kind: "closed"; readonly done: number };

type LoadResult =
  | {
    readonly kind: "loaded";
    readonly callbacks: readonly CallbackInfo[];
    readonly emails: readonly string[] | boolean;
  }
  | { readonly kind: "failed"; readonly error: string };

interface PendingBatch {
  readonly seq: number;
  readonly skipped: FailedEvent[];
  readonly resolve: (result: BatchResult) => void;
}

const defaultGraceMs = 2000;
const defaultLoadTimeoutMs = 30_000;
const workerUrl = new URL("./worker_main.ts", import.meta.url);

/** A loaded plugin in its own Worker. Open with `PluginHost.start`, close with `await using`. */
export class PluginHost implements AsyncDisposable {
  /** The plugin's name. */
  readonly name: string;
  /** The plugin's entry file. */
  readonly file: string;
  readonly #options: PluginHostOptions;
  readonly #log: Logger;
  readonly #control: Control = controlBlock();
  #hash: string;
  #status: "ready" | "failed" = "ready";
  #loadError: string | null = null;
  #callbacks: readonly CallbackInfo[] = [];
  #matchers: readonly EventMatcher[] = [];
  #emails: readonly string[] | boolean = true;
  #bundle: PluginBundle | null = null;
  #worker: Worker | null = null;
  #loadWaiter: ((result: LoadResult) => void) | null = null;
  #pending: PendingBatch | null = null;
  #seq = 0;
  #delivering = false;
  #stopRequested = false;
  #closed = false;

  private constructor(plugin: PluginFile, options: PluginHostOptions) {
    this.name = plugin.name;
    this.file = plugin.file;
    this.#hash = plugin.hash;
    this.#options = options;
    this.#log = getLogger(["sgevents", "plugin", plugin.name]);
  }

  /**
   * Bundle the plugin, start its worker and register its callbacks.
   *
   * @param plugin The plugin file (from discovery).
   * @param options ShotGrid settings, timeouts, retries, permissions.
   * @returns A host; never rejects for a plugin fault: `status` is `"failed"` with a `loadError`.
   */
  static async start(plugin: PluginFile, options: PluginHostOptions): Promise<PluginHost> {
    const host = new PluginHost(plugin, options);
    try {
      host.#bundle = await bundlePlugin(plugin.file);
      host.#hash = host.#bundle.hash;
      const result = await host.#spawn();
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
   * @param options `signal`: shutdown; stops after the event in flight and aborts the running
   *   callback's `ctx.signal`.
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
    Atomics.store(this.#control.ints, slot.stop, 0);
    const { signal } = options;
    const onAbort = () => {
      this.requestStop();
      this.#post({ kind: "abort" });
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal?.aborted) onAbort();
      return await this.#deliver(events);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#delivering = false;
    }
  }

  /** Finish the event in flight, then end the pending `deliver()` with `stopped: true`. No-op when idle. */
  requestStop(): void {
    if (!this.#delivering) return;
    this.#stopRequested = true;
    Atomics.store(this.#control.ints, slot.stop, 1);
    this.#post({ kind: "stop" });
  }

  /** Terminate the worker; a pending `deliver()` resolves with `stopped: true`. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#terminate();
    this.#loadWaiter?.({
      kind: "failed",
      error: `Cannot load plugin "${this.#fileName}": its host was closed`,
    });
    this.#pending?.resolve({ kind: "closed", done: Atomics.load(this.#control.ints, slot.done) });
    return Promise.resolve();
  }

  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  get #fileName(): string {
    return this.file.split(/[\\/]/).pop() ?? this.file;
  }

  async #deliver(events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
    const wanted: number[] = [];
    for (let i = 0; i < events.length; i++) if (this.wants(events[i]!)) wanted.push(i);
    const skipped: FailedEvent[] = [];
    const finish = (finished: number, paused: FailedEvent | null, stopped: boolean) => {
      const done = finished >= wanted.length ? events.length : wanted[finished]!;
      return {
        done,
        lastId: done > 0 ? events[done - 1]!.id : null,
        skipped,
        paused,
        stopped: stopped && done < events.length,
      };
    };
    // Timings cost a record per callback and event: only collected when the timing log is on.
    const timing = getLogger(["sgevents", "timing"]).isEnabledFor("info");
    let offset = 0;
    let resume: Resume | null = null;
    let payload = serializeEvents(events, wanted);
    for (;;) {
      if (offset >= wanted.length) return finish(offset, null, false);
      if (this.#stopRequested || this.#closed) return finish(offset, null, true);
      if (this.#worker === null) {
        const result = await this.#spawn();
        if (result.kind === "failed") {
          this.#fail(result.error);
          const failure: FailedEvent = {
            id: events[wanted[offset]!]!.id,
            callback: resume ? this.#callbackName(resume.callbackIndex) : "(load)",
            error: result.error,
            stack: null,
            attempts: resume?.failedAttempts ?? 0,
          };
          return this.#closed ? finish(offset, null, true) : finish(offset, failure, false);
        }
      }
      const result = await this.#runBatch(payload, resume, skipped, timing);
      if (result.kind === "done") {
        this.#emitTimings(result.timings);
        return finish(offset + result.done, result.paused, result.stopped);
      }
      if (result.kind === "closed") return finish(offset + result.done, null, true);
      offset += result.done;
      resume = {
        callbackIndex: result.callbackIndex,
        failedAttempts: result.attempt,
        error: result.error,
        stack: null,
      };
      this.#log.warning(
        "Restarting the worker of plugin {plugin} after callback {callback} failed on event {eventId}: {error}",
        {
          plugin: this.name,
          callback: this.#callbackName(result.callbackIndex),
          eventId: events[wanted[offset] ?? 0]?.id ?? null,
          error: result.error,
        },
      );
      payload = serializeEvents(events, wanted.slice(offset));
    }
  }

  #runBatch(
    events: string,
    resume: Resume | null,
    skipped: FailedEvent[],
    timing: boolean,
  ): Promise<BatchResult> {
    const seq = ++this.#seq;
    const { ints } = this.#control;
    Atomics.store(ints, slot.done, 0);
    Atomics.store(ints, slot.running, 0);
    const graceMs = this.#options.graceMs ?? defaultGraceMs;
    let watchdog: ReturnType<typeof setInterval> | undefined;
    return new Promise<BatchResult>((resolve) => {
      this.#pending = { seq, skipped, resolve };
      this.#post({ kind: "deliver", seq, events, resume, timing });
      watchdog = setInterval(() => {
        if (Atomics.load(ints, slot.running) !== 1) return;
        const started = Number(Atomics.load(this.#control.startedAt, 0));
        const timeoutMs = Atomics.load(ints, slot.timeoutMs);
        if (Date.now() - started <= timeoutMs + graceMs) return;
        this.#crashed(
          `TimeoutError: Callback ${
            this.#callbackName(Atomics.load(ints, slot.callback))
          } did not return within ${timeoutMs} ms (+${graceMs} ms grace) and was terminated with its worker`,
        );
      }, Math.max(20, Math.min(1000, graceMs / 4)));
    }).finally(() => {
      clearInterval(watchdog);
      this.#pending = null;
    });
  }

  /** The worker is gone or hung: kill it and fail the attempt in progress. */
  #crashed(error: string): void {
    const { ints } = this.#control;
    this.#terminate();
    this.#pending?.resolve({
      kind: "crashed",
      done: Atomics.load(ints, slot.done),
      callbackIndex: Atomics.load(ints, slot.callback),
      attempt: Math.max(1, Atomics.load(ints, slot.attempt)),
      error,
    });
  }

  /** The worker died (crash, or the plugin ended it): fail what it was doing. */
  #ended(reason: string): void {
    if (this.#loadWaiter) {
      this.#loadWaiter({
        kind: "failed",
        error: `Cannot load plugin "${this.#fileName}": ${reason}`,
      });
    } else if (this.#pending) {
      this.#crashed(reason);
    } else {
      this.#log.error("The worker of plugin {plugin} ended while idle: {error}", {
        plugin: this.name,
        error: reason,
      });
      this.#terminate();
    }
  }

  async #spawn(): Promise<LoadResult> {
    const bundle = this.#bundle!;
    const { ints } = this.#control;
    for (let i = 0; i < ints.length; i++) Atomics.store(ints, i, 0);
    Atomics.store(ints, slot.stop, this.#stopRequested ? 1 : 0);
    const permissions = workerPermissions(this.#options.permissions, this.#options.shotgrid);
    const worker = new Worker(workerUrl, {
      type: "module",
      name: `plugin ${this.name}`,
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
    const { backoff = {} } = this.#options;
    const loadTimeoutMs = this.#options.loadTimeoutMs ?? defaultLoadTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await new Promise<LoadResult>((resolve) => {
      this.#loadWaiter = resolve;
      timer = setTimeout(() =>
        resolve({
          kind: "failed",
          error:
            `Cannot load plugin "${this.#fileName}": it did not finish loading within ${loadTimeoutMs} ms`,
        }), loadTimeoutMs);
      this.#post({
        kind: "load",
        settings: {
          plugin: this.name,
          fileName: this.#fileName,
          url: bundle.url,
          modules: bundle.modules,
          shotgrid: { ...this.#options.shotgrid },
          callbackTimeoutMs: this.#options.callbackTimeoutMs,
          retries: this.#options.retries,
          backoff: {
            ...(backoff.initialMs !== undefined ? { initialMs: backoff.initialMs } : {}),
            ...(backoff.maxMs !== undefined ? { maxMs: backoff.maxMs } : {}),
            ...(backoff.factor !== undefined ? { factor: backoff.factor } : {}),
          },
          control: this.#control.buffer,
        },
      });
    }).finally(() => {
      clearTimeout(timer);
      this.#loadWaiter = null;
    });
    if (result.kind === "failed") this.#terminate();
    return result;
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
        if (message.stack) this.#log.debug("{stack}", { stack: message.stack });
        break;
      case "exiting":
        this.#ended(`Worker exited: ${message.reason}`);
        break;
      case "log": {
        // Without properties, braces are text (a JSON dump), not LogTape placeholders.
        const text = message.properties === null
          ? message.message.replaceAll("{", "{{").replaceAll("}", "}}")
          : message.message;
        this.#log[message.level](text, message.properties ?? {});
        break;
      }
      case "skipped":
        if (this.#pending?.seq === message.seq) this.#pending.skipped.push(message.failure);
        break;
      case "done":
        if (this.#pending?.seq === message.seq) {
          this.#pending.resolve({
            kind: "done",
            done: message.done,
            paused: message.paused,
            stopped: message.stopped,
            timings: message.timings,
          });
        }
        break;
    }
  }

  #registered(callbacks: readonly CallbackInfo[], emails: readonly string[] | boolean): void {
    this.#callbacks = callbacks;
    this.#matchers = callbacks.map((c) => compileMatchEvents(c.matchEvents));
    this.#emails = emails;
  }

  #fail(error: string): void {
    this.#status = "failed";
    this.#loadError = error;
    this.#terminate();
  }

  #emitTimings(timings: readonly Timing[]): void {
    for (const { callback, eventId, durationMs, delayMs, ok } of timings) {
      logCallbackTiming({ plugin: this.name, callback, eventId, durationMs, delayMs, ok });
    }
  }

  #callbackName(index: number): string {
    return this.#callbacks[index]?.name ?? `callback#${index + 1}`;
  }

  #post(message: HostMessage): void {
    this.#worker?.postMessage(message);
  }

  #terminate(): void {
    this.#worker?.terminate();
    this.#worker = null;
  }
}

/** JSON of each event, per page array: N hosts given the same page stringify it once. */
const serialized = new WeakMap<
  readonly ShotGridEvent[],
  { parts: (string | undefined)[]; all?: string }
>();

function serializeEvents(events: readonly ShotGridEvent[], indices: readonly number[]): string {
  let entry = serialized.get(events);
  if (!entry) {
    entry = { parts: new Array(events.length) };
    serialized.set(events, entry);
  }
  const parts = entry.parts;
  const part = (i: number) => (parts[i] ??= JSON.stringify(events[i]));
  if (indices.length === events.length) {
    return (entry.all ??= `[${events.map((_, i) => part(i)).join(",")}]`);
  }
  return `[${indices.map(part).join(",")}]`;
}

type WorkerPermissions = "inherit" | {
  read: boolean | string[];
  write: boolean | string[];
  env: boolean | string[];
  run: boolean | string[];
  net: boolean | string[];
  ffi: false;
  sys: false;
};

/** The Worker's permissions: exactly those configured, plus the ShotGrid site for `sg`. */
function workerPermissions(
  permissions: PluginPermissions | null | undefined,
  shotgrid: PluginHostOptions["shotgrid"],
): WorkerPermissions {
  if (!permissions) return "inherit";
  const list = (value: boolean | readonly string[] | undefined) =>
    typeof value === "boolean" ? value : value ? [...value] : false;
  let net = list(permissions.net);
  if (net !== true) {
    const hosts = [shotgrid.url, shotgrid.proxy ?? ""].flatMap((u) => {
      try {
        return u ? [new URL(u).host] : [];
      } catch {
        return [];
      }
    });
    if (hosts.length > 0) net = [...(net === false ? [] : net), ...hosts];
  }
  return {
    read: list(permissions.read),
    write: list(permissions.write),
    env: list(permissions.env),
    run: list(permissions.run),
    net,
    ffi: false,
    sys: false,
  };
}
