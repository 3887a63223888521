import assert from "node:assert/strict";
import { join } from "node:path";
import { PluginHost, type PluginHostOptions } from "./host.ts";
import { event, hostOptions, LogCapture, tempDir, writeFiles } from "./test_helpers.ts";
import { defaultWorkers, WorkerPool } from "./worker_pool.ts";

const site = { url: "http://127.0.0.1:9", proxy: null };

/** A plugin whose one callback runs `body` (with sg, logger, event, args, ctx in scope). */
function pluginWith(body: string, top = ""): string {
  return `
    import type { Registrar } from "${new URL("./mod.ts", import.meta.url).href}";
    ${top}
    export function registerCallbacks(reg: Registrar): void {
      reg.registerCallback("script", "key", async function onEvent(sg, logger, event, args, ctx) {
        ${body}
      }, null, {}, true);
    }
  `;
}

function starter(dir: string, pool: WorkerPool) {
  return (
    name: string,
    options: Partial<PluginHostOptions> & { isolate?: boolean } = {},
  ): Promise<PluginHost> =>
    PluginHost.start({ name, file: join(dir, `${name}.ts`), hash: "" }, {
      ...hostOptions(options),
      pool,
      ...(options.isolate !== undefined ? { isolate: options.isolate } : {}),
    });
}

const events = [1, 2, 3, 4, 5].map((id) => event(id));

Deno.test("WorkerPool.place() is round-robin over at most `workers` Workers, in planned order, sticky", () => {
  const pool = new WorkerPool({ workers: 3, site });
  pool.plan(["p0", "p1", "p2", "p3", "p4"]);
  pool.plan(["p5", "p0"]); // p0 keeps its place; p5 comes after p4
  const names = ["p5", "p4", "p3", "p2", "p1", "p0"].map((p) => [p, pool.place(p).name]);
  assert.deepEqual(Object.fromEntries(names), {
    p0: "worker 1",
    p1: "worker 2",
    p2: "worker 3",
    p3: "worker 1",
    p4: "worker 2",
    p5: "worker 3",
  });
  assert.equal(pool.place("p0"), pool.place("p3"), "one Worker object per slot");
  assert.equal(pool.place("late").name, "worker 1", "unplanned: in order of first sight");
  assert.equal(pool.place("p1", { isolate: true }).name, "plugin p1");
  assert.equal(pool.place("p1", { permissions: { read: true } }).shared, false);
  const quarantined = pool.quarantine("p2", "it looped");
  assert.deepEqual([quarantined.name, quarantined.quarantined], ["plugin p2", "it looped"]);
  assert.throws(() => new WorkerPool({ workers: 0, site }), RangeError);
  pool.close();
});

Deno.test("by default a pool has a Worker per 16 plugins found at start, at most one per core", () => {
  const cores = navigator.hardwareConcurrency;
  assert.equal(new WorkerPool({ site }).workers, 1, "nothing planned yet");
  const pool = new WorkerPool({ site });
  const found = Array.from({ length: 40 }, (_, i) => `p${i}`);
  pool.plan(found);
  assert.equal(pool.workers, defaultWorkers(cores, 40));
  const used = new Set(found.map((name) => pool.place(name).name));
  assert.equal(used.size, Math.min(cores, 3), "40 plugins: 3 Workers, or one per core");
  pool.plan(Array.from({ length: 100 }, (_, i) => `late${i}`));
  assert.equal(pool.workers, defaultWorkers(cores, 40), "fixed once plugins are placed");
  pool.close();
});

Deno.test("defaultWorkers() grows by one Worker per 16 plugins up to the cores, and is never 0", () => {
  assert.deepEqual([0, 1, 10, 16, 17, 32, 33, 50].map((n) => defaultWorkers(2, n)), [
    1,
    1,
    1,
    1,
    2,
    2,
    2,
    2,
  ]);
  assert.deepEqual([1, 16, 17, 50, 100, 1000].map((n) => defaultWorkers(8, n)), [
    1,
    1,
    2,
    4,
    7,
    8,
  ]);
  assert.equal(defaultWorkers(0, 50), 1, "hardwareConcurrency unknown");
  assert.equal(defaultWorkers(Number.NaN, 50), 1);
});

Deno.test("WorkerPool places plugins round-robin in processing order, alone when isolated or given permissions", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  // Plugins sharing a Worker share its globalThis: each reports who was there first.
  const body = `globalThis.first ??= ctx.plugin; logger.info("first " + globalThis.first);`;
  await writeFiles(dir.path, {
    "a.ts": pluginWith(body),
    "b.ts": pluginWith(body),
    "c.ts": pluginWith(body),
    "alone.ts": pluginWith(body),
    "limited.ts": pluginWith(body),
  });
  const pool = new WorkerPool({ workers: 2, site });
  try {
    pool.plan(["a", "b", "c", "alone", "limited"]);
    const start = starter(dir.path, pool);
    // Started in another order than planned: placement follows the plan.
    await using c = await start("c");
    await using b = await start("b");
    await using a = await start("a");
    await using alone = await start("alone", { isolate: true });
    await using limited = await start("limited", { permissions: { read: true } });
    assert.deepEqual(
      [a, b, c, alone, limited].map((h) => [h.name, h.placement, h.status]),
      [
        ["a", "worker 1", "ready"],
        ["b", "worker 2", "ready"],
        ["c", "worker 1", "ready"],
        ["alone", "plugin alone", "ready"],
        ["limited", "plugin limited", "ready"],
      ],
    );
    for (const host of [a, b, c, alone, limited]) {
      assert.equal((await host.deliver([event(1)])).done, 1);
    }
    const first = (name: string) => logs.messages(["sgevents", "plugin", name]);
    assert.deepEqual(first("a"), ["first a"]);
    assert.deepEqual(first("c"), ["first a"], "c shares a's Worker");
    assert.deepEqual(first("b"), ["first b"]);
    assert.deepEqual(first("alone"), ["first alone"]);
    assert.deepEqual(first("limited"), ["first limited"]);
  } finally {
    pool.close();
  }
});

Deno.test("PluginHost in a shared Worker: each plugin gets the frozen events it matches, once", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  await writeFiles(dir.path, {
    "odd.ts": `
      export function registerCallbacks(reg) {
        reg.registerCallback("s", "k", (sg, logger, event) => {
          try { event.meta.new_value = "x"; } catch (e) { logger.info("frozen " + e.name); }
          logger.info("odd " + event.id);
        }, { Odd: null }, {});
      }`,
    "all.ts": pluginWith(`logger.info("all " + event.id + " " + event.meta.new_value);`),
  });
  const pool = new WorkerPool({ workers: 1, site });
  try {
    const start = starter(dir.path, pool);
    await using odd = await start("odd");
    await using all = await start("all");
    const page = [1, 2, 3].map((id) => event(id, { event_type: id % 2 ? "Odd" : "Even" }));
    assert.deepEqual(await odd.deliver(page), {
      done: 3,
      skipped: [],
      paused: null,
      stopped: false,
    });
    assert.equal((await all.deliver(page)).done, 3);
    assert.deepEqual(logs.messages(["sgevents", "plugin", "odd"]), [
      "frozen TypeError",
      "odd 1",
      "frozen TypeError",
      "odd 3",
    ]);
    assert.deepEqual(logs.messages(["sgevents", "plugin", "all"]), [
      "all 1 ip",
      "all 2 ip",
      "all 3 ip",
    ]);
  } finally {
    pool.close();
  }
});

Deno.test("PluginHost in a shared Worker: an async-slow plugin does not hold up its co-tenant", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  await writeFiles(dir.path, {
    // slow awaits a gate on every event; fast opens it on its last event.
    "slow.ts": pluginWith(`
      globalThis.gate ??= new Promise((resolve) => (globalThis.open = resolve));
      await globalThis.gate;
      logger.info("slow " + event.id);
    `),
    "fast.ts": pluginWith(`
      logger.info("fast " + event.id);
      if (event.id === 5) globalThis.open();
    `),
  });
  const pool = new WorkerPool({ workers: 1, site });
  try {
    const start = starter(dir.path, pool);
    await using slow = await start("slow");
    await using fast = await start("fast");
    assert.equal(slow.placement, fast.placement);
    const slowDelivery = slow.deliver(events);
    assert.equal((await fast.deliver(events)).done, 5);
    assert.equal((await slowDelivery).done, 5);
    const order = logs.records
      .filter((r) => r.category[2] === "slow" || r.category[2] === "fast")
      .map((r) => r.message.join(""));
    assert.deepEqual(order, [
      "fast 1",
      "fast 2",
      "fast 3",
      "fast 4",
      "fast 5",
      "slow 1",
      "slow 2",
      "slow 3",
      "slow 4",
      "slow 5",
    ]);
  } finally {
    pool.close();
  }
});

Deno.test("PluginHost quarantines a plugin whose CPU loop hangs a shared Worker; its co-tenant loses and repeats nothing", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  await writeFiles(dir.path, {
    "loop.ts": pluginWith(`if (event.id === 3) while (true) {} logger.info("loop " + event.id);`),
    "fine.ts": pluginWith(`logger.info("fine " + event.id);`),
  });
  const pool = new WorkerPool({ workers: 1, site });
  try {
    const start = starter(dir.path, pool);
    await using loop = await start("loop", { callbackTimeoutMs: 100, retries: 3 });
    await using fine = await start("fine");
    assert.equal((await fine.deliver(events.slice(0, 2))).done, 2);
    // loop's batch reaches the Worker first and hangs it; fine's waits behind it.
    const looping = loop.deliver(events);
    const rest = await fine.deliver(events.slice(2));
    assert.deepEqual(rest, { done: 3, skipped: [], paused: null, stopped: false });
    const report = await looping;
    assert.equal(report.done, 2);
    assert.equal(report.paused?.id, 3);
    assert.match(report.paused?.error ?? "", /did not return within 100 ms/);
    assert.equal(loop.placement, "plugin loop");
    assert.match(loop.quarantined ?? "", /Callback onEvent did not return within 100 ms/);
    assert.equal(fine.placement, "worker 1");
    assert.equal(fine.quarantined, null);
    assert.deepEqual(
      logs.messages(["sgevents", "plugin", "fine"]).filter((m) => m.startsWith("fine")),
      [
        "fine 1",
        "fine 2",
        "fine 3",
        "fine 4",
        "fine 5",
      ],
    );
    assert.ok(
      logs.messages(["sgevents", "plugin", "loop"]).some((m) =>
        m.startsWith("Moved plugin loop to a Worker of its own")
      ),
    );
  } finally {
    pool.close();
  }
});

Deno.test("PluginHost: a co-tenant's callback awaiting when a loop hangs the Worker runs again, uncharged", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const marker = join(dir.path, "started");
  await writeFiles(dir.path, {
    // The first call (in the first Worker) waits forever; later calls go on.
    "waits.ts": pluginWith(`
      try { Deno.statSync(${JSON.stringify(marker)}); } catch {
        Deno.writeTextFileSync(${JSON.stringify(marker)}, "");
        await new Promise(() => {});
      }
      logger.info("waits " + event.id + " attempt " + ctx.attempt);
    `),
    "loop.ts": pluginWith(`while (true) {}`),
  });
  const pool = new WorkerPool({ workers: 1, site });
  try {
    const start = starter(dir.path, pool);
    await using waits = await start("waits", { callbackTimeoutMs: 600_000, retries: 2 });
    await using loop = await start("loop", { callbackTimeoutMs: 100 });
    const waiting = waits.deliver(events.slice(0, 2));
    const looping = loop.deliver(events.slice(0, 1));
    assert.equal((await looping).paused?.id, 1);
    assert.deepEqual(await waiting, {
      done: 2,
      skipped: [],
      paused: null,
      stopped: false,
    });
    assert.deepEqual(
      logs.messages(["sgevents", "plugin", "waits"]).filter((m) => m.startsWith("waits")),
      ["waits 1 attempt 1", "waits 2 attempt 1"],
    );
    assert.equal(waits.quarantined, null);
    assert.equal(loop.placement, "plugin loop");
  } finally {
    pool.close();
  }
});

Deno.test("PluginHost quarantines a plugin whose own timer loops in a shared Worker; co-tenants go on", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  await writeFiles(dir.path, {
    // Loops from a timer it set in its callback: outside any callback the watchdog watches.
    "timer.ts": pluginWith(`if (event.id === 1) setTimeout(() => { while (true) {} }, 0);`),
    "fine.ts": pluginWith(`logger.info("fine " + event.id);`),
  });
  const pool = new WorkerPool({ workers: 1, site, stuckFloorMs: 500 });
  try {
    const start = starter(dir.path, pool);
    await using timer = await start("timer", { callbackTimeoutMs: 100 });
    await using fine = await start("fine", { callbackTimeoutMs: 100 });
    assert.equal((await timer.deliver(events.slice(0, 1))).done, 1);
    // fine's batch runs before the loop starts or waits behind it until the heartbeat check
    // ends the Worker; either way it completes, once.
    assert.deepEqual(await fine.deliver(events), {
      done: 5,
      skipped: [],
      paused: null,
      stopped: false,
    });
    assert.deepEqual(
      logs.messages(["sgevents", "plugin", "fine"]).filter((m) => m.startsWith("fine")),
      ["fine 1", "fine 2", "fine 3", "fine 4", "fine 5"],
    );
    // Its next batch runs in a Worker of its own (blamed while idle, or while that batch waited).
    assert.equal((await timer.deliver(events.slice(1, 2))).done, 1);
    assert.equal(timer.placement, "plugin timer");
    assert.match(timer.quarantined ?? "", /did not answer/);
  } finally {
    pool.close();
  }
});

Deno.test("PluginHost.close() of a plugin looping in a shared Worker restarts its co-tenants", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  await writeFiles(dir.path, {
    "loop.ts": pluginWith(`while (true) {}`),
    "fine.ts": pluginWith(`logger.info("fine " + event.id);`),
  });
  const pool = new WorkerPool({ workers: 1, site });
  try {
    const start = starter(dir.path, pool);
    // A timeout its watchdog would not reach during the test: the close must free the thread.
    const loop = await start("loop", { callbackTimeoutMs: 600_000 });
    await using fine = await start("fine");
    const looping = loop.deliver(events);
    const fineDelivery = fine.deliver(events);
    await loop.close();
    assert.equal((await looping).stopped, true);
    assert.equal((await fineDelivery).done, 5);
    assert.deepEqual(
      logs.messages(["sgevents", "plugin", "fine"]).filter((m) => m.startsWith("fine")),
      ["fine 1", "fine 2", "fine 3", "fine 4", "fine 5"],
    );
  } finally {
    pool.close();
  }
});

Deno.test("PluginHost quarantines a plugin that ends its shared Worker (Deno.exit) and retries it alone", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  await writeFiles(dir.path, {
    "dies.ts": pluginWith(`
      if (event.id === 2 && ctx.attempt === 1) Deno.exit(3);
      logger.info("dies " + event.id + " attempt " + ctx.attempt);
    `),
    "fine.ts": pluginWith(`logger.info("fine " + event.id);`),
  });
  const pool = new WorkerPool({ workers: 1, site });
  try {
    const start = starter(dir.path, pool);
    await using dies = await start("dies", { callbackTimeoutMs: 60_000, retries: 1 });
    await using fine = await start("fine");
    const dying = dies.deliver(events.slice(0, 3));
    const fineReport = await fine.deliver(events);
    assert.equal(fineReport.done, 5);
    assert.deepEqual(await dying, {
      done: 3,
      skipped: [],
      paused: null,
      stopped: false,
    });
    assert.equal(dies.placement, "plugin dies");
    assert.match(dies.quarantined ?? "", /Deno\.exit\(3\)/);
    assert.deepEqual(
      logs.messages(["sgevents", "plugin", "dies"]).filter((m) => m.startsWith("dies")),
      ["dies 1 attempt 1", "dies 2 attempt 2", "dies 3 attempt 1"],
    );
    assert.deepEqual(
      logs.messages(["sgevents", "plugin", "fine"]).filter((m) => m.startsWith("fine")),
      ["fine 1", "fine 2", "fine 3", "fine 4", "fine 5"],
    );
  } finally {
    pool.close();
  }
});

Deno.test("PluginHost quarantines a plugin over the CPU budget per event after its batch", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  await writeFiles(dir.path, {
    "heavy.ts": pluginWith(`
      const end = performance.now() + 60;
      while (performance.now() < end) {}
      logger.info("heavy " + event.id);
    `),
    "light.ts": pluginWith(`logger.info("light " + event.id);`),
  });
  const pool = new WorkerPool({ workers: 1, site, cpuBudgetMs: 20 });
  try {
    const start = starter(dir.path, pool);
    await using heavy = await start("heavy");
    await using light = await start("light");
    assert.equal((await heavy.deliver(events.slice(0, 1))).done, 1);
    assert.equal(heavy.placement, "worker 1", "moved between batches, not during one");
    assert.equal((await heavy.deliver(events.slice(1, 2))).done, 1);
    assert.equal(heavy.placement, "plugin heavy");
    assert.match(heavy.quarantined ?? "", /over the CPU budget of 20 ms/);
    assert.equal((await light.deliver(events)).done, 5);
    assert.deepEqual(
      logs.messages(["sgevents", "plugin", "heavy"]).filter((m) => m.startsWith("heavy")),
      ["heavy 1", "heavy 2"],
    );
  } finally {
    pool.close();
  }
});

Deno.test("PluginHost reload of one plugin in a shared Worker leaves the others running", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const counting = (name: string) =>
    pluginWith(`logger.info("${name} " + event.id + " count " + (++count));`, "let count = 0;");
  await writeFiles(dir.path, { "a.ts": counting("a"), "b.ts": counting("b") });
  const pool = new WorkerPool({ workers: 1, site });
  try {
    const start = starter(dir.path, pool);
    const a = await start("a");
    await using b = await start("b");
    await a.deliver(events.slice(0, 2));
    await b.deliver(events.slice(0, 2));
    await a.close();
    // The same code again: a fresh module instance (its count starts over).
    await using reloaded = await start("a");
    assert.equal(reloaded.placement, b.placement);
    await b.deliver(events.slice(2, 3));
    await reloaded.deliver(events.slice(2, 3));
    assert.deepEqual(logs.messages(["sgevents", "plugin", "a"]), [
      "a 1 count 1",
      "a 2 count 2",
      "a 3 count 1",
    ]);
    // b's module (and Worker) lived on.
    assert.deepEqual(logs.messages(["sgevents", "plugin", "b"]), [
      "b 1 count 1",
      "b 2 count 2",
      "b 3 count 3",
    ]);
  } finally {
    pool.close();
  }
});

Deno.test("PluginHost.start() fails a plugin that registers no callback", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "empty.ts": "export function registerCallbacks(reg) {}" });
  const pool = new WorkerPool({ workers: 1, site });
  try {
    await using host = await starter(dir.path, pool)("empty");
    assert.equal(host.status, "failed");
    assert.equal(
      host.loadError,
      'Cannot load plugin "empty.ts": registerCallbacks registered no callback',
    );
  } finally {
    pool.close();
  }
});

Deno.test("PluginHost: a long run of short synchronous callbacks in a shared Worker is not taken for a stuck thread", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    // 60 ms of synchronous work per event, well within its timeout: 40 events leave the
    // Worker's event loop no turn, so its timer no heartbeat, for 2.4 s.
    "busy.ts": `
      import type { Registrar } from "${new URL("./mod.ts", import.meta.url).href}";
      export function registerCallbacks(reg: Registrar): void {
        reg.registerCallback("script", "key", function onEvent() {
          const until = performance.now() + 60;
          while (performance.now() < until) { /* work */ }
        }, null, {}, true);
      }`,
  });
  const pool = new WorkerPool({ workers: 1, site, stuckFloorMs: 1000 });
  try {
    const start = starter(dir.path, pool);
    await using busy = await start("busy", { callbackTimeoutMs: 300, graceMs: 100 });
    const many = Array.from({ length: 40 }, (_, i) => event(i + 1));
    assert.deepEqual(await busy.deliver(many), {
      done: 40,
      skipped: [],
      paused: null,
      stopped: false,
    });
    assert.equal(busy.quarantined, null);
    assert.equal(busy.placement, "worker 1");
  } finally {
    pool.close();
  }
});
