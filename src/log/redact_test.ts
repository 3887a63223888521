import assert from "node:assert/strict";
import { redact, redactValue, registerSecret } from "./redact.ts";

Deno.test("redact() replaces every registered secret, longest first", () => {
  registerSecret("abc-secret");
  registerSecret("abc-secret-longer");
  registerSecret("");
  assert.equal(redact("a abc-secret-longer b abc-secret c"), "a *** b *** c");
  assert.equal(redact("nothing here"), "nothing here");
});

Deno.test("redactValue() copies nested values, errors and cycles with secrets hidden", () => {
  registerSecret("value-secret-1");
  const cause = new Error("inner value-secret-1");
  const error = new TypeError("outer value-secret-1", { cause });
  const cyclic: Record<string, unknown> = { text: "x value-secret-1" };
  cyclic.self = cyclic;
  const date = new Date(0);
  const result = redactValue({ list: ["value-secret-1", 5], error, cyclic, date });
  assert.deepEqual(result.list, ["***", 5]);
  assert.equal(result.error.message, "outer ***");
  assert.equal(result.error.name, "TypeError");
  assert.ok(!result.error.stack?.includes("value-secret-1"));
  assert.equal((result.error.cause as Error).message, "inner ***");
  assert.equal(result.cyclic.text, "x ***");
  assert.equal(result.cyclic.self, result.cyclic);
  assert.equal(result.date, date);
  assert.equal(error.message, "outer value-secret-1", "the original is left alone");
});
