import assert from "node:assert/strict";
import { StateStore } from "../state/state_store.ts";
import { Engine } from "./engine.ts";
import { sendRequest } from "./control.ts";
import { editState, MemoryLog, once, RecordingHost, runOnce, testConfig } from "./test_fakes.ts";
import type { DeliveryReport, PluginFile } from "./types.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { readStateFile } from "../state/state_store.ts";

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
    assert.deepEqual([...first.plugins.get("a")!.backlog.keys()], [late]);
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
    assert.deepEqual(store.plugins.get("a")!.backlog.size, 0);
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
    const state = store.plugins.get("bad")!;
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
    const state = store.plugins.get("p")!;
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

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

class SlowHost extends RecordingHost {
  delays: number[] = [];
  onFirst: (() => void) | null = null;
  override async deliver(events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
    const delay = this.delays.shift();
    if (delay) {
      this.onFirst?.();
      await wait(delay);
    }
    return super.deliver(events);
  }
}

async function* forever<T>(value: T, signal: AbortSignal): AsyncIterable<T> {
  yield value;
  await new Promise((r) => signal.addEventListener("abort", r));
}

Deno.test("Engine judges a gap's age when its page was read, not when a slow plugin gets to it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(5);
    const [late] = log.add(1, { hidden: true });
    log.add(1);
    // The page after 5 is prefetched while 6 is missing; 6 commits while the plugin
    // spends longer than backlog_timeout on the first page.
    const host = new SlowHost("a", "/a.ts", "1");
    host.delays = [2000];
    host.onFirst = () => setTimeout(() => log.commit(late!), 100);
    const config = testConfig(`${dir}/s.json`, { maxEventBatchSize: 5, backlogTimeoutMs: 1500 });
    const store = await StateStore.open(config.daemon.stateFile, {
      site: config.shotgrid.url,
      backlogTimeoutMs: config.daemon.backlogTimeoutMs,
    });
    const engine = new Engine({
      config,
      source: log,
      store,
      once: true,
      startHost: () => Promise.resolve(host),
      plugins: once([{ name: "a", file: "/a.ts", hash: "1" }]),
    });
    await engine.run(new AbortController().signal);
    await store.close();
    assert.deepEqual(host.seen, [1, 2, 3, 4, 5, 7, 6]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine applies an acknowledged skip even when a stop arrives during the batch", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(10);
    const host = new SlowHost("a", "/a.ts", "1");
    host.delays = [800];
    const config = testConfig(`${dir}/s.json`, { shutdownTimeoutMs: 5000 });
    const store = await StateStore.open(config.daemon.stateFile, {
      site: config.shotgrid.url,
      backlogTimeoutMs: config.daemon.backlogTimeoutMs,
    });
    const stop = new AbortController();
    const plugin: PluginFile = { name: "a", file: "/a.ts", hash: "1" };
    const engine = new Engine({
      config,
      source: log,
      store,
      controlIntervalMs: 10,
      startHost: () => Promise.resolve(host),
      plugins: forever([plugin], stop.signal),
    });
    const run = engine.run(stop.signal);
    await wait(200);
    await sendRequest(store.file, { id: "skip-1", op: "skip", plugins: ["a"], to: 1000 });
    while (!(await readStateFile(store.file))?.applied.includes("skip-1")) await wait(10);
    stop.abort();
    await run;
    await store.close();
    const doc = await readStateFile(store.file);
    assert.equal(doc!.plugins.get("a")!.cursor, 1000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine applies each run-time request once, however many have been made", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(10);
    const host = new RecordingHost("a", "/a.ts", "1");
    const config = testConfig(`${dir}/s.json`);
    const store = await StateStore.open(config.daemon.stateFile, {
      site: config.shotgrid.url,
      backlogTimeoutMs: config.daemon.backlogTimeoutMs,
    });
    const stop = new AbortController();
    const engine = new Engine({
      config,
      source: log,
      store,
      controlIntervalMs: 5,
      startHost: () => Promise.resolve(host),
      plugins: forever([{ name: "a", file: "/a.ts", hash: "1" }], stop.signal),
    });
    const run = engine.run(stop.signal);
    while (host.seen.length < 10) await wait(10);
    await sendRequest(store.file, { id: "rewind", op: "skip", plugins: ["a"], to: 5, force: true });
    while (host.seen.length < 15) await wait(10);
    for (let i = 0; i < 250; i++) {
      await sendRequest(store.file, { id: `r${i}`, op: "resume", plugins: ["a"] });
    }
    while (!store.applied.includes("r249")) await wait(10);
    stop.abort();
    await run;
    await store.close();
    // Each request acknowledged once, in order: a re-read of the file would ack again after r249
    // (and re-apply the rewind, which delivers 5 events more).
    assert.deepEqual(store.applied, Array.from({ length: 200 }, (_, i) => `r${i + 50}`));
    assert.equal(host.seen.length, 15, `seen ${host.seen.length} deliveries`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine resumes a paused plugin whose file changed while the daemon was stopped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(6);
    const config = testConfig(`${dir}/state.json`);
    const broken = new RecordingHost("p", "/p.ts", "v1");
    broken.failOn.add(3);
    const first = await runOnce(config, log, new Map([["p", broken]]));
    assert.equal(first.plugins.get("p")!.status, "paused");
    // Same file at the next start: still paused.
    const same = new RecordingHost("p", "/p.ts", "v1");
    await runOnce(config, log, new Map([["p", same]]));
    assert.deepEqual(same.seen, []);
    const fixed = new RecordingHost("p", "/p.ts", "v2");
    const after = await runOnce(config, log, new Map([["p", fixed]]));
    assert.deepEqual(fixed.seen, [3, 4, 5, 6]);
    assert.equal(after.plugins.get("p")!.status, "active");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine hands backlog events over at most one batch at a time", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(1);
    const late = log.add(12, { hidden: true });
    log.add(1);
    const host = new RecordingHost("a", "/a.ts", "1");
    const sizes: number[] = [];
    const deliver = host.deliver.bind(host);
    host.deliver = (events) => {
      sizes.push(events.length);
      return deliver(events);
    };
    const config = testConfig(`${dir}/state.json`, { maxEventBatchSize: 5 });
    await runOnce(config, log, new Map([["a", host]]));
    for (const id of late) log.commit(id);
    sizes.length = 0;
    await runOnce(config, log, new Map([["a", host]]));
    assert.deepEqual(host.seen.slice(2), late);
    assert.ok(sizes.every((n) => n <= 5), `batches ${sizes}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine treats a state file with no plugin yet as a first start (daemon.start_at)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(4);
    const config = testConfig(`${dir}/state.json`);
    // A daemon stopped before it placed any plugin leaves a file with none.
    const empty = await runOnce(config, log, new Map());
    assert.equal(empty.plugins.size, 0);
    const a = new RecordingHost("a", "/a.ts", "1");
    const b = new RecordingHost("b", "/b.ts", "1");
    await runOnce(config, log, new Map([["a", a], ["b", b]]));
    assert.deepEqual(a.seen, [1, 2, 3, 4]);
    assert.deepEqual(b.seen, [1, 2, 3, 4]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine stopped while placing plugins places none, so the next start is still a first start", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(4);
    // The site does not answer "which is the oldest event" until the daemon is stopped.
    const stuck = Object.assign(Object.create(log), {
      oldestId: (signal: AbortSignal) =>
        new Promise<number>((_, reject) =>
          signal.addEventListener("abort", () => reject(signal.reason), { once: true })
        ),
    }) as MemoryLog;
    const config = testConfig(`${dir}/state.json`);
    const store = await StateStore.open(config.daemon.stateFile, {
      site: config.shotgrid.url,
      backlogTimeoutMs: config.daemon.backlogTimeoutMs,
    });
    const stop = new AbortController();
    const engine = new Engine({
      config,
      source: stuck,
      store,
      startHost: (p) => Promise.resolve(new RecordingHost(p.name, p.file, p.hash)),
      plugins: once([{ name: "a", file: "/a.ts", hash: "1" }, {
        name: "b",
        file: "/b.ts",
        hash: "1",
      }]),
    });
    setTimeout(() => stop.abort(), 50);
    await engine.run(stop.signal);
    await store.close();
    assert.equal(store.plugins.size, 0);
    const a = new RecordingHost("a", "/a.ts", "1");
    const b = new RecordingHost("b", "/b.ts", "1");
    await runOnce(config, log, new Map([["a", a], ["b", b]]));
    assert.deepEqual([a.seen, b.seen], [[1, 2, 3, 4], [1, 2, 3, 4]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine stops, without saving over it, when another process replaced its state file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(5);
    // The second batch waits for the gate: no save is under way while the file is replaced.
    const inBatch = Promise.withResolvers<void>();
    const gate = Promise.withResolvers<void>();
    class GatedHost extends RecordingHost {
      override async deliver(events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
        if (this.seen.length > 0) {
          inBatch.resolve();
          await gate.promise;
        }
        return await super.deliver(events);
      }
    }
    const host = new GatedHost("a", "/a.ts", "1");
    const config = testConfig(`${dir}/s.json`, { maxEventBatchSize: 5 });
    const store = await StateStore.open(config.daemon.stateFile, {
      site: config.shotgrid.url,
      backlogTimeoutMs: config.daemon.backlogTimeoutMs,
    });
    const stop = new AbortController();
    const engine = new Engine({
      config,
      source: log,
      store,
      startHost: () => Promise.resolve(host),
      plugins: forever([{ name: "a", file: "/a.ts", hash: "1" }], stop.signal),
    });
    const run = engine.run(stop.signal);
    log.add(3);
    await inBatch.promise;
    // Another process writes its own state over ours (a second daemon, a restore by hand).
    const theirs = `${dir}/theirs.json`;
    await Deno.writeTextFile(theirs, await Deno.readTextFile(store.file));
    await Deno.rename(theirs, store.file);
    const replaced = await Deno.readTextFile(store.file);
    gate.resolve();
    await assert.rejects(run, {
      name: "StateSaveError",
      message: /was replaced by another process/,
    });
    assert.equal(await Deno.readTextFile(store.file), replaced, "their file is left as it was");
    await store.close().catch(() => {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine delivers a replay one batch between two normal batches, cursor untouched by it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/state.json`;
    const config = testConfig(file, { maxEventBatchSize: 5 });
    const log = new MemoryLog();
    log.add(12);
    const first = new RecordingHost("p", "/p.ts", "1");
    await runOnce(config, log, new Map([["p", first]]));
    log.add(10);
    await editState(config, (store) => store.cursor("p")!.startReplay(3, 12));
    const host = new RecordingHost("p", "/p.ts", "1");
    const store = await runOnce(config, log, new Map([["p", host]]));
    assert.deepEqual(host.seen, [
      ...[3, 4, 5, 6, 7],
      ...[13, 14, 15, 16, 17],
      ...[8, 9, 10, 11, 12],
      ...[18, 19, 20, 21, 22],
    ]);
    const state = store.plugins.get("p")!;
    assert.equal(state.cursor, 22);
    assert.equal(state.replay, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine pauses a plugin at a replayed event that fails, and the replay goes on from it at resume", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/state.json`;
    const config = testConfig(file, { maxEventBatchSize: 5 });
    const log = new MemoryLog();
    log.add(10);
    await runOnce(config, log, new Map([["p", new RecordingHost("p", "/p.ts", "1")]]));
    await editState(config, (store) => store.cursor("p")!.startReplay(2, 6));
    const failing = new RecordingHost("p", "/p.ts", "1");
    failing.failOn.add(4);
    const paused = await runOnce(config, log, new Map([["p", failing]]));
    assert.deepEqual(failing.seen, [2, 3]);
    const state = paused.plugins.get("p")!;
    assert.equal(state.status, "paused");
    assert.deepEqual([state.paused?.eventId, state.paused?.inReplay], [4, true]);
    assert.equal(state.replay?.next, 4);
    assert.equal(state.cursor, 10);
    await editState(config, (store) => store.cursor("p")!.resume());
    const fixed = new RecordingHost("p", "/p.ts", "1");
    const done = await runOnce(config, log, new Map([["p", fixed]]));
    assert.deepEqual(fixed.seen, [4, 5, 6]);
    assert.equal(done.plugins.get("p")!.replay, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine delivers a replay batch the process died during one event at a time", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/state.json`;
    const config = testConfig(file, { maxEventBatchSize: 5 });
    const log = new MemoryLog();
    log.add(10);
    await runOnce(config, log, new Map([["p", new RecordingHost("p", "/p.ts", "1")]]));
    await editState(config, (store) => {
      const cursor = store.cursor("p")!;
      cursor.startReplay(2, 9);
      // What a death during the replay's first batch leaves in the state file.
      cursor.beginDelivery(2, 6);
    });
    const host = new BatchRecordingHost("p", "/p.ts", "1");
    const store = await runOnce(config, log, new Map([["p", host]]));
    assert.deepEqual(host.batches, [[2], [3], [4], [5], [6], [7, 8, 9]]);
    const state = store.plugins.get("p")!;
    assert.deepEqual([state.replay, state.probe, state.inFlight, state.cursor], [
      null,
      null,
      null,
      10,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

class BatchRecordingHost extends RecordingHost {
  readonly batches: number[][] = [];
  override deliver(events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
    this.batches.push(events.map((event) => event.id));
    return super.deliver(events);
  }
}

Deno.test("Engine records a plugin's quarantine in its state, for state show and the page", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(3);
    class QuarantinedHost extends RecordingHost {
      quarantined: string | null = null;
      override deliver(events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
        this.quarantined = "TimeoutError: Callback cb did not return within 100 ms";
        return super.deliver(events);
      }
    }
    const host = new QuarantinedHost("q", "/q.ts", "1");
    const store = await runOnce(testConfig(`${dir}/s.json`), log, new Map([["q", host]]));
    assert.match(store.plugins.get("q")!.quarantine?.reason ?? "", /did not return/);
    const saved = await readStateFile(`${dir}/s.json`);
    assert.match(saved!.plugins.get("q")!.quarantine?.reason ?? "", /did not return/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Engine saves a lane's progress durably, once per page while behind: the next page's in-flight mark carries it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(500);
    const config = testConfig(`${dir}/state.json`);
    const a = new RecordingHost("a", "/a.ts", "1");
    // Every save, with the plugin's cursor as it is written.
    const saves: { durable: boolean; position: number; inFlight: boolean }[] = [];
    await runOnce(config, log, new Map([["a", a]]), undefined, (store) => {
      const checkpoint = store.checkpoint.bind(store);
      store.checkpoint = (options = {}) => {
        const cursor = store.cursor("a");
        if (cursor) {
          saves.push({
            durable: options.durable ?? true,
            position: cursor.position,
            inFlight: cursor.view.inFlight !== null,
          });
        }
        return checkpoint(options);
      };
    });
    assert.deepEqual(a.seen, Array.from({ length: 500 }, (_, i) => i + 1));
    // Progress is never left to a save that is not fsynced.
    let durableAt = saves[0]?.position ?? 0;
    for (const save of saves) {
      if (save.position !== durableAt) {
        assert.ok(save.durable, `progress to ${save.position} saved without fsync`);
      }
      if (save.durable) durableAt = save.position;
    }
    // 10 pages of 50: a mark before each and a save after each would be 20, plus the
    // first save, the empty page at the head and the stop; the marks carry them.
    const marks = saves.filter((s) => s.inFlight).length;
    assert.equal(marks, 10);
    assert.ok(saves.length <= marks + 4, `${saves.length} saves for 10 pages`);
    assert.equal((await readStateFile(config.daemon.stateFile))?.plugins.get("a")?.cursor, 500);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
