/**
 * One plugin inside a Worker (a Worker hosts one or several): its registrations, its
 * control block, its own batch loop with timeouts, retries and backoff. Each tenant's
 * batch is its own async loop, so a plugin awaiting a slow call per event leaves its
 * co-tenants their speed; a callback that never yields stops them all, which is what
 * the host's watchdog and quarantine are for (see host.ts).
 *
 * @module
 */
import { ShotGridClient } from "../shotgrid/client.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { sleep } from "../util/abort.ts";
import { backoffDelay } from "../util/backoff.ts";
import { isRetriable } from "../util/retriable.ts";
import type { CallbackContext, PluginLogger } from "./mod.ts";
import {
  type Control,
  controlBlock,
  ended,
  type FailedEvent,
  type Resume,
  slot,
  type Timing,
  type WorkerMessage,
  type WorkerSettings,
} from "./protocol.ts";
import { PluginRegistrar, type Registration } from "./registrar.ts";

/** What a tenant needs from its Worker. */
export interface TenantScope {
  /** Post to the host. */
  readonly post: (message: WorkerMessage) => void;
  /** An error's text and stack, data URLs mapped to files, runtime frames dropped. */
  readonly describe: (error: unknown) => { error: string; stack: string | null };
  /** Called around the synchronous part of each callback and of the load (who runs now). */
  readonly running: (tenant: number | null) => void;
}

/** A plugin loaded into this Worker. */
export class Tenant {
  /** The tenant's id in this Worker. */
  readonly id: number;
  readonly settings: WorkerSettings;
  readonly #control: Control;
  readonly #logger: PluginLogger;
  readonly #scope: TenantScope;
  readonly #clients = new Map<Registration, ShotGridClient>();
  readonly #lazyClients = new Map<Registration, ShotGridClient>();
  /** What this tenant last wrote to its control block's timeout and start slots. */
  readonly #written = { timeoutMs: -1, start: -1 };
  #registrations: readonly Registration[] = [];
  /** Aborted by a "stop" message: wakes a backoff wait. Renewed per batch. */
  #stopWaker = new AbortController();
  /** Aborted by an "abort" message (shutdown); renewed per batch. */
  #shutdown = new AbortController();

  /**
   * @param id The tenant's id.
   * @param settings The plugin's settings (and control block).
   * @param options The plugin's logger and the Worker's services.
   */
  constructor(
    id: number,
    settings: WorkerSettings,
    options: { logger: PluginLogger; scope: TenantScope },
  ) {
    this.id = id;
    this.settings = settings;
    this.#control = controlBlock(settings.control);
    this.#logger = options.logger;
    this.#scope = options.scope;
  }

  /**
   * Import the plugin and register its callbacks; posts `loaded` or `loadFailed`.
   *
   * @param url The module to import (a fresh URL gives a fresh module instance).
   */
  async load(url: string): Promise<void> {
    const { post, describe, running } = this.#scope;
    const prefix = `Cannot load plugin "${this.settings.fileName}"`;
    const fail = (reason: string, error?: unknown) => {
      const stack = error === undefined ? null : describe(error).stack;
      post({ kind: "loadFailed", tenant: this.id, error: `${prefix}: ${reason}`, stack });
    };
    let module: Record<string, unknown>;
    running(this.id);
    try {
      module = await import(url);
    } catch (error) {
      return fail(describe(error).error, error);
    } finally {
      running(null);
    }
    const register = module.registerCallbacks;
    if (typeof register !== "function") return fail("it exports no registerCallbacks function");
    const registrar = new PluginRegistrar(this.settings.plugin, this.#logger);
    running(this.id);
    try {
      await register(registrar);
    } catch (error) {
      return fail(`registerCallbacks failed: ${describe(error).error}`, error);
    } finally {
      running(null);
      registrar.seal();
    }
    if (registrar.registrations.length === 0) {
      // A plugin that registers nothing would look "ready" and never run: a load failure.
      return fail("registerCallbacks registered no callback");
    }
    this.#registrations = registrar.registrations;
    post({
      kind: "loaded",
      tenant: this.id,
      callbacks: this.#registrations.map((r) => ({
        name: r.name,
        scriptName: r.scriptName,
        matchEvents: r.matchEvents,
        stopOnError: r.stopOnError,
        timeoutMs: r.timeoutMs ?? this.settings.callbackTimeoutMs,
      })),
      emails: registrar.emails,
    });
  }

  /** Drop the registrations (the module instance goes with them once nothing holds it). */
  unload(): void {
    this.#registrations = [];
    this.#clients.clear();
    this.#lazyClients.clear();
    this.abort();
  }

  /** Wake a backoff wait: the stop flag is set. */
  stop(): void {
    this.#stopWaker.abort();
  }

  /** Shutdown: abort the running callback's signal; no further callback starts. */
  abort(): void {
    this.#stopWaker.abort();
    this.#shutdown.abort(new DOMException("The daemon is shutting down", "AbortError"));
  }

  /**
   * Run a batch; posts `skipped` per failure passed and `done` at the end.
   *
   * @param seq The batch's number.
   * @param events The events, frozen (shared with co-tenants).
   * @param options `resume`: where the first event picks up; `timing`: collect timings.
   */
  async deliver(
    seq: number,
    events: readonly ShotGridEvent[],
    options: { resume: Resume | null; timing: boolean },
  ): Promise<void> {
    const { resume, timing } = options;
    const { post } = this.#scope;
    const ints = this.#control.ints;
    this.#stopWaker = new AbortController();
    this.#shutdown = new AbortController();
    const registrations = this.#registrations;
    // One callback: the host's match already chose the events (no second match here).
    const single = registrations.length === 1;
    const timings: Timing[] = [];
    let paused: FailedEvent | null = null;
    let stopped = false;
    // Set when the batch ends part-way through event `index`: the host resumes it there,
    // so callbacks that already ran on it never run twice.
    let partial: Resume | null = null;
    let index = 0;
    Atomics.store(ints, slot.done, 0);
    Atomics.store(ints, slot.cpuMs, 0);
    betweenEvents(ints);
    batch: for (; index < events.length; index++) {
      if (Atomics.load(ints, slot.stop) !== 0) {
        stopped = true;
        partial = index === 0 ? resume : null;
        break;
      }
      const event = events[index]!;
      const resumeHere = index === 0 ? resume : null;
      const first = resumeHere?.callbackIndex ?? 0;
      // After the first event, the last one's end left it at 0, where the next one starts.
      if (index === 0) Atomics.store(ints, slot.next, first);
      for (let c = first; c < registrations.length; c++) {
        const registration = registrations[c]!;
        if (!single && !registration.matches(event)) continue;
        if (this.#shutdown.signal.aborted || Atomics.load(ints, slot.stop) === ended) {
          stopped = true;
          partial = c === first && resumeHere ? resumeHere : fresh(c);
          break batch;
        }
        // The first attempt starts here: a callback that returns at once (the common
        // case) costs no promise, closure or outcome record.
        let begun: Promise<void> | null = null;
        if (!timing && resumeHere?.callbackIndex !== c) {
          const ctx = new Context(1, this.settings.plugin, this.#shutdown.signal);
          try {
            const result = this.#begin(registration, c, event, 1, ctx);
            if (!isThenable(result)) {
              ctx.dispose();
              continue;
            }
            begun = this.#settle(result, registration, ctx);
          } catch (error) {
            ctx.dispose();
            begun = Promise.reject(error);
          }
        }
        const outcome = await this.#runWithRetries(registration, c, event, resumeHere, {
          timing,
          begun,
        });
        if (timing && outcome.kind !== "stopped") timings.push(outcome.timing);
        if (outcome.kind === "stopped") {
          stopped = true;
          partial = outcome.resume;
          break batch;
        }
        if (outcome.kind === "failed") {
          if (registration.stopOnError) {
            paused = outcome.failure;
            // A resumed pause retries this callback afresh; the ones before it are done.
            partial = fresh(c);
            break batch;
          }
          post({ kind: "skipped", tenant: this.id, seq, failure: outcome.failure });
        }
      }
      betweenEvents(ints);
      Atomics.store(ints, slot.next, 0);
      Atomics.store(ints, slot.done, index + 1);
    }
    post({ kind: "done", tenant: this.id, seq, done: index, paused, stopped, partial, timings });
  }

  async #runWithRetries(
    registration: Registration,
    index: number,
    event: ShotGridEvent,
    resume: Resume | null,
    options: { timing: boolean; begun: Promise<void> | null },
  ): Promise<Outcome> {
    const { timing, begun } = options;
    const { retries, backoff } = this.settings;
    const ints = this.#control.ints;
    const maxAttempts = retries + 1;
    const started = timing ? performance.now() : 0;
    const resumed = resume !== null && resume.callbackIndex === index;
    let attempt = resumed ? resume.failedAttempts + 1 : 1;
    let last = resumed ? { error: resume.error, stack: resume.stack } : null;
    // Timings are measured only when the timing log is on (this is the hot path).
    const timingOf = (ok: boolean, attempts: number): Timing =>
      timing
        ? {
          callback: registration.name,
          eventId: event.id,
          durationMs: Math.round((performance.now() - started) * 1000) / 1000,
          delayMs: Date.now() - Date.parse(event.created_at),
          attempts,
          ok,
        }
        : noTiming;
    const failed = (attempts: number): Outcome => ({
      kind: "failed",
      failure: {
        id: event.id,
        callback: registration.name,
        error: last?.error ?? "Unknown error",
        stack: last?.stack ?? null,
        attempts,
      },
      timing: timingOf(false, attempts),
    });
    // The attempt `attempt` has not run: resume with the failures so far.
    const stopped = (): Outcome => ({
      kind: "stopped",
      resume: {
        callbackIndex: index,
        failedAttempts: attempt - 1,
        error: last?.error ?? "",
        stack: last?.stack ?? null,
      },
    });

    for (;;) {
      if (attempt > maxAttempts) return failed(attempt - 1);
      if (attempt > 1) {
        if (Atomics.load(ints, slot.stop) !== 0) return stopped();
        try {
          await sleep(backoffDelay(attempt - 1, backoff), this.#stopWaker.signal);
        } catch {
          return stopped();
        }
      }
      try {
        await (attempt === 1 && begun ? begun : this.#runOnce(registration, index, event, attempt));
        return { kind: "ok", timing: timingOf(true, attempt) };
      } catch (error) {
        // Cut short by shutdown, not the plugin's failure: that attempt runs again later.
        if (this.#shutdown.signal.aborted) return stopped();
        last = this.#scope.describe(error);
        // The one retry policy (util/retriable.ts): a plugin's network TypeError is
        // retried; its bugs and 4xx answers are not.
        if (!isRetriable(error)) {
          if (attempt < maxAttempts) {
            this.#logger.warn(
              `Callback ${registration.name} failed on event ${event.id} (attempt ${attempt} of ${maxAttempts}), not retried: ${last.error}`,
            );
          }
          return failed(attempt);
        }
        if (attempt < maxAttempts) {
          this.#logger.warn(
            `Callback ${registration.name} failed on event ${event.id} (attempt ${attempt} of ${maxAttempts}), retrying: ${last.error}`,
          );
        }
        attempt++;
      }
    }
  }

  async #runOnce(
    registration: Registration,
    index: number,
    event: ShotGridEvent,
    attempt: number,
  ): Promise<void> {
    const ctx = new Context(attempt, this.settings.plugin, this.#shutdown.signal);
    let result: unknown;
    try {
      result = this.#begin(registration, index, event, attempt, ctx);
    } catch (error) {
      ctx.dispose();
      throw error;
    }
    if (!isThenable(result)) return ctx.dispose();
    await this.#settle(result, registration, ctx);
  }

  /**
   * Run an attempt up to the end of its synchronous part. A callback that returned is
   * finished (marked in the control block); one that threw has failed; for a promise
   * the attempt still runs (see `#settle`).
   */
  #begin(
    registration: Registration,
    index: number,
    event: ShotGridEvent,
    attempt: number,
    ctx: Context,
  ): unknown {
    const { ints, startedAt } = this.#control;
    // Each shared-memory write is a full barrier (~25 ns): the timeout and the start are
    // written only when they change (thousands of callbacks start within one ms), and the
    // attempt before the callback index, which is what makes it count (protocol.ts).
    const timeoutMs = Math.min(
      registration.timeoutMs ?? this.settings.callbackTimeoutMs,
      2 ** 31 - 1,
    );
    if (timeoutMs !== this.#written.timeoutMs) {
      Atomics.store(ints, slot.timeoutMs, timeoutMs);
      this.#written.timeoutMs = timeoutMs;
    }
    const start = wallClock();
    if (start !== this.#written.start) {
      Atomics.store(startedAt, 0, BigInt(start));
      this.#written.start = start;
    }
    Atomics.store(ints, slot.attempt, attempt);
    Atomics.store(ints, slot.callback, index);
    Atomics.store(ints, slot.running, 1);
    const { running } = this.#scope;
    let result: unknown;
    running(this.id);
    try {
      result = registration.callback(
        this.#clientFor(registration, event),
        this.#logger,
        event,
        registration.args,
        ctx,
      );
    } catch (error) {
      Atomics.store(ints, slot.running, 0);
      throw error;
    } finally {
      running(null);
      // The synchronous part is this thread's CPU, which co-tenants wait for.
      const cpuMs = wallClock() - start;
      if (cpuMs > Atomics.load(ints, slot.cpuMs)) Atomics.store(ints, slot.cpuMs, cpuMs);
    }
    // Most callbacks return at once: no timer, controller or listener is set up for them.
    // One that never returns (a CPU loop) is the host's watchdog's business.
    if (!isThenable(result)) {
      Atomics.store(ints, slot.running, 0);
      Atomics.store(ints, slot.next, index + 1);
    }
    return result;
  }

  /** Wait for an attempt's promise, up to its timeout. */
  async #settle(result: PromiseLike<unknown>, registration: Registration, ctx: Context) {
    const { ints } = this.#control;
    const index = Atomics.load(ints, slot.callback);
    const timeoutMs = registration.timeoutMs ?? this.settings.callbackTimeoutMs;
    // Marked in the first reaction to the callback's own promise: a co-tenant's code that
    // runs later and ends the Worker finds this callback finished. Not once the attempt is
    // over (timed out): its promise settling later, during another event, must not mark
    // that event's callbacks done.
    let live = true;
    const marked = Promise.resolve(result).then(() => {
      if (live) Atomics.store(ints, slot.next, index + 1);
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new DOMException(
          `Callback ${registration.name} timed out after ${timeoutMs} ms`,
          "TimeoutError",
        );
        ctx.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      await Promise.race([marked, timeout]);
    } finally {
      live = false;
      clearTimeout(timer);
      Atomics.store(ints, slot.running, 0);
      ctx.dispose();
    }
  }

  /**
   * `sg` for one call: the callback's own client, created on first use (so callbacks that
   * never touch `sg` never need a reachable site), with the event's session uuid when
   * `use_session_uuid` is on. Without session uuids one lazy client per callback serves
   * every call.
   */
  #clientFor(registration: Registration, event: ShotGridEvent): ShotGridClient {
    const base = () => {
      let client = this.#clients.get(registration);
      if (!client) {
        const { url, proxy, timeoutMs } = this.settings.shotgrid;
        client = new ShotGridClient({
          url,
          scriptName: registration.scriptName,
          scriptKey: registration.scriptKey,
          proxy,
          timeoutMs,
        });
        this.#clients.set(registration, client);
      }
      return client;
    };
    if (!this.settings.shotgrid.useSessionUuid) {
      let shared = this.#lazyClients.get(registration);
      if (!shared) this.#lazyClients.set(registration, shared = lazy(base));
      return shared;
    }
    return lazy(() => base().withSessionUuid(event.session_uuid ?? null));
  }
}

type Outcome =
  | { readonly kind: "ok"; readonly timing: Timing }
  | { readonly kind: "failed"; readonly failure: FailedEvent; readonly timing: Timing }
  /** Stop or shutdown before the callback succeeded: where to pick up. */
  | { readonly kind: "stopped"; readonly resume: Resume };

/**
 * Epoch ms, for an attempt's start (the host's watchdog compares it with its own clock) and
 * the length of its synchronous part (the CPU budget, in whole ms). `Date.now` is a V8
 * builtin; `performance.now()` is a call into the runtime, and two of them per callback
 * were a third of the cost of running a callback that does nothing (110 ns each, measured).
 * Taken before any plugin loads, so a plugin that replaces `Date.now` changes nothing here.
 * A wall-clock step during a callback counts as its time (as for the watchdog).
 */
const wallClock = Date.now;

/**
 * No callback is running or waiting: a crash now charges no callback an attempt (the
 * attempt slot counts only with a callback index, so it is left as it is).
 */
function betweenEvents(ints: Int32Array): void {
  Atomics.store(ints, slot.callback, -1);
}

function fresh(callbackIndex: number): Resume {
  return { callbackIndex, failedAttempts: 0, error: "", stack: null };
}

/**
 * A callback's `ctx`. The AbortSignal is made on first use: most callbacks never look
 * at it, and one controller plus a shutdown listener per call is measurable at tens of
 * thousands of callbacks per second.
 */
class Context implements CallbackContext {
  readonly attempt: number;
  readonly plugin: string;
  #controller: AbortController | null = null;
  #shutdown: AbortSignal;
  #onShutdown: (() => void) | null = null;
  #reason: unknown = undefined;
  #aborted = false;

  constructor(attempt: number, plugin: string, shutdown: AbortSignal) {
    this.attempt = attempt;
    this.plugin = plugin;
    this.#shutdown = shutdown;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      const controller = new AbortController();
      this.#controller = controller;
      if (this.#aborted) controller.abort(this.#reason);
      else if (this.#shutdown.aborted) controller.abort(this.#shutdown.reason);
      else {
        this.#onShutdown = () => controller.abort(this.#shutdown.reason);
        this.#shutdown.addEventListener("abort", this.#onShutdown, { once: true });
      }
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  dispose(): void {
    if (this.#onShutdown) this.#shutdown.removeEventListener("abort", this.#onShutdown);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function";
}

const noTiming: Timing = {
  callback: "",
  eventId: 0,
  durationMs: 0,
  delayMs: 0,
  attempts: 0,
  ok: true,
};

function lazy(create: () => ShotGridClient): ShotGridClient {
  let real: ShotGridClient | undefined;
  const get = () => (real ??= create());
  return new Proxy(Object.create(ShotGridClient.prototype) as ShotGridClient, {
    get(_target, property) {
      const client = get();
      const value = Reflect.get(client, property, client);
      return typeof value === "function" ? value.bind(client) : value;
    },
    has: (_target, property) => property in get(),
    set: (_target, property, value) => Reflect.set(get(), property, value),
  });
}
