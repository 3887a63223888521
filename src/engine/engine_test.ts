import assert from "node:assert/strict";
import type { Config } from "../config/types.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { StateStore } from "../state/state_store.ts";
import { Engine } from "./engine.ts";
import type { DeliveryHost, DeliveryReport, EventSource, PluginFileInfo } from "./types.ts";

// A small in-memory event log: ids can be allocated now and committed later (a gap).
class MemoryLog implements EventSource {
  #visible = new Map<number, ShotGridEvent>();
  #next = 1;
  requests = 0;
  constructor(private now: () => number = Date.now) {}
  add(n: number, options: { hidden?: boolean; createdAt?: number } = {}): number[] {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.#next++;
      ids.push(id);
      const event = makeEvent(id, options.createdAt ?? this.now());
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
  after(after: number, limit: number): Promise<ShotGridEvent[]> {
    this.requests++;
    const ids = [...this.#visible.keys()].filter((id) => id > after).sort((a, b) => a - b);
    return Promise.resolve(ids.slice(0, limit).map((id) => this.#visible.get(id)!));
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

function makeEvent(id: number, createdAt: number): ShotGridEvent {
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
class RecordingHost implements DeliveryHost {
  readonly seen: number[] = [];
  readonly status = "ready" as const;
  readonly loadError = null;
  failOn = new Set<number>();
  stopOnError = true;
  constructor(readonly name: string, readonly file: string, readonly hash: string) {}
  wants(): boolean {
    return true;
  }
  deliver(events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
    const skipped = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (this.failOn.has(event.id)) {
        const failure = { id: event.id, callback: "cb", error: "boom", stack: null, attempts: 1 };
        if (this.stopOnError) {
          return Promise.resolve({
            done: i,
            lastId: events[i - 1]?.id ?? null,
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
      lastId: events.at(-1)?.id ?? null,
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

function testConfig(stateFile: string, daemon: Partial<Config["daemon"]> = {}): Config {
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

async function* once<T>(value: T): AsyncIterable<T> {
  yield value;
}

async function runOnce(
  config: Config,
  log: MemoryLog,
  hosts: Map<string, RecordingHost>,
): Promise<StateStore> {
  const store = await StateStore.open(config.daemon.stateFile, { site: config.shotgrid.url });
  const plugins: PluginFileInfo[] = [...hosts.values()].map((h) => ({
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
  });
  await engine.run(new AbortController().signal);
  await store.close();
  return store;
}

Deno.test("Engine delivers every event once to each plugin in id order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(120);
    const a = new RecordingHost("a", "/a.ts", "1");
    const b = new RecordingHost("b", "/b.ts", "1");
    await runOnce(testConfig(`${dir}/state.json`), log, new Map([["a", a], ["b", b]]));
    const all = Array.from({ length: 120 }, (_, i) => i + 1);
    assert.deepEqual(a.seen, all);
    assert.deepEqual(b.seen, all);
    // 3 pages (50, 50, 20) read once for both plugins.
    assert.deepEqual(log.requests, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine delivers a late gap once, when it commits, without rewinding", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(5);
    const [late] = log.add(1, { hidden: true });
    log.add(5);
    const a = new RecordingHost("a", "/a.ts", "1");
    const hosts = new Map([["a", a]]);
    const config = testConfig(`${dir}/state.json`);
    const first = await runOnce(config, log, hosts);
    assert.deepEqual(a.seen, [1, 2, 3, 4, 5, 7, 8, 9, 10, 11]);
    assert.deepEqual([...first.doc.plugins.get("a")!.backlog.keys()], [late]);
    log.commit(late!);
    log.add(2);
    await runOnce(config, log, hosts);
    assert.deepEqual(a.seen, [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 6, 12, 13]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine ignores a gap already older than backlog_timeout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    const old = Date.now() - 3_600_000;
    log.add(2, { createdAt: old });
    log.add(1, { hidden: true, createdAt: old });
    log.add(2, { createdAt: old });
    const a = new RecordingHost("a", "/a.ts", "1");
    const store = await runOnce(testConfig(`${dir}/state.json`), log, new Map([["a", a]]));
    assert.deepEqual(a.seen, [1, 2, 4, 5]);
    assert.deepEqual(store.doc.plugins.get("a")!.backlog.size, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine pauses a failing plugin at its event while the others go on", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(30);
    const bad = new RecordingHost("bad", "/bad.ts", "1");
    bad.failOn.add(10);
    const good = new RecordingHost("good", "/good.ts", "1");
    const config = testConfig(`${dir}/state.json`);
    const store = await runOnce(config, log, new Map([["bad", bad], ["good", good]]));
    assert.deepEqual(bad.seen, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(good.seen.length, 30);
    const state = store.doc.plugins.get("bad")!;
    assert.deepEqual(state.status, "paused");
    assert.deepEqual(state.paused?.eventId, 10);
    assert.deepEqual(state.cursor, 9);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine records a stopOnError false failure and moves on", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(10);
    const host = new RecordingHost("p", "/p.ts", "1");
    host.failOn.add(4);
    host.stopOnError = false;
    const store = await runOnce(testConfig(`${dir}/state.json`), log, new Map([["p", host]]));
    assert.deepEqual(host.seen, [1, 2, 3, 5, 6, 7, 8, 9, 10]);
    const state = store.doc.plugins.get("p")!;
    assert.deepEqual(state.failed.map((f) => f.eventId), [4]);
    assert.deepEqual(state.status, "active");
    assert.deepEqual(state.cursor, 10);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine starts a new plugin after the newest event when state exists", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(10);
    const a = new RecordingHost("a", "/a.ts", "1");
    const config = testConfig(`${dir}/state.json`);
    await runOnce(config, log, new Map([["a", a]]));
    log.add(3);
    const b = new RecordingHost("b", "/b.ts", "1");
    await runOnce(config, log, new Map([["a", a], ["b", b]]));
    assert.deepEqual(b.seen, []);
    assert.ok(a.seen.length === 13);
    log.add(2);
    await runOnce(config, log, new Map([["a", a], ["b", b]]));
    assert.deepEqual(b.seen, [14, 15]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
