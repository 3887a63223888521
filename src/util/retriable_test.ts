import assert from "node:assert/strict";
import { ShotGridError } from "../shotgrid/errors.ts";
import { isNetworkError, isRetriable } from "./retriable.ts";

Deno.test("isRetriable() retries transient faults and never bugs, 4xx or aborts", async (t) => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  const refused = await fetch(`http://127.0.0.1:${port}/`).then(() => null, (e) => e);
  await t.step("a real fetch to a closed port is a retriable network error", () => {
    assert.equal(refused instanceof TypeError, true);
    assert.equal(isNetworkError(refused), true);
    assert.equal(isRetriable(refused), true);
  });
  const cases: [string, unknown, boolean][] = [
    ["a connection reset", new Deno.errors.ConnectionReset("reset"), true],
    ["a timeout", new DOMException("slow", "TimeoutError"), true],
    ["an abort", new DOMException("stop", "AbortError"), false],
    ["a 503", new ShotGridError("Cannot read: 503", { status: 503, retriable: true }), true],
    ["a 403", new ShotGridError("Cannot read: 403", { status: 403, retriable: false }), false],
    ["a plugin's own Error", new Error("render farm busy"), true],
    ["a programmer TypeError", new TypeError("x.foo is not a function"), false],
    ["a ReferenceError", new ReferenceError("y is not defined"), false],
    ["a RangeError", new RangeError("bad id"), false],
    ["a thrown string", "oops", true],
    ["an object flagged not retriable", { retriable: false }, false],
  ];
  for (const [what, error, expected] of cases) {
    await t.step(`${what}: ${expected ? "retried" : "not retried"}`, () => {
      assert.equal(isRetriable(error), expected);
    });
  }
});
