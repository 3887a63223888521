import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LogRecord } from "@logtape/logtape";
import { LogCapture, tempDir, writeFiles } from "../plugins/test_helpers.ts";
import { checkPlugin, formatDispatch, parseEvents, runDispatch } from "./dispatch.ts";
import { UsageError } from "./errors.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

const plugin = `
  export function registerCallbacks(reg) {
    reg.registerCallback("s", "k", function first(sg, logger, event) {
      if (event.id === 2) throw new Error("first fails on 2");
    }, null, null, true);
    reg.registerCallback("s", "k", function second(sg, logger, event) {}, null);
    reg.registerCallback("s", "k", function shotsOnly() {}, { Shotgun_Shot_New: null });
  }
`;

Deno.test("parseEvents() reads one event or a list and fills the optional fields", () => {
  const [one] = parseEvents(`{"id": 5, "event_type": "Shotgun_Task_Change"}`, "e.json");
  assert.equal(one?.type, "EventLogEntry");
  assert.equal(one?.attribute_name, null);
  assert.equal(one?.entity, null);
  assert.match(one?.created_at ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(parseEvents(`[{"id":1,"event_type":"A"},{"id":2,"event_type":"B"}]`, "e").length, 2);
  assert.throws(() => parseEvents("{", "bad.json"), UsageError);
  assert.throws(() => parseEvents(`[{"id":"1","event_type":"A"}]`, "e.json"), {
    name: "UsageError",
    message:
      `Cannot read events from "e.json" item 0: an event needs a numeric "id" and an "event_type"`,
  });
});

Deno.test("runDispatch() reports what each callback did with each event", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const file = await writeFiles(dir.path, { "three.js": plugin });
  const events = parseEvents(
    `[{"id":1,"event_type":"Shotgun_Task_Change"},{"id":2,"event_type":"Shotgun_Task_Change"}]`,
    "e",
  );
  const result = await runDispatch(file, events, { config: null }, logs.records as LogRecord[]);
  assert.equal(result.failed, true);
  const summary = result.events.map((e) => e.callbacks.map((c) => `${c.callback}:${c.result}`));
  assert.deepEqual(summary, [
    ["first:ok", "second:ok", "shotsOnly:not matched"],
    ["first:error", "second:not run", "shotsOnly:not matched"],
  ]);
  const failure = result.events[1]?.callbacks[0];
  assert.equal(failure?.error, "Error: first fails on 2");
  assert.match(failure?.stack ?? "", /three\.js:4:/);
  const text = formatDispatch(result).join("\n");
  assert.match(text, /^three: 3 callback\(s\)\nEvent 1 Shotgun_Task_Change\n {2}first +ok/);
  assert.match(
    text,
    /Event 2 Shotgun_Task_Change\n {2}first +error.*\n {4}Error: first fails on 2\n/,
  );
});

Deno.test("checkPlugin() reports callbacks or the load error", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "ok.js": plugin, "broken.ts": "export const x: = 1;" });
  const ok = await checkPlugin(join(dir.path, "ok.js"));
  assert.equal(ok.status, "ready");
  assert.deepEqual(ok.callbacks.map((c) => c.name), ["first", "second", "shotsOnly"]);
  const broken = await checkPlugin(join(dir.path, "broken.ts"));
  assert.equal(broken.status, "failed");
  assert.match(broken.loadError ?? "", /^Cannot load plugin "broken.ts": broken.ts:1:/);
});

Deno.test("sgevents dispatch exits 1 when a callback fails and 0 when all succeed", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, { "three.js": plugin });
  const run = async (id: number) => {
    const eventFile = join(dir.path, `event${id}.json`);
    await Deno.writeTextFile(eventFile, JSON.stringify({ id, event_type: "Shotgun_Task_Change" }));
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-worker-options",
        join(root, "main.ts"),
        "dispatch",
        file,
        "--event",
        eventFile,
      ],
      cwd: dir.path,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    return {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
    };
  };
  const ok = await run(1);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /first +ok/);
  assert.match(ok.stderr, /no config given \(-c\): sg calls will fail/);
  const failing = await run(2);
  assert.equal(failing.code, 1, failing.stderr);
  assert.match(
    failing.stdout,
    /first +error.*\n {4}Error: first fails on 2\n {6}at .*three\.js:4:\d+\)\n {2}second/,
  );
});
