import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import type { LoggingConfig } from "../config/types.ts";
import { registerSecret } from "./redact.ts";
import { setupLogging } from "./setup.ts";
import { logCallbackTiming } from "./timing.ts";

// LogTape is process-global: the tests in this file run one after another (Deno's default
// within a file) and each disposes its setup.

function baseConfig(dir: string | null, overrides: Partial<LoggingConfig> = {}): LoggingConfig {
  return {
    level: "info",
    dir,
    perPlugin: true,
    timing: false,
    format: "plain",
    levels: {},
    maxFileBytes: 1024 * 1024,
    maxFiles: 3,
    ...overrides,
  };
}

/** A console stream that keeps what it is given. */
function capture(): { stream: WritableStream<Uint8Array>; text: () => string } {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  const stream = new WritableStream<Uint8Array>({
    write(chunk) {
      chunks.push(decoder.decode(chunk));
    },
  });
  return { stream, text: () => chunks.join("") };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sgevents-log-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const read = (path: string) => Deno.readTextFile(path);

Deno.test("setupLogging() writes daemon records to sgevents.log and the console", async () => {
  await withTempDir(async (dir) => {
    const console = capture();
    {
      await using _ = await setupLogging(baseConfig(dir), { consoleStream: console.stream });
      getLogger(["sgevents", "engine"]).info("Processed event {id}", { id: 42, extra: "x" });
      getLogger(["sgevents", "poller"]).debug("hidden at info");
    }
    const file = await read(join(dir, "sgevents.log"));
    assert.match(file, /\[INF\] sgevents\.engine: Processed event 42 extra="x"\n/);
    assert.doesNotMatch(file, /hidden at info/);
    assert.match(console.text(), /sgevents\.engine: Processed event 42/);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), [
      "sgevents.log",
    ]);
  });
});

Deno.test("setupLogging() opens one file per plugin when that plugin first logs", async () => {
  await withTempDir(async (dir) => {
    {
      await using _ = await setupLogging(baseConfig(dir), { console: false });
      getLogger(["sgevents", "plugin", "notify"]).info("from notify");
      getLogger(["sgevents", "plugin", "odd/name"]).warn("from odd");
      getLogger(["sgevents", "engine"]).info("from engine");
    }
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    assert.deepEqual(names, ["plugin-notify.log", "plugin-odd_name.log", "sgevents.log"]);
    assert.match(
      await read(join(dir, "plugin-notify.log")),
      /sgevents\.plugin\.notify: from notify/,
    );
    assert.match(await read(join(dir, "plugin-odd_name.log")), /from odd/);
    const main = await read(join(dir, "sgevents.log"));
    assert.match(main, /from engine/);
    assert.doesNotMatch(main, /from notify/);
  });
});

Deno.test("setupLogging() with perPlugin false writes plugin records to sgevents.log", async () => {
  await withTempDir(async (dir) => {
    {
      await using _ = await setupLogging(baseConfig(dir, { perPlugin: false }), { console: false });
      getLogger(["sgevents", "plugin", "notify"]).info("from notify");
    }
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), [
      "sgevents.log",
    ]);
    assert.match(await read(join(dir, "sgevents.log")), /from notify/);
  });
});

Deno.test("setupLogging() rotates files past maxFileBytes and keeps maxFiles", async () => {
  await withTempDir(async (dir) => {
    {
      await using _ = await setupLogging(baseConfig(dir, { maxFileBytes: 300, maxFiles: 2 }), {
        console: false,
      });
      const logger = getLogger(["sgevents", "engine"]);
      for (let i = 0; i < 20; i++) logger.info("line {i} padded to make the file grow", { i });
    }
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    assert.deepEqual(names, ["sgevents.log", "sgevents.log.1", "sgevents.log.2"]);
    for (const name of names) {
      assert.ok((await Deno.stat(join(dir, name))).size <= 300, `${name} is over 300 bytes`);
    }
    assert.match(await read(join(dir, "sgevents.log")), /line 19 /);
  });
});

Deno.test("setupLogging() with timing writes timing.log and never the console", async () => {
  await withTempDir(async (dir) => {
    const console = capture();
    {
      await using _ = await setupLogging(baseConfig(dir, { timing: true }), {
        consoleStream: console.stream,
      });
      logCallbackTiming({
        plugin: "notify",
        callback: "onStatus",
        eventId: 7,
        durationMs: 12,
        delayMs: 3400,
      });
    }
    const timing = await read(join(dir, "timing.log"));
    assert.match(
      timing,
      /^\d{4}-\d\d-\d\dT\S+Z plugin=notify callback=onStatus event=7 duration_ms=12 delay_ms=3400 ok=true\n$/,
    );
    assert.equal(console.text(), "");
    assert.doesNotMatch(await read(join(dir, "sgevents.log")), /onStatus/);
  });
});

Deno.test("setupLogging() without timing drops timing records", async () => {
  await withTempDir(async (dir) => {
    const console = capture();
    {
      await using _ = await setupLogging(baseConfig(dir), { consoleStream: console.stream });
      logCallbackTiming({ plugin: "p", callback: "c", eventId: 1, durationMs: 1, delayMs: 1 });
    }
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), [
      "sgevents.log",
    ]);
    assert.equal(console.text(), "");
  });
});

Deno.test("setupLogging() applies levels per category, finer and coarser", async () => {
  const console = capture();
  {
    await using _ = await setupLogging(
      baseConfig(null, {
        levels: {
          "sgevents.engine": "debug",
          "sgevents.poller": "error",
          "sgevents.plugin": "trace",
        },
      }),
      { consoleStream: console.stream },
    );
    getLogger(["sgevents", "engine"]).debug("engine debug");
    getLogger(["sgevents", "state"]).debug("state debug");
    getLogger(["sgevents", "poller"]).warn("poller warning");
    getLogger(["sgevents", "poller"]).error("poller error");
    getLogger(["sgevents", "plugin", "x"]).trace("plugin trace");
  }
  const text = console.text();
  assert.match(text, /engine debug/);
  assert.doesNotMatch(text, /state debug/);
  assert.doesNotMatch(text, /poller warning/);
  assert.match(text, /poller error/);
  assert.match(text, /plugin trace/);
});

Deno.test("setupLogging() with format json writes one JSON object per line", async () => {
  const console = capture();
  {
    await using _ = await setupLogging(baseConfig(null, { format: "json" }), {
      consoleStream: console.stream,
    });
    getLogger(["sgevents", "engine"]).warn("Event {id} late", { id: 5 });
    getLogger(["sgevents", "engine"]).error("Failed", { error: new Error("boom") });
  }
  const lines = console.text().trim().split("\n").map((line) => JSON.parse(line));
  assert.equal(lines.length, 2);
  assert.equal(lines[0].message, "Event 5 late");
  assert.equal(lines[0].logger, "sgevents.engine");
  assert.equal(lines[0].properties.id, 5);
  assert.equal(lines[1].properties.error.message, "boom");
  assert.match(lines[1].properties.error.stack, /Error: boom/);
});

Deno.test("setupLogging() writes error stacks under the line", async () => {
  const console = capture();
  {
    await using _ = await setupLogging(baseConfig(null), { consoleStream: console.stream });
    getLogger(["sgevents", "engine"]).error("Callback failed", { error: new TypeError("bad") });
  }
  assert.match(console.text(), /Callback failed\n {4}TypeError: bad\n {8}at /);
});

Deno.test("setupLogging() redacts registered secrets in every sink", async () => {
  const secret = "s3cret-key-for-redaction-test";
  registerSecret(secret);
  await withTempDir(async (dir) => {
    const console = capture();
    const jsonConsole = capture();
    const log = () => {
      const plugin = getLogger(["sgevents", "plugin", "leaky"]);
      plugin.info(`key in message ${secret}`);
      plugin.info("key in property {key}", { key: secret });
      plugin.info("key in unused property", { nested: { deep: [secret] } });
      plugin.error("key in error", { error: new Error(`auth failed for ${secret}`) });
      getLogger(["sgevents", "shotgrid"]).warn`template ${secret}`;
      logCallbackTiming({ plugin: secret, callback: "c", eventId: 1, durationMs: 1, delayMs: 1 });
    };
    {
      await using _ = await setupLogging(baseConfig(dir, { timing: true, perPlugin: true }), {
        consoleStream: console.stream,
      });
      log();
    }
    {
      await using _ = await setupLogging(baseConfig(null, { format: "json" }), {
        consoleStream: jsonConsole.stream,
      });
      log();
    }
    const outputs = {
      console: console.text(),
      json: jsonConsole.text(),
      plugin: await read(join(dir, "plugin-leaky.log")),
      main: await read(join(dir, "sgevents.log")),
      timing: await read(join(dir, "timing.log")),
    };
    for (const [sink, text] of Object.entries(outputs)) {
      assert.ok(!text.includes(secret), `${sink} output leaks the secret:\n${text}`);
    }
    assert.match(outputs.plugin, /key in message \*\*\*\n/);
    assert.match(outputs.plugin, /key in property \*\*\*\n/);
    assert.match(outputs.plugin, /nested=\{ deep: \[ "\*\*\*" \] \}/);
    assert.match(outputs.plugin, /Error: auth failed for \*\*\*\n/);
    assert.match(outputs.main, /template \*\*\*/);
    assert.match(outputs.timing, /plugin=\*\*\*/);
    const records = outputs.json.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(records.map((record) => record.message), [
      "key in message ***",
      'key in property "***"',
      "key in unused property",
      "key in error",
      'template "***"',
    ]);
    assert.deepEqual(records[2].properties, { nested: { deep: ["***"] } });
    assert.equal(records[3].properties.error.message, "auth failed for ***");
  });
});
