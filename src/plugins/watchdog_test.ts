import assert from "node:assert/strict";
import { controlBlock, slot } from "./protocol.ts";
import { type HungCallback, watchCallbacks } from "./watchdog.ts";

Deno.test("watchCallbacks() reports a running attempt past its timeout and grace, and only that", async () => {
  const control = controlBlock();
  let now = 10_000;
  const found: HungCallback[] = [];
  let wake: () => void = () => {};
  using _watch = watchCallbacks(control, {
    graceMs: 100,
    now: () => now,
    onHung: (hung) => {
      found.push(hung);
      wake();
    },
  });
  Atomics.store(control.ints, slot.callback, 2);
  Atomics.store(control.ints, slot.timeoutMs, 500);
  Atomics.store(control.startedAt, 0, 10_000n);
  now = 20_000; // long past, but nothing is running
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(found, []);
  now = 10_600; // running, exactly at timeout + grace: not yet
  Atomics.store(control.ints, slot.running, 1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(found, []);
  now = 10_601;
  await new Promise<void>((resolve) => (wake = resolve));
  assert.deepEqual(found[0], { callbackIndex: 2, timeoutMs: 500 });
});
