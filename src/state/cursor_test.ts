import assert from "node:assert/strict";
import { isEventId, parseEventId, PluginCursor } from "./cursor.ts";
import { newPluginState, type PluginState } from "./state_file.ts";

function cursorAt(position: number, now = { t: 1_000_000 }): {
  cursor: PluginCursor;
  state: PluginState;
  now: { t: number };
} {
  const state = newPluginState(position);
  const cursor = new PluginCursor("notify", state, {
    clock: () => now.t,
    backlogTimeoutMs: 60_000,
  });
  return { cursor, state, now };
}

Deno.test("PluginCursor.advance() moves forward only, waiting for gaps by the injected clock", () => {
  const { cursor, state, now } = cursorAt(10);
  cursor.advance(15, { waiting: [12, 14] });
  assert.equal(cursor.position, 15);
  assert.deepEqual([...state.backlog], [[12, now.t + 60_000], [14, now.t + 60_000]]);
  cursor.advance(15);
  assert.throws(() => cursor.advance(14), /back to 14; use rewind/);
  assert.throws(() => cursor.advance(15.5), RangeError);
  assert.equal(cursor.position, 15);
});

Deno.test("PluginCursor.expire() drops only ids past their deadline and not found", () => {
  const { cursor, now } = cursorAt(0);
  cursor.advance(5, { waiting: [2, 3] });
  now.t += 30_000;
  cursor.advance(9, { waiting: [7] });
  now.t += 31_000;
  assert.deepEqual(cursor.expire(new Set([3])), [2]);
  assert.deepEqual(cursor.backlog, [3, 7]);
  cursor.resolve(3);
  assert.deepEqual(cursor.backlog, [7]);
});

Deno.test("PluginCursor.pause() and resume(): a paused backlog event waits without deadline, then gets a fresh one", () => {
  const { cursor, state, now } = cursorAt(0);
  cursor.advance(10, { waiting: [4] });
  cursor.pause({ eventId: 4, callback: "cb", error: "Error: boom", fromBacklog: true });
  assert.equal(cursor.status, "paused");
  assert.equal(state.backlog.get(4), null);
  assert.equal(state.lastError, "Error: boom");
  now.t += 3_600_000;
  assert.deepEqual(cursor.expire(new Set()), []);
  assert.equal(cursor.resume()?.eventId, 4);
  assert.equal(state.backlog.get(4), now.t + 60_000);
  assert.equal(cursor.status, "active");
  assert.equal(state.lastError, null);
  assert.equal(cursor.resume(), null);
});

Deno.test("PluginCursor.skip() moves forward, drops backlog and pause; back only when halted or by rewind", () => {
  const { cursor, state } = cursorAt(0);
  cursor.advance(20, { waiting: [5] });
  cursor.pause({ eventId: 21, callback: "cb", error: "x", fromBacklog: false });
  assert.deepEqual(cursor.skip(30), { from: 20, dropped: 1 });
  assert.equal(cursor.status, "active");
  assert.equal(state.paused, null);
  assert.equal(state.lastError, null);
  assert.throws(() => cursor.skip(25), /back from event 30 to 25/);
  assert.deepEqual(cursor.rewind(25), { from: 30, dropped: 0 });
  assert.equal(cursor.halt(10), true);
  assert.equal(cursor.halt(10), false, "halted once: the error is reported once");
  assert.equal(cursor.resume(), null, "a halted plugin is not resumed");
  assert.deepEqual(cursor.skip(10), { from: 25, dropped: 0 });
  assert.equal(cursor.status, "active");
  assert.equal(state.halted, null);
});

Deno.test("PluginCursor.recoverFromCrash(): a death probes the batch, a second death on one event pauses there", async (t) => {
  await t.step("a clean stop leaves nothing to recover", () => {
    const { cursor } = cursorAt(0);
    cursor.beginDelivery(1, 5);
    cursor.endDelivery();
    assert.deepEqual(cursor.recoverFromCrash(), { kind: "clean" });
  });
  await t.step("death mid-batch, then twice on the same event alone", () => {
    const { cursor, state } = cursorAt(0);
    cursor.beginDelivery(1, 5);
    // The process dies: the next start finds the mark.
    assert.deepEqual(cursor.recoverFromCrash(), { kind: "probe", first: 1, last: 5 });
    assert.equal(cursor.probeUpTo, 5);
    cursor.beginDelivery(1, 1);
    cursor.endDelivery();
    cursor.advance(1);
    cursor.beginDelivery(2, 2);
    // Dies during event 2, delivered alone: once is not yet twice.
    assert.deepEqual(cursor.recoverFromCrash(), { kind: "probe", first: 2, last: 2 });
    assert.equal(cursor.status, "active");
    cursor.beginDelivery(2, 2);
    assert.deepEqual(cursor.recoverFromCrash("h1"), { kind: "paused", eventId: 2 });
    assert.equal(cursor.status, "paused");
    assert.equal(state.paused?.eventId, 2);
    assert.equal(state.paused?.hash, "h1");
    assert.match(state.paused?.error ?? "", /ended twice/);
  });
  await t.step("a death on one event, then one on another, pauses neither", () => {
    const { cursor } = cursorAt(0);
    cursor.beginDelivery(1, 3);
    cursor.recoverFromCrash();
    cursor.beginDelivery(1, 1);
    cursor.recoverFromCrash();
    cursor.beginDelivery(1, 1);
    cursor.endDelivery();
    cursor.advance(1);
    cursor.beginDelivery(2, 2);
    assert.equal(cursor.recoverFromCrash().kind, "probe");
    cursor.advance(3);
    assert.equal(cursor.probeUpTo, null, "past the probed batch: back to whole batches");
  });
});

Deno.test("parseEventId() takes digits only and isEventId() safe positive integers", () => {
  assert.equal(parseEventId("545175", "--to"), 545175);
  assert.equal(parseEventId("0", "--to"), 0);
  for (const bad of ["1e3", "0x10", "12.0", "-3", "", "9007199254740992", "12abc"]) {
    assert.throws(() => parseEventId(bad, "--to"), /--to ".*" is not an event id/, bad);
  }
  assert.equal(isEventId(1), true);
  for (const bad of [0, -1, 1.5, 2 ** 53, "5", null]) assert.equal(isEventId(bad), false);
});
