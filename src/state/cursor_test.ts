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

Deno.test("PluginCursor.pauseByOperator() pauses after the cursor without an error, resumable; a halted plugin stays halted", () => {
  const { cursor, state, now } = cursorAt(20);
  assert.equal(cursor.pauseByOperator(), true);
  assert.equal(cursor.status, "paused");
  assert.deepEqual(cursor.paused, {
    eventId: 21,
    callback: "(operator)",
    error: "Paused by an operator",
    at: new Date(now.t).toISOString(),
    fromBacklog: false,
    byOperator: true,
  });
  assert.equal(state.lastError, null);
  assert.equal(cursor.pauseByOperator(), false, "already paused");
  assert.equal(cursor.resume()?.byOperator, true);
  assert.equal(cursor.status, "active");
  assert.equal(cursor.position, 20);
  cursor.halt(5);
  assert.equal(cursor.pauseByOperator(), false);
  assert.equal(cursor.status, "halted");
});

Deno.test("PluginCursor.startReplay() takes a range at or below the cursor, one at a time", () => {
  const { cursor, now } = cursorAt(50);
  assert.throws(() => cursor.startReplay(10, 9), /expected event ids with from <= to/);
  assert.throws(() => cursor.startReplay(0, 9), /expected event ids/);
  assert.throws(
    () => cursor.startReplay(40, 51),
    /its cursor is at 50, and events after it are not delivered yet; use --to 50 or less/,
  );
  assert.equal(cursor.replay, null, "refused: nothing started");
  const replay = cursor.startReplay(10, 50);
  assert.deepEqual(replay, {
    from: 10,
    to: 50,
    next: 10,
    ids: null,
    at: new Date(now.t).toISOString(),
  });
  assert.throws(() => cursor.startReplay(1, 2), /one is under way \(events 10 to 50, next 10\)/);
  assert.equal(cursor.position, 50, "the cursor does not move");
});

Deno.test("PluginCursor.replayed() moves the replay forward only and ends it past its last id", () => {
  const { cursor, state } = cursorAt(50);
  assert.throws(() => cursor.replayed(5), /none is under way/);
  cursor.startReplay(10, 30);
  assert.equal(cursor.replayed(20), false);
  assert.equal(state.replay?.next, 20);
  assert.throws(() => cursor.replayed(19), /it is at 20/);
  assert.equal(cursor.replayed(31), true);
  assert.equal(cursor.replay, null);
  assert.equal(cursor.position, 50);
});

Deno.test("PluginCursor.startRetry() replays the failed ids; each leaves the failed list once delivered well", () => {
  const { cursor, state } = cursorAt(50);
  assert.throws(() => cursor.startRetry(), /it has none/);
  cursor.recordSkipped([
    { id: 12, callback: "cb", error: "Error: a", attempts: 3 },
    { id: 40, callback: "cb", error: "Error: b", attempts: 3 },
    { id: 25, callback: "cb", error: "Error: c", attempts: 1 },
  ]);
  assert.throws(() => cursor.startRetry(13), /event 13 .* not in its failed list/);
  const one = cursor.startRetry(25);
  assert.deepEqual([one.from, one.to, one.ids], [25, 25, [25]]);
  assert.equal(cursor.replayed(26, [25]), true);
  assert.deepEqual(state.failed.map((f) => f.eventId), [12, 40]);
  const all = cursor.startRetry();
  assert.deepEqual([all.from, all.to, all.ids], [12, 40, [12, 40]]);
  cursor.replayed(13, [12]);
  assert.deepEqual(state.failed.map((f) => f.eventId), [40]);
  assert.equal(cursor.replay?.next, 13);
});

Deno.test("PluginCursor.advance() clears lastError once the plugin moved past a skipped failure", () => {
  const { cursor, state } = cursorAt(10);
  cursor.advance(15);
  cursor.recordSkipped([{ id: 13, callback: "cb", error: "Error: boom", attempts: 2 }]);
  assert.equal(state.lastError, "Error: boom");
  cursor.advance(15);
  assert.equal(state.lastError, "Error: boom", "not moved: kept");
  cursor.advance(20);
  assert.equal(state.lastError, null);
  assert.equal(state.failed.length, 1, "the failed list keeps it");
});

Deno.test("PluginCursor.rewind() below a replay's end drops the replay (the lane delivers those again)", () => {
  const { cursor } = cursorAt(50);
  cursor.startReplay(10, 30);
  cursor.rewind(40);
  assert.notEqual(cursor.replay, null);
  cursor.rewind(20);
  assert.equal(cursor.replay, null);
});

Deno.test("PluginCursor.replayed() ends the probe of a replay batch once the replay is past it", () => {
  const { cursor, state } = cursorAt(50);
  cursor.startReplay(10, 30);
  cursor.beginDelivery(10, 14);
  assert.equal(cursor.recoverFromCrash().kind, "probe");
  assert.equal(cursor.probeUpTo, 14);
  cursor.replayed(12);
  assert.equal(cursor.probeUpTo, 14, "not past it yet");
  cursor.replayed(15);
  assert.equal(state.probe, null);
});

Deno.test("PluginCursor.quarantined() records where the plugin runs, once per change", () => {
  const { cursor, state, now } = cursorAt(0);
  const quarantine = () => state.quarantine;
  cursor.quarantined(null);
  assert.equal(quarantine(), null);
  cursor.quarantined("TimeoutError: Callback cb did not return within 100 ms");
  const at = quarantine()?.at;
  assert.match(quarantine()?.reason ?? "", /did not return/);
  now.t += 1000;
  cursor.quarantined("TimeoutError: Callback cb did not return within 100 ms");
  assert.equal(quarantine()?.at, at, "the same reason again changes nothing");
  cursor.quarantined(null);
  assert.equal(quarantine(), null);
});
