import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { getLineFormatter } from "./format.ts";

const record = (rawMessage: string, properties: Record<string, unknown>): LogRecord => ({
  category: ["sgevents", "plugin", "x"],
  level: "error",
  timestamp: 0,
  rawMessage,
  properties,
  message: rawMessage.split(/\{(\w+)\}/).map((part, i) => i % 2 ? properties[part] : part),
});

const stack = "Error: boom\n    at onEvent (file:///p/x.ts:3:9)";

Deno.test("getLineFormatter() shows stacks as indented lines, never a literal \\n", () => {
  const format = getLineFormatter();
  // A stack in the message (the lane's pause line) and a stack property (a plugin's Worker).
  const inMessage = format(record("Paused: {error}\n{stack}", { error: "Error: boom", stack }));
  const asProperty = format(record("Unhandled rejection", { stack }));
  assert.match(inMessage, /: Paused: Error: boom\n {4}Error: boom\n {8}at onEvent \(file:/);
  assert.match(asProperty, /: Unhandled rejection\n {4}Error: boom\n {8}at onEvent \(file:/);
  assert.doesNotMatch(inMessage + asProperty, /\\n/);
});

Deno.test("getLineFormatter() indents a value's new lines so they cannot pass for a record", () => {
  const line = getLineFormatter()(
    record("Shot {name}", { name: "x\n2026-01-01 00:00:00.000 +00 [INF] forged" }),
  );
  assert.match(line, /Shot x\n {4}2026-01-01 00:00:00\.000 \+00 \[INF\] forged\n$/);
});
