/**
 * Shared pieces of the plugin runtime's tests: temp folders, events, log capture.
 * Not part of the runtime.
 *
 * @module
 */
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { join } from "node:path";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import type { PluginHostOptions } from "./host.ts";
import { type Control, controlBlock } from "./protocol.ts";
import { Tenant, type TenantScope } from "./worker_tenant.ts";

/** A temp folder removed on dispose. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "sgevents_plugins_" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** Write `files` (name -> code) under `dir`; returns the absolute path of the first. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<string> {
  let first = "";
  for (const [name, code] of Object.entries(files)) {
    const path = join(dir, name);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeTextFile(path, code);
    first ||= path;
  }
  return first;
}

/** A flat EventLogEntry. */
export function event(id: number, overrides: Partial<ShotGridEvent> = {}): ShotGridEvent {
  return {
    type: "EventLogEntry",
    id,
    event_type: "Shotgun_Task_Change",
    attribute_name: "sg_status_list",
    meta: { type: "attribute_change", old_value: "wtg", new_value: "ip" },
    entity: { type: "Task", id: 100 + id, name: `Task ${id}` },
    user: { type: "HumanUser", id: 1, name: "Ann" },
    project: { type: "Project", id: 70, name: "Demo" },
    session_uuid: `uuid-${id}`,
    created_at: "2026-01-01T00:00:00Z",
    ...overrides,
  };
}

/** Host options for tests: an unreachable site, short timeouts, no retries. */
export function hostOptions(overrides: Partial<PluginHostOptions> = {}): PluginHostOptions {
  return {
    shotgrid: { url: "http://127.0.0.1:9", proxy: null, useSessionUuid: false, timeoutMs: 1000 },
    callbackTimeoutMs: 5000,
    retries: 0,
    backoff: { initialMs: 1, maxMs: 5 },
    graceMs: 200,
    ...overrides,
  };
}

/** Captures LogTape records (all categories, all levels) until disposed. */
export class LogCapture implements AsyncDisposable {
  readonly records: LogRecord[] = [];
  #waiters: { test: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }[] = [];

  private constructor() {}

  /** Configure LogTape to capture into a new instance. */
  static async start(): Promise<LogCapture> {
    const capture = new LogCapture();
    await configure({
      reset: true,
      sinks: { capture: (record) => capture.#add(record) },
      loggers: [
        { category: ["sgevents"], sinks: ["capture"], lowestLevel: "debug" },
        { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
      ],
    });
    return capture;
  }

  /** Messages (rendered) of a category's records. */
  messages(category: readonly string[]): string[] {
    return this.records
      .filter((r) => r.category.join(".") === category.join("."))
      .map((r) => render(r));
  }

  /** Resolves with the first record (past or future) whose rendered message passes `test`. */
  waitFor(test: (message: string, record: LogRecord) => boolean): Promise<LogRecord> {
    const found = this.records.find((r) => test(render(r), r));
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      this.#waiters.push({ test: (r) => test(render(r), r), resolve });
    });
  }

  #add(record: LogRecord): void {
    this.records.push(record);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test(record)) return true;
      w.resolve(record);
      return false;
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await reset();
  }
}

/** A record's message with its values filled in. */
export function render(record: LogRecord): string {
  return record.message.map((part) => typeof part === "string" ? part : String(part)).join("");
}

/**
 * A plugin's tenant in this thread, as worker_main.ts makes one in a Worker: the module at
 * `url` loaded and registered, its control block, and the Worker services given.
 *
 * @param url The plugin module (a data: URL).
 * @param options The callback timeout and the Worker's services (`describe` defaults to `String`).
 * @returns The loaded tenant and its control block.
 */
export async function inThreadTenant(
  url: string,
  options: {
    callbackTimeoutMs?: number;
    post: TenantScope["post"];
    running: TenantScope["running"];
  },
): Promise<{ tenant: Tenant; control: Control }> {
  const control = controlBlock();
  const tenant = new Tenant(0, {
    plugin: "p",
    fileName: "p.ts",
    url,
    modules: [],
    shotgrid: { url: "http://127.0.0.1:9", proxy: null, useSessionUuid: false, timeoutMs: 1000 },
    callbackTimeoutMs: options.callbackTimeoutMs ?? 1000,
    retries: 0,
    backoff: {},
    control: control.buffer,
  }, {
    logger: { info() {}, warning() {}, error() {}, debug() {} } as never,
    scope: {
      post: options.post,
      describe: (error) => ({ error: String(error), stack: null }),
      running: options.running,
    },
  });
  await tenant.load(url);
  return { tenant, control };
}
