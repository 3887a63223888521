/**
 * The code running inside a plugin's Worker (one Worker per plugin): imports the
 * bundled plugin, calls `registerCallbacks`, then runs each delivered batch through the
 * callbacks in registration order, with timeouts, retries and backoff.
 *
 * Each worker parses its own copy of a batch and deep-freezes every event, so no plugin
 * can change what another sees. A callback that never yields cannot be stopped from
 * here: the host's watchdog terminates the worker (see host.ts).
 *
 * @module
 */
import { ShotGridClient } from "../shotgrid/client.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { sleep } from "../util/abort.ts";
import { backoffDelay } from "../util/backoff.ts";
import { describeError } from "./errors.ts";
import type { CallbackContext, PluginLogger } from "./mod.ts";
import { createPluginLogger } from "./plugin_logger.ts";
import {
  type Control,
  controlBlock,
  type FailedEvent,
  type HostMessage,
  type LogRecordMessage,
  type Resume,
  slot,
  type Timing,
  type WorkerMessage,
  type WorkerSettings,
} from "./protocol.ts";
import { PluginRegistrar, type Registration } from "./registrar.ts";

interface WorkerScope {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: MessageEvent<HostMessage>) => void) | null;
  addEventListener(type: string, listener: (event: Event) => void): void;
}

const scope = globalThis as unknown as WorkerScope;

let settings: WorkerSettings | null = null;
let control: Control | null = null;
let registrations: readonly Registration[] = [];
/** Aborted by a "stop" message: wakes a backoff wait. Renewed per batch. */
let stopWaker = new AbortController();
/**
 * Aborted by an "abort" message (shutdown): also aborts the running callback's signal and
 * starts no further callback. Renewed per batch, so a later batch runs normally.
 */
let shutdown = new AbortController();
const clients = new Map<Registration, ShotGridClient>();

function post(message: WorkerMessage): void {
  scope.postMessage(message);
}

function log(level: LogRecordMessage["level"], message: unknown, properties?: unknown): void {
  const text = typeof message === "string" ? message : String(message);
  const props = properties !== null && typeof properties === "object"
    ? properties as Record<string, unknown>
    : null;
  try {
    post({ kind: "log", level, message: text, properties: props });
  } catch {
    // Properties that cannot cross isolates (functions, sockets): send what JSON keeps.
    post({ kind: "log", level, message: text, properties: jsonSafe(props) });
  }
}

const logger: PluginLogger = createPluginLogger(log, { describeError: describe });

const dataUrlPattern =
  /data:text\/javascript;base64,([A-Za-z0-9+/=]*)(?:\.\.\.\.\.\.([A-Za-z0-9+/=]*))?/g;

/**
 * Data URLs in stacks and messages are replaced by the module's file URL. V8 shows
 * long ones as `head......tail`; the loader's trailer makes tails distinct.
 */
function mapText(text: string): string {
  const modules = settings?.modules ?? [];
  return text.replace(dataUrlPattern, (match, head: string, tail: string | undefined) => {
    const prefix = "data:text/javascript;base64,";
    const found = modules.find((m) =>
      tail === undefined ? m.url === match : m.url.startsWith(prefix + head) && m.url.endsWith(tail)
    );
    return found?.fileUrl ?? match;
  });
}

/** Stack frames of the runtime itself say nothing to a plugin's author. */
const ownFrames = (line: string) => line.includes(import.meta.url) || line.includes("(ext:");

function describe(error: unknown): { error: string; stack: string | null } {
  const { error: text, stack } = describeError(error);
  if (stack === null) return { error: mapText(text), stack: null };
  const lines = mapText(stack).split("\n").filter((line) => !ownFrames(line));
  return { error: mapText(text), stack: lines.join("\n") };
}

// A plugin's stray promise or timer must not take its worker down: log it and go on.
scope.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  const { error, stack } = describe((event as PromiseRejectionEvent).reason);
  log("error", `Unhandled promise rejection in plugin: ${error}`, { stack });
});
scope.addEventListener("error", (event) => {
  event.preventDefault();
  const { error, stack } = describe((event as ErrorEvent).error ?? (event as ErrorEvent).message);
  log("error", `Uncaught error in plugin: ${error}`, { stack });
});

// A plugin ending its own worker would look like a hang until the watchdog fired: tell
// the host first, so it restarts the worker and fails the attempt at once.
const exit = Deno.exit;
const close = scope.close;
Deno.exit = ((code?: number) => {
  post({ kind: "exiting", reason: `the plugin called Deno.exit(${code ?? ""})` });
  return exit(code);
}) as typeof Deno.exit;
scope.close = () => {
  post({ kind: "exiting", reason: "the plugin called close()" });
  close.call(globalThis);
};

scope.onmessage = (event) => {
  const message = event.data;
  switch (message.kind) {
    case "load":
      void load(message.settings);
      break;
    case "deliver":
      void deliver(message.seq, message.events, message.resume, message.timing);
      break;
    case "stop":
      stopWaker.abort();
      break;
    case "abort":
      stopWaker.abort();
      shutdown.abort(new DOMException("The daemon is shutting down", "AbortError"));
      break;
  }
};

async function load(loadSettings: WorkerSettings): Promise<void> {
  settings = loadSettings;
  control = controlBlock(loadSettings.control);
  const prefix = `Cannot load plugin "${loadSettings.fileName}"`;
  const fail = (reason: string, error?: unknown) => {
    const stack = error === undefined ? null : describe(error).stack;
    post({ kind: "loadFailed", error: `${prefix}: ${reason}`, stack });
  };
  let module: Record<string, unknown>;
  try {
    module = await import(loadSettings.url);
  } catch (error) {
    return fail(describe(error).error, error);
  }
  const register = module.registerCallbacks;
  if (typeof register !== "function") return fail("it exports no registerCallbacks function");
  const registrar = new PluginRegistrar(loadSettings.plugin, logger);
  try {
    await register(registrar);
  } catch (error) {
    return fail(`registerCallbacks failed: ${describe(error).error}`, error);
  } finally {
    registrar.seal();
  }
  registrations = registrar.registrations;
  post({
    kind: "loaded",
    callbacks: registrations.map((r) => ({
      name: r.name,
      scriptName: r.scriptName,
      matchEvents: r.matchEvents,
      stopOnError: r.stopOnError,
      timeoutMs: r.timeoutMs ?? loadSettings.callbackTimeoutMs,
    })),
    emails: registrar.emails,
  });
}

const decoder = new TextDecoder();

async function deliver(
  seq: number,
  payload: Uint8Array<SharedArrayBuffer>,
  resume: Resume | null,
  timing: boolean,
): Promise<void> {
  const ints = control!.ints;
  stopWaker = new AbortController();
  shutdown = new AbortController();
  const events = JSON.parse(decoder.decode(payload)) as ShotGridEvent[];
  const timings: Timing[] = [];
  let paused: FailedEvent | null = null;
  let stopped = false;
  // Set when the batch ends part-way through event `index`: the host resumes it there,
  // so callbacks that already ran on it never run twice.
  let partial: Resume | null = null;
  let index = 0;
  Atomics.store(ints, slot.done, 0);
  betweenEvents(ints);
  batch: for (; index < events.length; index++) {
    if (Atomics.load(ints, slot.stop) === 1) {
      stopped = true;
      partial = index === 0 ? resume : null;
      break;
    }
    const event = deepFreeze(events[index]!);
    const resumeHere = index === 0 ? resume : null;
    const first = resumeHere?.callbackIndex ?? 0;
    for (let c = first; c < registrations.length; c++) {
      const registration = registrations[c]!;
      if (!registration.matches(event)) continue;
      if (shutdown.signal.aborted) {
        stopped = true;
        partial = c === first && resumeHere ? resumeHere : fresh(c);
        break batch;
      }
      const outcome = await runWithRetries(registration, c, event, resumeHere, timing);
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
        post({ kind: "skipped", seq, failure: outcome.failure });
      }
    }
    betweenEvents(ints);
    Atomics.store(ints, slot.done, index + 1);
  }
  post({ kind: "done", seq, done: index, paused, stopped, partial, timings });
}

/** No callback is running or waiting: a crash now charges no callback an attempt. */
function betweenEvents(ints: Int32Array): void {
  Atomics.store(ints, slot.callback, -1);
  Atomics.store(ints, slot.attempt, -1);
}

function fresh(callbackIndex: number): Resume {
  return { callbackIndex, failedAttempts: 0, error: "", stack: null };
}

type Outcome =
  | { readonly kind: "ok"; readonly timing: Timing }
  | { readonly kind: "failed"; readonly failure: FailedEvent; readonly timing: Timing }
  /** Stop or shutdown before the callback succeeded: where to pick up. */
  | { readonly kind: "stopped"; readonly resume: Resume };

async function runWithRetries(
  registration: Registration,
  index: number,
  event: ShotGridEvent,
  resume: Resume | null,
  timing: boolean,
): Promise<Outcome> {
  const { retries, backoff } = settings!;
  const ints = control!.ints;
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
      if (Atomics.load(ints, slot.stop) === 1) return stopped();
      try {
        await sleep(backoffDelay(attempt - 1, backoff), stopWaker.signal);
      } catch {
        return stopped();
      }
    }
    try {
      await runOnce(registration, index, event, attempt);
      return { kind: "ok", timing: timingOf(true, attempt) };
    } catch (error) {
      // Cut short by shutdown, not the plugin's failure: that attempt runs again later.
      if (shutdown.signal.aborted) return stopped();
      last = describe(error);
      if (isProgrammerError(error)) return failed(attempt);
      if (attempt < maxAttempts) {
        log(
          "warning",
          `Callback ${registration.name} failed on event ${event.id} (attempt ${attempt} of ${maxAttempts}), retrying: ${last.error}`,
        );
      }
      attempt++;
    }
  }
}

async function runOnce(
  registration: Registration,
  index: number,
  event: ShotGridEvent,
  attempt: number,
): Promise<void> {
  const ints = control!.ints;
  const timeoutMs = registration.timeoutMs ?? settings!.callbackTimeoutMs;
  Atomics.store(ints, slot.callback, index);
  Atomics.store(ints, slot.attempt, attempt);
  Atomics.store(ints, slot.timeoutMs, Math.min(timeoutMs, 2 ** 31 - 1));
  Atomics.store(control!.startedAt, 0, BigInt(Date.now()));
  Atomics.store(ints, slot.running, 1);
  const ctx = new Context(attempt, settings!.plugin, shutdown.signal);
  try {
    const result = registration.callback(
      clientFor(registration, event),
      logger,
      event,
      registration.args,
      ctx,
    );
    // Most callbacks return at once: no timer, controller or listener is set up for them.
    // One that never returns (a CPU loop) is the host's watchdog's business.
    if (!isThenable(result)) return;
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
      await Promise.race([result, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    Atomics.store(ints, slot.running, 0);
    ctx.dispose();
  }
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

/** Bugs do not fix themselves on retry (STYLE.md): fail at once. */
function isProgrammerError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof ReferenceError ||
    error instanceof SyntaxError;
}

/**
 * `sg` for one call: the callback's own client, created on first use (so callbacks that
 * never touch `sg` never need a reachable site), with the event's session uuid when
 * `use_session_uuid` is on. Without session uuids one lazy client per callback serves
 * every call.
 */
function clientFor(registration: Registration, event: ShotGridEvent): ShotGridClient {
  const base = () => {
    let client = clients.get(registration);
    if (!client) {
      const { url, proxy, timeoutMs } = settings!.shotgrid;
      client = new ShotGridClient({
        url,
        scriptName: registration.scriptName,
        scriptKey: registration.scriptKey,
        proxy,
        timeoutMs,
      });
      clients.set(registration, client);
    }
    return client;
  };
  if (!settings!.shotgrid.useSessionUuid) {
    let shared = lazyClients.get(registration);
    if (!shared) lazyClients.set(registration, shared = lazy(base));
    return shared;
  }
  return lazy(() => base().withSessionUuid(event.session_uuid ?? null));
}

const lazyClients = new WeakMap<Registration, ShotGridClient>();

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

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return value;
  Object.freeze(value);
  // for...in and indexed loops: no array of values allocated per object (hot path).
  if (Array.isArray(value)) { for (let i = 0; i < value.length; i++) deepFreeze(value[i]); }
  else for (const key in value) deepFreeze((value as Record<string, unknown>)[key]);
  return value;
}

function jsonSafe(value: unknown): Record<string, unknown> | null {
  if (value === null) return null;
  try {
    return JSON.parse(JSON.stringify(value, (_k, v) => typeof v === "bigint" ? String(v) : v));
  } catch {
    return { value: String(value) };
  }
}
