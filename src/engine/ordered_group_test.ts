import assert from "node:assert/strict";
import type { Config } from "../config/types.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { StateStore } from "../state/state_store.ts";
import { groupOf } from "./ordered_group.ts";
import { MemoryLog, RecordingHost, runOnce, testConfig } from "./test_fakes.ts";
import type { DeliveryReport } from "./types.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// Records when each callback starts and finishes in a journal shared by the plugins, and
// yields to the event loop in between, so plugins not held to an order interleave.
class JournalHost extends RecordingHost {
  constructor(name: string, readonly journal: string[]) {
    super(name, `/${name}.ts`, "1");
  }
  override async deliver(events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (!this.wants(event)) continue;
      this.journal.push(`${this.name} start ${event.id}`);
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (this.failOn.has(event.id)) {
        const failure = { id: event.id, callback: "cb", error: "boom", stack: null, attempts: 1 };
        return { done: i, skipped: [], paused: failure, stopped: false };
      }
      this.seen.push(event.id);
      this.journal.push(`${this.name} finish ${event.id}`);
    }
    return { done: events.length, skipped: [], paused: null, stopped: false };
  }
}

function ordered(config: Config, plugins: Partial<Config["plugins"]>): Config {
  return { ...config, plugins: { ...config.plugins, ...plugins } };
}

const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

Deno.test("Engine with plugins.order strict finishes each event in every plugin, in order, before the next", async () => {
  for (const readAhead of [1, 4]) {
    await withDir(async (dir) => {
      const log = new MemoryLog();
      log.add(320);
      const journal: string[] = [];
      const hosts = new Map(["a", "b", "c"].map((name) => [name, new JournalHost(name, journal)]));
      // c wants only every third event: the others do not wait for it on the rest.
      hosts.get("c")!.wants = (event) => event.id % 3 === 0;
      const config = ordered(testConfig(`${dir}/state.json`, { readAhead }), { order: "strict" });
      const store = await runOnce(config, log, hosts);
      const expected = ids(1, 320).flatMap((id) =>
        ["a", "b", "c"].filter((name) => name !== "c" || id % 3 === 0)
          .flatMap((name) => [`${name} start ${id}`, `${name} finish ${id}`])
      );
      assert.deepEqual(journal, expected, `read_ahead ${readAhead}`);
      // One position, but each plugin's own cursor and counts.
      for (const name of ["a", "b", "c"]) assert.equal(store.cursor(name)!.position, 320);
      assert.equal(store.cursor("a")!.view.processed, 320);
      assert.equal(store.cursor("c")!.view.processed, 106);
    });
  }
});

Deno.test("Engine with plugins.order per_plugin keeps independent lanes: a paused plugin holds back only itself", async () => {
  await withDir(async (dir) => {
    const log = new MemoryLog();
    log.add(120);
    const journal: string[] = [];
    const hosts = new Map(["a", "b"].map((name) => [name, new JournalHost(name, journal)]));
    hosts.get("a")!.failOn.add(1);
    const store = await runOnce(testConfig(`${dir}/state.json`), log, hosts);
    assert.deepEqual(hosts.get("a")!.seen, []);
    assert.deepEqual(hosts.get("b")!.seen, ids(1, 120));
    assert.equal(store.cursor("a")!.status, "paused");
    assert.equal(journal.filter((line) => line.startsWith("a ")).length, 1);
  });
});

Deno.test("Engine holds an ordered group back while one member is paused, and not the other plugins", async () => {
  await withDir(async (dir) => {
    const log = new MemoryLog();
    log.add(60);
    const journal: string[] = [];
    const hosts = new Map(["a", "b", "c"].map((name) => [name, new JournalHost(name, journal)]));
    hosts.get("b")!.failOn.add(5);
    const config = ordered(testConfig(`${dir}/state.json`), { orderedGroups: [["a", "b"]] });
    let store = await runOnce(config, log, hosts);
    // a finished 5 before b failed on it; neither went further; c, on its own, did.
    assert.deepEqual(hosts.get("a")!.seen, ids(1, 5));
    assert.deepEqual(hosts.get("b")!.seen, ids(1, 4));
    assert.deepEqual(hosts.get("c")!.seen, ids(1, 60));
    assert.equal(store.cursor("b")!.status, "paused");
    assert.equal(store.cursor("b")!.paused!.eventId, 5);
    assert.equal(store.cursor("a")!.position, 5);
    assert.equal(store.cursor("b")!.position, 4);

    // Still paused: the group stays where it is.
    log.add(10);
    store = await runOnce(config, log, hosts);
    assert.deepEqual(hosts.get("a")!.seen, ids(1, 5));
    assert.deepEqual(hosts.get("c")!.seen, ids(1, 70));

    // Resumed (the fix deployed): b takes 5, then both go on together, in order.
    hosts.get("b")!.failOn.clear();
    const open = await StateStore.open(`${dir}/state.json`, {
      site: config.shotgrid.url,
      backlogTimeoutMs: config.daemon.backlogTimeoutMs,
    });
    open.cursor("b")!.resume();
    await open.close();
    journal.length = 0;
    store = await runOnce(config, log, hosts);
    assert.deepEqual(hosts.get("a")!.seen, ids(1, 70));
    assert.deepEqual(hosts.get("b")!.seen, ids(1, 70));
    assert.deepEqual(journal.slice(0, 6), [
      "b start 5",
      "b finish 5",
      "a start 6",
      "a finish 6",
      "b start 6",
      "b finish 6",
    ]);
    assert.equal(store.cursor("a")!.position, 70);
    assert.equal(store.cursor("b")!.position, 70);
  });
});

Deno.test("Engine delivers a late gap to an ordered group once, in order, to each member", async () => {
  await withDir(async (dir) => {
    const log = new MemoryLog();
    log.add(5);
    const [late] = log.add(1, { hidden: true });
    log.add(5);
    const journal: string[] = [];
    const hosts = new Map(["a", "b"].map((name) => [name, new JournalHost(name, journal)]));
    const config = ordered(testConfig(`${dir}/state.json`), { order: "strict" });
    const first = await runOnce(config, log, hosts);
    assert.deepEqual([...first.cursor("a")!.backlog], [late]);
    assert.deepEqual([...first.cursor("b")!.backlog], [late]);
    log.commit(late!);
    journal.length = 0;
    const second = await runOnce(config, log, hosts);
    assert.deepEqual(journal, [
      `a start ${late}`,
      `a finish ${late}`,
      `b start ${late}`,
      `b finish ${late}`,
    ]);
    for (const name of ["a", "b"]) {
      assert.deepEqual(hosts.get(name)!.seen, [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, late]);
      assert.equal(second.cursor(name)!.backlogSize, 0);
    }
  });
});

Deno.test("groupOf() puts every plugin in one group for strict, named ones for ordered_groups", () => {
  assert.equal(groupOf({ order: "strict" })("x"), "strict");
  const of = groupOf({ order: "per_plugin", orderedGroups: [["a", "b"], ["c", "d"]] });
  assert.deepEqual(["a", "b", "c", "e"].map(of), ["a+b", "a+b", "c+d", null]);
  assert.equal(groupOf({})("a"), null);
});
