import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { runDispatch } from "../cli/dispatch.ts";
import { getLineFormatter } from "../log/format.ts";
import { event, LogCapture, tempDir, writeFiles } from "./test_helpers.ts";
import { createPluginLogger, percentFormat, type PluginLogLevel } from "./plugin_logger.ts";

type Emitted = {
  level: PluginLogLevel;
  message: string;
  properties: Record<string, unknown> | null;
};

function capture() {
  const records: Emitted[] = [];
  const logger = createPluginLogger((level, message, properties) =>
    records.push({ level, message, properties })
  );
  return { logger, records };
}

Deno.test("PluginLogger has Python's level names: warning, critical, exception", () => {
  const { logger, records } = capture();
  logger.debug("d");
  logger.info("i");
  logger.warning("w");
  logger.warn("w2");
  logger.error("e");
  logger.critical("c");
  logger.exception("x");
  assert.deepEqual(records.map((r) => `${r.level}:${r.message}`), [
    "debug:d",
    "info:i",
    "warning:w",
    "warning:w2",
    "error:e",
    "fatal:c",
    "error:x",
  ]);
});

Deno.test("PluginLogger formats %s %d %i %f %r %% with positional arguments as Python does", () => {
  const { logger, records } = capture();
  logger.info("%s is now %s", "Shot 5", "ip");
  logger.info("%d items, %i done, %f%% ratio", 3.9, 2, 0.5);
  logger.info("value %r and %r and %s", "ip", { a: 1 }, { a: 1 });
  logger.info("100% done"); // no arguments: nothing is formatted, as in Python
  logger.info("%5.2f|%-4d|%04d|%x|%+d", 3.14159, 7, 42, 255, 5);
  logger.info("%(shot)s is %(status)r", { shot: "Shot 5", status: "ip" });
  assert.deepEqual(records.map((r) => r.message), [
    "Shot 5 is now ip",
    "3 items, 2 done, 0.500000% ratio",
    `value "ip" and { a: 1 } and { a: 1 }`,
    "100% done",
    " 3.14|7   |0042|ff|+5",
    `Shot 5 is "ip"`,
  ]);
  assert.ok(records.every((r) => r.properties === null));
});

Deno.test("PluginLogger keeps LogTape {placeholder} properties for one plain object and no % directive", () => {
  const { logger, records } = capture();
  logger.info("Shot {shot} is now {status}", { shot: 5, status: "ip" });
  // A % directive makes the object a positional argument (Python's `%s` of a dict).
  logger.info("args: %s", { shot: 5 });
  assert.deepEqual(records[0], {
    level: "info",
    message: "Shot {shot} is now {status}",
    properties: { shot: 5, status: "ip" },
  });
  assert.deepEqual(records[1], { level: "info", message: "args: { shot: 5 }", properties: null });
});

Deno.test("PluginLogger.exception() logs the given error's stack, used by a directive or not", () => {
  const { logger, records } = capture();
  const error = new Error("site down");
  logger.exception("Cannot update Shot %d: %s", 5, error);
  logger.exception("Cannot update {shot}", error);
  // Other levels attach an Error no directive used, and append other leftovers.
  logger.error("failed", error);
  logger.info("extra", 1, "two");
  logger.info("too few %s %s", "one");
  assert.equal(records[0]?.message, "Cannot update Shot 5: site down");
  assert.equal(records[0]?.properties?.stack, error.stack);
  // With properties present the text is a LogTape template: literal braces are doubled.
  assert.equal(records[1]?.message, "Cannot update {{shot}}");
  assert.equal(records[2]?.message, "failed");
  assert.equal(records[2]?.properties?.stack, error.stack);
  assert.equal(records[3]?.message, "extra 1 two");
  assert.equal(records[4]?.message, "too few %s %s one");
});

Deno.test("percentFormat() returns the arguments no directive used", () => {
  assert.deepEqual(percentFormat("%s and %s", [1, 2, 3]), { text: "1 and 2", rest: [3] });
  assert.deepEqual(percentFormat("%e %g %g", [12345.678, 0.0001, 1e20]), {
    text: "1.234568e+04 0.0001 1e+20",
    rest: [],
  });
});

Deno.test("A plugin's logger.warning/exception/%s reach the log, stacks as real lines", async () => {
  await using dir = await tempDir();
  await using logs = await LogCapture.start();
  const file = await writeFiles(dir.path, {
    "py_habits.ts": `
      export function registerCallbacks(reg) {
        reg.logger.warning("loaded %s", "py_habits");
        reg.registerCallback("s", "k", function onEvent(sg, logger, event) {
          logger.info("%s is now %s", "Task " + event.id, event.meta.new_value);
          try {
            throw new Error("update refused");
          } catch (error) {
            logger.exception("Cannot update Task %d", event.id, error);
          }
          logger.critical("critical %r", "x");
        });
      }
    `,
  });
  const result = await runDispatch(file, [event(7, { meta: { new_value: "ip" } })], {
    config: null,
  }, logs.records as LogRecord[]);
  assert.equal(result.failed, false);
  const category = ["sgevents", "plugin", "py_habits"];
  const mine = logs.records.filter((r) => r.category.join(".") === category.join("."));
  const text = mine.map((r) => getLineFormatter()(r)).join("");
  assert.match(text, /\[WRN\] sgevents\.plugin\.py_habits: loaded py_habits\n/);
  assert.match(text, /\[INF\] sgevents\.plugin\.py_habits: Task 7 is now ip\n/);
  // The stack is on its own lines, naming the plugin file, not a literal "\n".
  assert.match(
    text,
    /\[ERR\] sgevents\.plugin\.py_habits: Cannot update Task 7\n {4}Error: update refused\n {8}at .*onEvent.* \(file:\/\/.*py_habits\.ts:\d+:\d+\)/,
  );
  assert.doesNotMatch(text, /\\n/);
  assert.match(text, /\[FTL\] sgevents\.plugin\.py_habits: critical "x"\n/);
});
