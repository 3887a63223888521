import assert from "node:assert/strict";
import { makeEvent } from "../engine/test_fakes.ts";
import { RecentEvents } from "./recent_events.ts";

const t0 = Date.parse("2026-12-01T12:00:00Z");

Deno.test("RecentEvents.nextCreatedAt() finds the first event after a cursor across pages", () => {
  const recent = new RecentEvents();
  recent.add([makeEvent(5, t0 + 5000), makeEvent(6, t0 + 6000)]);
  recent.add([makeEvent(1, t0 + 1000), makeEvent(3, t0 + 3000)]);
  assert.equal(recent.headId, 6);
  assert.equal(recent.nextCreatedAt("a", 0), t0 + 1000);
  assert.equal(recent.nextCreatedAt("a", 1), t0 + 3000);
  assert.equal(recent.nextCreatedAt("a", 3), t0 + 5000);
  assert.equal(recent.nextCreatedAt("a", 6), null, "caught up");
});

Deno.test("RecentEvents keeps at most its capacity, and remembers a paused plugin's next event", () => {
  const recent = new RecentEvents({ capacity: 2 });
  recent.add([makeEvent(1, t0 + 1000), makeEvent(2, t0 + 2000)]);
  assert.equal(recent.nextCreatedAt("paused", 0), t0 + 1000);
  recent.add([makeEvent(3, t0 + 3000), makeEvent(4, t0 + 4000)]);
  // Page 1-2 is dropped; the plugin still at cursor 0 keeps the age of event 1.
  assert.equal(recent.nextCreatedAt("paused", 0), t0 + 1000);
  assert.equal(recent.nextCreatedAt("other", 0), t0 + 3000, "never seen: the oldest known");
  assert.equal(recent.nextCreatedAt("paused", 4), null);
});
