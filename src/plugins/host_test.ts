import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { PluginHost, type PluginHostOptions } from "./host.ts";
import { event, hostOptions, LogCapture, tempDir, writeFiles } from "./test_helpers.ts";

/** Start a host for `file` (hash is not checked here). */
function start(file: string, options: Partial<PluginHostOptions> = {}): Promise<PluginHost> {
  return PluginHost.start(
    { name: basename(file).replace(/\.[jt]s$/, ""), file, hash: "" },
    hostOptions(options),
  );
}

/** A plugin whose one callback runs `body` (with sg, logger, event, args, ctx in scope). */
function pluginWith(body: string, registration = "null, {}, true"): string {
  return `
    import type { Registrar } from "${new URL("./mod.ts", import.meta.url).href}";
    export function registerCallbacks(reg: Registrar): void {
      reg.registerCallback("script", "key", async function onEvent(sg, logger, event, args, ctx) {
        ${body}
      }, ${registration});
    }
  `;
}

const events = [1, 2, 3, 4, 5].map((id) => event(id));

Deno.test("PluginHost.start() reports each load failure with its reason while others load", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    "good.ts": pluginWith(`logger.info("good " + event.id);`),
    "syntax.ts": `export function registerCallbacks( {\n`,
    "missing_helper.ts": `import { x } from "./gone.ts";\nexport function registerCallbacks() {}\n`,
    "no_export.ts": `export function register() {}\n`,
    "bad_package.ts": `import "node:no_such_module";\nexport function registerCallbacks() {}\n`,
    "throws.ts": `export function registerCallbacks() { throw new Error("no config"); }\n`,
    "bad_match.ts": pluginWith("", `{ Shotgun_Task_Change: [] }`),
    "top_level_throw.ts": `throw new Error("at import");\nexport function registerCallbacks() {}\n`,
    "hangs.ts": `while (true) {}\nexport function registerCallbacks() {}\n`,
  });
  const expected: Record<string, string> = {
    "syntax.ts": 'Cannot load plugin "syntax.ts": syntax.ts:',
    "missing_helper.ts": 'Cannot load plugin "missing_helper.ts": cannot read gone.ts',
    "no_export.ts": 'Cannot load plugin "no_export.ts": it exports no registerCallbacks function',
    "bad_package.ts":
      'Cannot load plugin "bad_package.ts": TypeError: No such built-in module: node:no_such_module',
    "throws.ts": 'Cannot load plugin "throws.ts": registerCallbacks failed: Error: no config',
    "bad_match.ts":
      'Cannot load plugin "bad_match.ts": registerCallbacks failed: TypeError: Invalid matchEvents["Shotgun_Task_Change"]',
    "top_level_throw.ts": 'Cannot load plugin "top_level_throw.ts": Error: at import',
    "hangs.ts": 'Cannot load plugin "hangs.ts": it did not finish loading within 500 ms',
  };
  const hosts: PluginHost[] = [];
  for (const name of ["good.ts", ...Object.keys(expected)]) {
    // Only the hanging one gets a short load timeout (the first Worker start may be slow).
    hosts.push(
      await start(join(dir.path, name), name === "hangs.ts" ? { loadTimeoutMs: 500 } : {}),
    );
  }
  try {
    const [good, ...bad] = hosts;
    assert.equal(good?.status, "ready", good?.loadError ?? "");
    for (const host of bad) {
      const name = basename(host.file);
      assert.equal(host.status, "failed", name);
      assert.ok(host.loadError?.startsWith(expected[name]!), `${name}: ${host.loadError}`);
      assert.equal(host.wants(events[0]!), false);
      await assert.rejects(host.deliver(events), TypeError);
    }
    await using logs = await LogCapture.start();
    const report = await good!.deliver(events);
    assert.equal(report.done, 5);
    assert.deepEqual(
      logs.messages(["sgevents", "plugin", "good"]),
      events.map((e) => `good ${e.id}`),
    );
  } finally {
    for (const host of hosts) await host.close();
  }
});

Deno.test("PluginHost.deliver() runs matching callbacks in registration order, once per event", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const file = await writeFiles(dir.path, {
    "order.ts": `
      export function registerCallbacks(reg) {
        const log = (tag) => (sg, logger, event) => logger.info(tag + ":" + event.id);
        reg.registerCallback("s", "k", log("status"), { Shotgun_Task_Change: "sg_status_list" });
        reg.registerCallback("s", "k", log("any"), null);
        reg.registerCallback("s", "k", log("shots"), { "Shotgun_Shot_*": null });
        reg.setEmails("dev@example.com");
      }
    `,
  });
  await using host = await start(file);
  assert.deepEqual(host.callbacks.map((c) => c.name), ["callback#1", "callback#2", "callback#3"]);
  assert.deepEqual(host.emails, ["dev@example.com"]);
  const batch = [
    event(10),
    event(11, { event_type: "Shotgun_Shot_New", attribute_name: null }),
    event(12, { attribute_name: "content" }),
  ];
  const report = await host.deliver(batch);
  assert.deepEqual(report, { done: 3, skipped: [], paused: null, stopped: false });
  assert.deepEqual(logs.messages(["sgevents", "plugin", "order"]), [
    "status:10",
    "any:10",
    "any:11",
    "shots:11",
    "any:12",
  ]);
});

Deno.test("PluginHost.deliver() counts events no callback wants as done", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, {
    "shots_only.ts": pluginWith(`throw new Error("must not run");`, `{ Shotgun_Shot_New: null }`),
  });
  await using host = await start(file);
  assert.equal(host.wants(events[0]!), false);
  assert.deepEqual(await host.deliver(events), {
    done: 5,
    skipped: [],
    paused: null,
    stopped: false,
  });
});

Deno.test("PluginHost.deliver() retries a failing callback, then pauses when stopOnError is true", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const file = await writeFiles(dir.path, {
    "flaky.ts": pluginWith(
      `
      args.tries[event.id] = (args.tries[event.id] ?? 0) + 1;
      logger.info("try " + event.id + " #" + ctx.attempt);
      if (event.id === 2 && args.tries[2] < 3) throw new Error("flaky " + args.tries[2]);
      if (event.id === 4) throw new Error("always");
    `,
      `null, { tries: {} }, true`,
    ),
  });
  await using host = await start(file, { retries: 2 });
  const report = await host.deliver(events);
  assert.equal(report.done, 3, "events 1-3 done, paused at event 4");
  assert.deepEqual(report.skipped, []);
  assert.equal(report.stopped, false);
  assert.equal(report.paused?.id, 4);
  assert.equal(report.paused?.callback, "onEvent");
  assert.equal(report.paused?.attempts, 3);
  assert.equal(report.paused?.error, "Error: always");
  assert.match(report.paused?.stack ?? "", /flaky\.ts:\d+:\d+/, "stack points at the plugin file");
  assert.deepEqual(
    logs.messages(["sgevents", "plugin", "flaky"]).filter((m) => m.startsWith("try")),
    [
      "try 1 #1",
      "try 2 #1",
      "try 2 #2",
      "try 2 #3",
      "try 3 #1",
      "try 4 #1",
      "try 4 #2",
      "try 4 #3",
    ],
  );
  // Resuming at the paused event delivers it again.
  const again = await host.deliver(events.slice(3));
  assert.equal(again.done, 0);
  assert.equal(again.paused?.id, 4);
});

Deno.test("PluginHost.deliver() records and passes failures when stopOnError is false", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, {
    "skipper.ts": pluginWith(
      `if (event.id % 2 === 0) throw new Error("even " + event.id);`,
      `null, null, false`,
    ),
  });
  await using host = await start(file, { retries: 1 });
  const report = await host.deliver(events);
  assert.equal(report.done, 5);
  assert.equal(report.paused, null);
  assert.deepEqual(
    report.skipped.map(({ id, callback, error, attempts }) => ({ id, callback, error, attempts })),
    [
      { id: 2, callback: "onEvent", error: "Error: even 2", attempts: 2 },
      { id: 4, callback: "onEvent", error: "Error: even 4", attempts: 2 },
    ],
  );
});

Deno.test("PluginHost.deliver() does not retry programmer errors", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, {
    "buggy.ts": pluginWith(`if (event.id === 1) (undefined as any).field;`),
  });
  await using host = await start(file, { retries: 5 });
  const report = await host.deliver(events);
  assert.equal(report.paused?.attempts, 1);
  assert.match(report.paused?.error ?? "", /^TypeError: /);
});

Deno.test("PluginHost.deliver() retries a plugin's network failures but not its 4xx answers (isRetriable)", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  // A port nothing listens on: fetch fails with a network TypeError.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  const file = await writeFiles(dir.path, {
    "net.ts": pluginWith(`
      if (event.id === 1 && ctx.attempt === 1) await fetch("http://127.0.0.1:${port}/");
      if (event.id === 2) {
        throw Object.assign(new Error("404 Not Found"), { name: "ShotGridError", retriable: false });
      }
      logger.info("ok " + event.id + " attempt " + ctx.attempt);
    `),
  });
  await using host = await start(file, { retries: 3 });
  const report = await host.deliver(events.slice(0, 2));
  assert.equal(report.done, 1);
  assert.equal(report.paused?.id, 2);
  assert.equal(report.paused?.attempts, 1, "a 4xx is not retried");
  const messages = logs.messages(["sgevents", "plugin", "net"]);
  assert.deepEqual(messages.filter((m) => m.startsWith("ok")), ["ok 1 attempt 2"]);
  assert.ok(messages.some((m) => /attempt 1 of 4\), not retried: ShotGridError: 404/.test(m)));
});

Deno.test("PluginHost.deliver() times out a callback that ignores its signal and goes on", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const file = await writeFiles(dir.path, {
    "hangs.ts": pluginWith(
      `
      if (event.id === 2) {
        ctx.signal.addEventListener("abort", () => logger.info("aborted: " + ctx.signal.reason.name));
        await new Promise(() => {});
      }
      logger.info("done " + event.id);
    `,
      `null, null, false`,
    ),
  });
  await using host = await start(file, { callbackTimeoutMs: 200 });
  const report = await host.deliver(events);
  assert.equal(report.done, 5);
  assert.equal(report.skipped.length, 1);
  assert.equal(report.skipped[0]?.error, "TimeoutError: Callback onEvent timed out after 200 ms");
  const messages = logs.messages(["sgevents", "plugin", "hangs"]);
  assert.deepEqual(messages, ["done 1", "aborted: TimeoutError", "done 3", "done 4", "done 5"]);
});

Deno.test("PluginHost.deliver() terminates a worker stuck in a CPU loop and pauses at once", async (t) => {
  await using dir = await tempDir();
  const code = (stopOnError: boolean) =>
    pluginWith(
      `
      if (event.id === 2 && ctx.attempt === 1) { while (true) {} }
      logger.info("done " + event.id + " attempt " + ctx.attempt);
    `,
      `null, null, ${stopOnError}`,
    );
  await writeFiles(dir.path, { "loop_retry.ts": code(false), "loop_pause.ts": code(true) });

  // Deno cannot reclaim a Worker thread stuck in a loop, so a retry would strand another.
  await t.step("not retried, even with retries left and stopOnError false", async () => {
    await using logs = await LogCapture.start();
    await using host = await start(join(dir.path, "loop_retry.ts"), {
      callbackTimeoutMs: 150,
      graceMs: 100,
      retries: 1,
    });
    const report = await host.deliver(events);
    assert.equal(report.done, 1);
    assert.equal(report.paused?.id, 2);
    assert.match(report.paused?.error ?? "", /not retried/);
    const messages = logs.messages(["sgevents", "plugin", "loop_retry"]);
    assert.deepEqual(messages.filter((m) => m.startsWith("done")), ["done 1 attempt 1"]);
    assert.equal(host.status, "ready");
    assert.equal((await host.deliver(events.slice(2))).done, 3);
  });

  await t.step("without retries it pauses there, and the host stays usable", async () => {
    await using host = await start(join(dir.path, "loop_pause.ts"), {
      callbackTimeoutMs: 150,
      graceMs: 100,
      retries: 0,
    });
    const report = await host.deliver(events);
    assert.equal(report.done, 1);
    assert.equal(report.paused?.id, 2);
    assert.equal(report.paused?.attempts, 1);
    assert.match(report.paused?.error ?? "", /did not return within 150 ms \(\+100 ms grace\)/);
    assert.equal(host.status, "ready");
    assert.equal((await host.deliver(events.slice(2))).done, 3);
  });
});

Deno.test("PluginHost isolates plugins: a stuck one does not hold up another", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  await writeFiles(dir.path, {
    "stuck.ts": pluginWith(`while (true) {}`),
    "fine.ts": pluginWith(`logger.info("fine " + event.id);`),
  });
  await using stuck = await start(join(dir.path, "stuck.ts"), { callbackTimeoutMs: 60_000 });
  await using fine = await start(join(dir.path, "fine.ts"));
  let stuckSettled = false;
  const stuckDelivery = stuck.deliver(events).finally(() => (stuckSettled = true));
  assert.equal((await fine.deliver(events)).done, 5);
  assert.equal(stuckSettled, false, "the stuck plugin is still in its first event");
  await stuck.close();
  const report = await stuckDelivery;
  assert.deepEqual(report, { done: 0, skipped: [], paused: null, stopped: true });
  assert.equal(logs.messages(["sgevents", "plugin", "fine"]).length, 5);
});

Deno.test("PluginHost.requestStop() ends the batch after the event in flight", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const go = join(dir.path, "go");
  const file = await writeFiles(dir.path, {
    "slow.ts": pluginWith(`
      logger.info("start " + event.id);
      if (event.id === 3) {
        while (true) {
          try { await Deno.stat(${
      JSON.stringify(go)
    }); break; } catch { await new Promise((r) => setTimeout(r, 10)); }
        }
      }
      logger.info("end " + event.id);
    `),
  });
  await using host = await start(file);
  const delivery = host.deliver(events);
  await logs.waitFor((m) => m === "start 3");
  host.requestStop();
  await Deno.writeTextFile(go, "");
  const report = await delivery;
  assert.deepEqual(report, { done: 3, skipped: [], paused: null, stopped: true });
  assert.deepEqual(logs.messages(["sgevents", "plugin", "slow"]), [
    "start 1",
    "end 1",
    "start 2",
    "end 2",
    "start 3",
    "end 3",
  ]);
  assert.equal((await host.deliver(events.slice(3))).done, 2, "the next batch runs normally");
});

Deno.test("PluginHost.deliver() with an aborted signal aborts the running callback and stops", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const file = await writeFiles(dir.path, {
    "waits.ts": pluginWith(`
      if (event.id === 2) {
        logger.info("waiting");
        await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
      }
    `),
  });
  await using host = await start(file);
  const controller = new AbortController();
  const delivery = host.deliver(events, { signal: controller.signal });
  await logs.waitFor((m) => m === "waiting");
  controller.abort();
  assert.deepEqual(await delivery, {
    done: 1,
    skipped: [],
    paused: null,
    stopped: true,
  });
});

Deno.test("PluginHost.deliver() refuses a second delivery while one runs", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, {
    "p.ts": pluginWith(`await new Promise((r) => setTimeout(r, 50));`),
  });
  await using host = await start(file);
  const first = host.deliver(events.slice(0, 1));
  await assert.rejects(host.deliver(events), {
    name: "TypeError",
    message: 'Cannot deliver to plugin "p": a delivery is already in progress',
  });
  assert.equal((await first).done, 1);
});

Deno.test("PluginHost gives every plugin its own frozen copy of each event", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  await writeFiles(dir.path, {
    "mutator.ts": pluginWith(`
      try { event.meta.new_value = "hacked"; } catch (e) { logger.info("meta: " + e.name); }
      try { event.entity.id = 0; } catch (e) { logger.info("entity: " + e.name); }
      logger.info("frozen: " + Object.isFrozen(event));
    `),
    "reader.ts": pluginWith(
      `logger.info("new_value " + event.meta.new_value + " entity " + event.entity.id);`,
    ),
  });
  await using mutator = await start(join(dir.path, "mutator.ts"));
  await using reader = await start(join(dir.path, "reader.ts"));
  const page = [event(1)];
  await mutator.deliver(page);
  await reader.deliver(page);
  assert.deepEqual(logs.messages(["sgevents", "plugin", "mutator"]), [
    "meta: TypeError",
    "entity: TypeError",
    "frozen: true",
  ]);
  assert.deepEqual(logs.messages(["sgevents", "plugin", "reader"]), ["new_value ip entity 101"]);
  assert.equal(page[0]?.meta?.new_value, "ip");
});

Deno.test("PluginHost applies worker permissions: a plugin denied read cannot read", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  await writeFiles(dir.path, {
    "secret.txt": "s3cret",
    "reader.ts": pluginWith(`
      try {
        logger.info("read " + await Deno.readTextFile(import.meta.dirname + "/secret.txt"));
      } catch (e) {
        logger.info("denied " + e.name);
      }
    `),
  });
  const file = join(dir.path, "reader.ts");
  {
    await using host = await start(file, { permissions: { read: false } });
    assert.equal(host.status, "ready", host.loadError ?? "");
    await host.deliver([event(1)]);
  }
  {
    await using host = await start(file, { permissions: { read: [dir.path] } });
    await host.deliver([event(1)]);
  }
  assert.deepEqual(logs.messages(["sgevents", "plugin", "reader"]), [
    "denied NotCapable",
    "read s3cret",
  ]);
});

Deno.test("PluginHost restarts a worker its plugin ended (close, Deno.exit) and fails that attempt", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const file = await writeFiles(dir.path, {
    "dies.ts": pluginWith(`
      if (event.id === 2 && ctx.attempt === 1) {
        globalThis.close();
        await new Promise(() => {});
      }
      if (event.id === 3 && ctx.attempt === 1) Deno.exit(3);
      logger.info("ok " + event.id + " attempt " + ctx.attempt);
    `),
  });
  // A long timeout: the host must learn of the exit from the worker, not from its watchdog.
  await using host = await start(file, { callbackTimeoutMs: 60_000, retries: 1 });
  const report = await host.deliver(events.slice(0, 3));
  assert.deepEqual(report, { done: 3, skipped: [], paused: null, stopped: false });
  const messages = logs.messages(["sgevents", "plugin", "dies"]);
  assert.deepEqual(messages.filter((m) => m.startsWith("ok")), [
    "ok 1 attempt 1",
    "ok 2 attempt 2",
    "ok 3 attempt 2",
  ]);
  assert.deepEqual(messages.filter((m) => m.startsWith("Restarting")), [
    "Restarting the worker of plugin dies after callback onEvent failed on event 2: Worker exited: the plugin called close()",
    "Restarting the worker of plugin dies after callback onEvent failed on event 3: Worker exited: the plugin called Deno.exit(3)",
  ]);
});

Deno.test("PluginHost emits one timing record per callback and event", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const file = await writeFiles(dir.path, { "timed.ts": pluginWith(``) });
  await using host = await start(file);
  await host.deliver(events.slice(0, 2));
  const timings = logs.records.filter((r) => r.category.join(".") === "sgevents.timing");
  assert.deepEqual(
    timings.map((r) => [r.level, r.properties.plugin, r.properties.callback, r.properties.eventId]),
    [
      ["info", "timed", "onEvent", 1],
      ["info", "timed", "onEvent", 2],
    ],
  );
  for (const r of timings) {
    assert.equal(typeof r.properties.durationMs, "number");
    assert.equal(typeof r.properties.delayMs, "number");
  }
});

Deno.test("PluginHost passes plugin log text with braces through unchanged", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const file = await writeFiles(dir.path, {
    "braces.ts": pluginWith(`
      logger.info(JSON.stringify({ id: event.id }));
      logger.warn("user {name}", { name: "ann" });
    `),
  });
  await using host = await start(file);
  await host.deliver([event(7)]);
  assert.deepEqual(logs.messages(["sgevents", "plugin", "braces"]), ['{"id":7}', "user ann"]);
  const levels = logs.records.filter((r) => r.category[2] === "braces").map((r) => r.level);
  assert.deepEqual(levels, ["info", "warning"]);
});

/** The callback runs a `twoCallbacks` plugin logged. */
function runs(logs: LogCapture, plugin: string): string[] {
  return logs.messages(["sgevents", "plugin", plugin]).filter((m) => /^[ab] /.test(m));
}

/** A plugin with callbacks `a` then `b` (stopOnError true); `b` runs `bBody`. */
function twoCallbacks(bBody: string): string {
  return `
    import type { Registrar } from "${new URL("./mod.ts", import.meta.url).href}";
    let calls = 0;
    export function registerCallbacks(reg: Registrar): void {
      reg.registerCallback("script", "key", async function a(sg, logger, event) {
        logger.info("a " + event.id);
      }, null, null, true);
      reg.registerCallback("script", "key", async function b(sg, logger, event, args, ctx) {
        calls++;
        logger.info("b " + event.id + " attempt " + ctx.attempt + " call " + calls);
        ${bBody}
      }, null, null, true);
    }
  `;
}

Deno.test("PluginHost.deliver() resumes an event it ended part-way at the callback that had not finished", async (t) => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    "backoff.ts": twoCallbacks(
      `if (event.id === 1 && ctx.attempt === 1) throw new Error("transient");`,
    ),
    "crashes.ts": twoCallbacks(
      `if (ctx.attempt === 1) { await new Promise((r) => setTimeout(r, 200)); self.close(); }`,
    ),
    "pauses.ts": twoCallbacks(`if (calls === 1) throw new Error("down");`),
  });

  await t.step("a stop while b waits to retry", async () => {
    await using logs = await LogCapture.start();
    await using host = await start(join(dir.path, "backoff.ts"), {
      retries: 2,
      backoff: { initialMs: 1000, maxMs: 1000 },
    });
    const first = host.deliver([event(1)]);
    await logs.waitFor((m) => m.startsWith("b 1 attempt 1"));
    host.requestStop();
    assert.deepEqual(await first, {
      done: 0,
      skipped: [],
      paused: null,
      stopped: true,
    });
    assert.equal((await host.deliver([event(1), event(2)])).done, 2);
    assert.deepEqual(runs(logs, "backoff"), [
      "a 1",
      "b 1 attempt 1 call 1",
      "b 1 attempt 2 call 2",
      "a 2",
      "b 2 attempt 1 call 3",
    ]);
  });

  await t.step("a stop before the retry after a crash restart", async () => {
    await using logs = await LogCapture.start();
    await using host = await start(join(dir.path, "crashes.ts"), { retries: 1 });
    const first = host.deliver([event(1)]);
    await logs.waitFor((m) => m.startsWith("b 1 attempt 1"));
    host.requestStop();
    assert.equal((await first).done, 0);
    assert.equal((await host.deliver([event(1)])).done, 1);
    assert.deepEqual(runs(logs, "crashes"), [
      "a 1",
      "b 1 attempt 1 call 1",
      "b 1 attempt 2 call 1",
    ]);
  });

  await t.step("a pause, resumed; another first event starts afresh", async () => {
    await using logs = await LogCapture.start();
    await using host = await start(join(dir.path, "pauses.ts"));
    const first = await host.deliver([event(1)]);
    assert.equal(first.paused?.callback, "b");
    assert.equal(first.done, 0);
    assert.equal((await host.deliver([event(1)])).done, 1);
    // A pause at event 2 skipped by the engine: event 3 runs from its first callback.
    assert.equal((await host.deliver([event(2)])).done, 1);
    assert.equal((await host.deliver([event(3)])).done, 1);
    assert.deepEqual(runs(logs, "pauses"), [
      "a 1",
      "b 1 attempt 1 call 1",
      "b 1 attempt 1 call 2",
      "a 2",
      "b 2 attempt 1 call 3",
      "a 3",
      "b 3 attempt 1 call 4",
    ]);
  });
});

Deno.test("PluginHost.deliver() with a signal ends promptly and accurately however the plugin reacts", async (t) => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    "ignores.ts": pluginWith(`
      if (event.id === 2) {
        ctx.signal.addEventListener("abort", () => logger.info("aborted " + ctx.signal.reason.name));
        logger.info("waiting");
        await new Promise(() => {});
      }
      logger.info("done " + event.id);
    `),
    "backoff.ts": twoCallbacks(`if (ctx.attempt === 1) throw new Error("transient");`),
  });
  const stoppedAt = (done: number) => ({
    done,
    skipped: [],
    paused: null,
    stopped: true,
  });

  await t.step(
    "a callback ignoring its signal: its worker is terminated after the grace",
    async () => {
      await using logs = await LogCapture.start();
      // Only the shutdown grace can end this callback: its timeout is far off.
      await using host = await start(join(dir.path, "ignores.ts"), {
        callbackTimeoutMs: 600_000,
        graceMs: 200,
      });
      const controller = new AbortController();
      const delivery = host.deliver(events, { signal: controller.signal });
      await logs.waitFor((m) => m === "waiting");
      controller.abort();
      assert.deepEqual(await delivery, stoppedAt(1));
      assert.deepEqual(logs.messages(["sgevents", "plugin", "ignores"]), [
        "done 1",
        "waiting",
        "aborted AbortError",
      ]);
      assert.equal((await host.deliver(events.slice(2))).done, 3, "a new worker runs the rest");
    },
  );

  await t.step(
    "in a retry wait: no further attempt runs, and the next delivery resumes there",
    async () => {
      await using logs = await LogCapture.start();
      await using host = await start(join(dir.path, "backoff.ts"), {
        retries: 2,
        backoff: { initialMs: 1000, maxMs: 1000 },
      });
      const controller = new AbortController();
      const delivery = host.deliver([event(1)], { signal: controller.signal });
      await logs.waitFor((m) => m.startsWith("b 1 attempt 1"));
      controller.abort();
      assert.deepEqual(await delivery, stoppedAt(0));
      assert.deepEqual(runs(logs, "backoff"), ["a 1", "b 1 attempt 1 call 1"]);
      assert.equal((await host.deliver([event(1)])).done, 1);
      assert.deepEqual(runs(logs, "backoff"), [
        "a 1",
        "b 1 attempt 1 call 1",
        "b 1 attempt 2 call 2",
      ]);
    },
  );

  await t.step("an already aborted signal: nothing runs", async () => {
    await using logs = await LogCapture.start();
    await using host = await start(join(dir.path, "ignores.ts"));
    const report = await host.deliver(events, { signal: AbortSignal.abort() });
    assert.deepEqual(report, stoppedAt(0));
    assert.deepEqual(logs.messages(["sgevents", "plugin", "ignores"]), []);
    assert.equal((await host.deliver(events.slice(0, 1))).done, 1);
  });
});
