/**
 * The code running inside a plugin Worker, which hosts one plugin or several (tenants,
 * worker_tenant.ts): routes the host's messages to them and keeps the pages they share.
 *
 * A page arrives once per Worker, as one JSON array of just the events any of its plugins
 * wants; it is parsed once and every event deep-frozen once, so no plugin can change what
 * another sees. A callback that never yields cannot be stopped from here: the host's
 * watchdog terminates the Worker (see host.ts).
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { describeError } from "./errors.ts";
import type { PluginLogger } from "./mod.ts";
import { createPluginLogger } from "./plugin_logger.ts";
import {
  forEachIndex,
  type HostMessage,
  type LogRecordMessage,
  type PagePayload,
  type WorkerMessage,
} from "./protocol.ts";
import { Tenant } from "./worker_tenant.ts";

interface WorkerScope {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: MessageEvent<HostMessage>) => void) | null;
  addEventListener(type: string, listener: (event: Event) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
const tenants = new Map<number, Tenant>();
/** Pages by id: each held event at its page index. */
const pages = new Map<number, readonly (ShotGridEvent | undefined)[]>();
/** Module URLs imported so far: importing one again takes a fresh instance (`#n`). */
const imported = new Set<string>();
/** The tenant whose code runs synchronously now (for `Deno.exit` and hang blame). */
let current: number | null = null;
/** The host's view of `current` (see the "init" message). */
let busy: Int32Array | null = null;

function post(message: WorkerMessage): void {
  scope.postMessage(message);
}

function log(
  tenant: number | null,
  level: LogRecordMessage["level"],
  message: unknown,
  properties?: unknown,
): void {
  const text = typeof message === "string" ? message : String(message);
  const props = properties !== null && typeof properties === "object"
    ? properties as Record<string, unknown>
    : null;
  try {
    post({ kind: "log", tenant, level, message: text, properties: props });
  } catch {
    // Properties that cannot cross isolates (functions, sockets): send what JSON keeps.
    post({ kind: "log", tenant, level, message: text, properties: jsonSafe(props) });
  }
}

/** The logger a plugin gets (`reg.logger`, a callback's `logger`): Python-shaped (plugin_logger.ts). */
function pluginLogger(tenant: number): PluginLogger {
  return createPluginLogger(
    (level, message, properties) => log(tenant, level, message, properties),
    { describeError: describe },
  );
}

const dataUrlPattern =
  /data:text\/javascript;base64,([A-Za-z0-9+/=]*)(?:\.\.\.\.\.\.([A-Za-z0-9+/=]*))?/g;

/**
 * Data URLs in stacks and messages are replaced by the module's file URL. V8 shows
 * long ones as `head......tail`; the loader's trailer makes tails distinct.
 */
function mapText(text: string): string {
  return text.replace(dataUrlPattern, (match, head: string, tail: string | undefined) => {
    const prefix = "data:text/javascript;base64,";
    for (const tenant of tenants.values()) {
      const found = tenant.settings.modules.find((m) =>
        tail === undefined
          ? m.url === match
          : m.url.startsWith(prefix + head) && m.url.endsWith(tail)
      );
      if (found) return found.fileUrl;
    }
    return match;
  });
}

/** Stack frames of the runtime itself say nothing to a plugin's author. */
const ownFrames = (line: string) =>
  line.includes(import.meta.url) || line.includes("/worker_tenant.ts") || line.includes("(ext:");

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
  log(current, "error", `Unhandled promise rejection in plugin: ${error}`, { stack });
});
scope.addEventListener("error", (event) => {
  event.preventDefault();
  const { error, stack } = describe((event as ErrorEvent).error ?? (event as ErrorEvent).message);
  log(current, "error", `Uncaught error in plugin: ${error}`, { stack });
});

// A plugin ending its own worker would look like a hang until the watchdog fired: tell
// the host first (and whose code did it, when known), so it restarts at once.
const exit = Deno.exit;
const close = scope.close;
Deno.exit = ((code?: number) => {
  post({ kind: "exiting", reason: `the plugin called Deno.exit(${code ?? ""})`, tenant: current });
  return exit(code);
}) as typeof Deno.exit;
scope.close = () => {
  post({ kind: "exiting", reason: "the plugin called close()", tenant: current });
  close.call(globalThis);
};

/** How often the event loop counts the heartbeat up (see PluginWorker). */
const heartbeatMs = 100;

// A plugin's own timers run as its code, so a loop in one is charged to that plugin. Ours
// are set outside any plugin's code and stay unattributed.
const setOnce = globalThis.setTimeout;
const setRepeat = globalThis.setInterval;
// deno-lint-ignore no-explicit-any
const attributed = (handler: any): any => {
  const owner = current;
  if (owner === null || typeof handler !== "function") return handler;
  return (...args: unknown[]) => {
    const before = current;
    tenantScope.running(owner);
    try {
      return handler(...args);
    } finally {
      tenantScope.running(before);
    }
  };
};
globalThis.setTimeout =
  ((handler: unknown, ms?: number, ...args: unknown[]) =>
    setOnce(attributed(handler), ms, ...args)) as typeof setTimeout;
globalThis.setInterval =
  ((handler: unknown, ms?: number, ...args: unknown[]) =>
    setRepeat(attributed(handler), ms, ...args)) as typeof setInterval;

const tenantScope = {
  post,
  describe,
  running: (tenant: number | null) => {
    current = tenant;
    if (!busy) return;
    Atomics.store(busy, 0, tenant === null ? 0 : tenant + 1);
    // A plugin's code that returns is a heartbeat too: a long run of short synchronous
    // callbacks leaves the event loop no turn, and must not look like a stuck thread.
    if (tenant === null) Atomics.add(busy, 1, 1);
  },
};

scope.onmessage = (event) => {
  const message = event.data;
  switch (message.kind) {
    case "init": {
      const shared = new Int32Array(message.busy);
      busy = shared;
      Atomics.add(shared, 1, 1);
      setRepeat(() => Atomics.add(shared, 1, 1), heartbeatMs);
      break;
    }
    case "load": {
      const tenant = new Tenant(message.tenant, message.settings, {
        logger: pluginLogger(message.tenant),
        scope: tenantScope,
      });
      tenants.set(message.tenant, tenant);
      const url = imported.has(message.settings.url)
        ? `${message.settings.url}#${message.tenant}`
        : message.settings.url;
      imported.add(message.settings.url);
      void tenant.load(url);
      break;
    }
    case "unload":
      tenants.get(message.tenant)?.unload();
      tenants.delete(message.tenant);
      break;
    case "deliver": {
      const held = page(message.page);
      const events: ShotGridEvent[] = [];
      forEachIndex(message.indices, (i) => events.push(held[i]!));
      const tenant = tenants.get(message.tenant);
      if (!tenant) break;
      void tenant.deliver(message.seq, events, {
        resume: message.resume,
        timing: message.timing,
      });
      break;
    }
    case "stop":
      tenants.get(message.tenant)?.stop();
      break;
    case "abort":
      tenants.get(message.tenant)?.abort();
      break;
  }
};

const decoder = new TextDecoder();

/** The page a delivery names: parsed and frozen when it comes with its bytes. */
function page(payload: PagePayload): readonly (ShotGridEvent | undefined)[] {
  for (const id of payload.evict) pages.delete(id);
  if (payload.bytes === null) return pages.get(payload.id) ?? [];
  const parsed = JSON.parse(decoder.decode(payload.bytes)) as ShotGridEvent[];
  const held: (ShotGridEvent | undefined)[] = [];
  if (payload.indices) forEachIndex(payload.indices, (i, at) => held[i] = deepFreeze(parsed[at]!));
  pages.set(payload.id, held);
  return held;
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
