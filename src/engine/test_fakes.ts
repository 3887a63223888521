/**
 * Small fakes for engine unit tests: an in-memory event log whose ids can commit late,
 * and a plugin host that records deliveries. End-to-end tests use the real simulator
 * and Workers; these cover the engine's bookkeeping precisely and fast.
 *
 * @module
 */
import type { Config } from "../config/types.ts";
import { StateStore } from "../state/state_store.ts";
import { Engine } from "./engine.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import type {
  DeliveryHost,
  DeliveryReport,
  EventSource,
  IdRange,
  NarrowRead,
  PluginFile,
} from "./types.ts";

// A small in-memory event log: ids can be allocated now and committed later (a gap).
export class MemoryLog implements EventSource {
  #visible = new Map<number, ShotGridEvent>();
  #next = 1;
  requests = 0;
  constructor(private now: () => number = Date.now) {}
  add(
    n: number,
    options: { hidden?: boolean; createdAt?: number; type?: string; project?: number } = {},
  ): number[] {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.#next++;
      ids.push(id);
      const event = {
        ...makeEvent(id, options.createdAt ?? this.now()),
        ...(options.type ? { event_type: options.type } : {}),
        ...(options.project ? { project: { type: "Project", id: options.project } } : {}),
      };
      if (!options.hidden) this.#visible.set(id, event);
      else this.hidden.set(id, event);
    }
    return ids;
  }
  hidden = new Map<number, ShotGridEvent>();
  commit(id: number): void {
    const event = this.hidden.get(id);
    if (!event) throw new RangeError(`no hidden ${id}`);
    this.hidden.delete(id);
    this.#visible.set(id, event);
  }
  /** The narrowed reads made, as [after, upTo]. */
  narrowedReads: [number, number][] = [];
  after(
    after: number,
    limit: number,
    _signal?: AbortSignal,
    narrow?: NarrowRead,
  ): Promise<ShotGridEvent[]> {
    this.beforeRead();
    this.requests++;
    if (narrow) this.narrowedReads.push([after, narrow.upTo]);
    const types = narrow?.narrowing.eventTypes;
    const projects = narrow?.narrowing.projects;
    const events = [...this.#visible.values()]
      .filter((e) =>
        e.id > after && (!narrow || e.id <= narrow.upTo) &&
        (!types || types.includes(e.event_type)) &&
        (!projects || projects.includes(e.project?.id ?? -1))
      )
      .sort((a, b) => a.id - b.id);
    return Promise.resolve(events.slice(0, limit));
  }
  /** The range reads made (read-ahead), as [after, upTo]. */
  rangeReads: [number, number][] = [];
  /** Called at the start of each page or range read (to commit events during a run). */
  beforeRead: () => void = () => {};
  within(range: IdRange, limit: number): Promise<ShotGridEvent[]> {
    this.beforeRead();
    this.requests++;
    this.rangeReads.push([range.after, range.upTo]);
    const events = [...this.#visible.values()]
      .filter((e) => e.id > range.after && e.id <= range.upTo)
      .sort((a, b) => a.id - b.id);
    return Promise.resolve(events.slice(0, limit));
  }
  /** Called before each horizon lookup (to commit events between two of them). */
  beforeLookup: (kind: "first" | "last", range: IdRange) => void | Promise<void> = () => {};
  async firstCreatedAfter(range: IdRange, time: number): Promise<number | null> {
    await this.beforeLookup("first", range);
    this.requests++;
    const ids = this.#idsIn(range, (created) => created > time);
    return ids.length ? Math.min(...ids) : null;
  }
  async lastCreatedBefore(range: IdRange, time: number): Promise<number | null> {
    await this.beforeLookup("last", range);
    this.requests++;
    const ids = this.#idsIn(range, (created) => created < time);
    return ids.length ? Math.max(...ids) : null;
  }
  #idsIn(range: IdRange, when: (createdAt: number) => boolean): number[] {
    return [...this.#visible.values()]
      .filter((e) => e.id > range.after && e.id <= range.upTo && when(Date.parse(e.created_at)))
      .map((e) => e.id);
  }
  byIds(ids: readonly number[]): Promise<ShotGridEvent[]> {
    this.requests++;
    return Promise.resolve(ids.flatMap((id) => this.#visible.get(id) ?? []));
  }
  newestId(): Promise<number | null> {
    const ids = [...this.#visible.keys()];
    return Promise.resolve(ids.length ? Math.max(...ids) : null);
  }
  oldestId(): Promise<number | null> {
    const ids = [...this.#visible.keys()];
    return Promise.resolve(ids.length ? Math.min(...ids) : null);
  }
}

export function makeEvent(id: number, createdAt: number): ShotGridEvent {
  return {
    type: "EventLogEntry",
    id,
    event_type: "Shotgun_Shot_Change",
    attribute_name: "sg_status_list",
    meta: null,
    entity: { type: "Shot", id: 1, name: "sh010" },
    user: { type: "HumanUser", id: 1, name: "Jo" },
    project: null,
    session_uuid: null,
    created_at: new Date(createdAt).toISOString().replace(/\.\d+Z$/, "Z"),
  };
}

// Records deliveries; can fail on chosen ids.
export class RecordingHost implements DeliveryHost {
  readonly seen: number[] = [];
  readonly status = "ready" as const;
  readonly loadError = null;
  failOn = new Set<number>();
  stopOnError = true;
  /** Exact types it wants; null: every type. */
  eventTypes: readonly string[] | null = null;
  constructor(readonly name: string, readonly file: string, readonly hash: string) {}
  wants(event: ShotGridEvent): boolean {
    return this.eventTypes === null || this.eventTypes.includes(event.event_type);
  }
  deliver(events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
    const skipped = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (!this.wants(event)) continue;
      if (this.failOn.has(event.id)) {
        const failure = { id: event.id, callback: "cb", error: "boom", stack: null, attempts: 1 };
        if (this.stopOnError) {
          return Promise.resolve({
            done: i,
            skipped,
            paused: failure,
            stopped: false,
          });
        }
        skipped.push(failure);
      } else this.seen.push(event.id);
    }
    return Promise.resolve({
      done: events.length,
      skipped,
      paused: null,
      stopped: false,
    });
  }
  requestStop(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function testConfig(stateFile: string, daemon: Partial<Config["daemon"]> = {}): Config {
  return {
    source: "test.yaml",
    shotgrid: {
      url: "http://127.0.0.1:1",
      scriptName: "t",
      scriptKey: "k",
      proxy: null,
      useSessionUuid: false,
      timeoutMs: 1000,
    },
    daemon: {
      stateFile,
      fetchIntervalMs: 10,
      maxEventBatchSize: 50,
      backlogTimeoutMs: 60_000,
      startAt: "oldest",
      maxConnRetries: 2,
      connRetrySleepMs: 10,
      progressIntervalMs: 60_000,
      shutdownTimeoutMs: 1000,
      ignoreScriptUsers: [],
      narrowReads: true,
      stateUrl: null,
      statePassword: null,
      name: "default",
      leaseTimeoutMs: 10_000,
      readAhead: 1,
      ...daemon,
    },
    plugins: {
      paths: [],
      callbackTimeoutMs: 1000,
      retries: 0,
      rescanIntervalMs: 1000,
      settings: {},
    },
    logging: {
      level: "info",
      dir: null,
      perPlugin: false,
      timing: false,
      format: "plain",
      levels: {},
      maxFileBytes: 1e6,
      maxFiles: 1,
    },
    email: {
      enabled: false,
      server: "",
      port: 25,
      security: "none",
      username: null,
      password: null,
      from: "",
      to: [],
      subject: "",
      rateLimit: 1,
      rateWindowMs: 1,
    },
  };
}

export async function* once<T>(value: T): AsyncIterable<T> {
  yield value;
}

// Runs an engine in `once` mode over the fake log and hosts; returns the closed store.
/**
 * Time that passes only when the engine waits: `sleep(ms)` moves the clock on by `ms` at
 * once. Runs that count requests use it, so that how often a lane looks at its backlog
 * does not depend on how busy the machine is.
 */
export function virtualTime(start = Date.UTC(2026, 0, 1)): {
  clock: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
} {
  let now = start;
  return {
    clock: () => now,
    sleep: (ms, signal) => {
      if (signal?.aborted) return Promise.reject(signal.reason);
      now += Math.max(0, ms);
      // A macrotask, so a loop of zero-length waits still lets I/O and timers run.
      return new Promise((resolve) => setTimeout(resolve, 0));
    },
  };
}

/**
 * Change a stopped daemon's state as a command would: open the store, change it, save.
 *
 * @param config The daemon's config (state file, site, backlog timeout).
 * @param change What to do through the store's cursors.
 */
export async function editState(
  config: Config,
  change: (store: StateStore) => void,
): Promise<void> {
  await using store = await StateStore.open(config.daemon.stateFile, {
    site: config.shotgrid.url,
    backlogTimeoutMs: config.daemon.backlogTimeoutMs,
  });
  change(store);
  await store.checkpoint();
}

export async function runOnce(
  config: Config,
  log: MemoryLog,
  hosts: Map<string, RecordingHost>,
  time?: { clock: () => number; sleep: (ms: number, signal?: AbortSignal) => Promise<void> },
  /** Sees the store before the engine starts (to watch its saves). */
  watch?: (store: StateStore) => void,
): Promise<StateStore> {
  const store = await StateStore.open(config.daemon.stateFile, {
    site: config.shotgrid.url,
    backlogTimeoutMs: config.daemon.backlogTimeoutMs,
    ...(time ? { clock: time.clock } : {}),
  });
  watch?.(store);
  const plugins: PluginFile[] = [...hosts.values()].map((h) => ({
    name: h.name,
    file: h.file,
    hash: h.hash,
  }));
  const engine = new Engine({
    config,
    source: log,
    store,
    startHost: (p) => Promise.resolve(hosts.get(p.name)!),
    plugins: once(plugins),
    once: true,
    ...(time ?? {}),
  });
  await engine.run(new AbortController().signal);
  await store.close();
  return store;
}

// Runs an engine (not `once`) while `drive` works, then stops it and closes the store.
export async function runWhile(
  config: Config,
  options: {
    log: MemoryLog;
    startHost: (plugin: PluginFile) => Promise<DeliveryHost>;
    plugins: readonly string[];
    startTogetherMs?: number;
    /** Runs after stop is requested, before the engine is awaited (to release waits). */
    onStop?: () => void;
  },
  drive: (store: StateStore) => Promise<void>,
): Promise<void> {
  const store = await StateStore.open(config.daemon.stateFile, {
    site: config.shotgrid.url,
    backlogTimeoutMs: config.daemon.backlogTimeoutMs,
  });
  const engine = new Engine({
    config,
    source: options.log,
    store,
    startHost: options.startHost,
    plugins: once(options.plugins.map((name) => ({ name, file: `/${name}.ts`, hash: "1" }))),
    ...(options.startTogetherMs === undefined ? {} : { startTogetherMs: options.startTogetherMs }),
  });
  const controller = new AbortController();
  const running = engine.run(controller.signal);
  try {
    await drive(store);
  } finally {
    controller.abort();
    options.onStop?.();
    await running;
    await store.close();
  }
}

// Polls `condition` every 10 ms, for at most `ms`.
export async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}
