import assert from "node:assert/strict";
import { sleep } from "../util/abort.ts";
import { startSimulator } from "./server.ts";

/** Wait until `done()` holds, polling; fails after `limit` tries. */
async function until(done: () => boolean, what: string, limit = 500): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (done()) return;
    await sleep(10);
  }
  assert.fail(`Timed out waiting for ${what}`);
}

Deno.test("startSimulator({rate}) generates logged changes until close()", async () => {
  const sim = await startSimulator({ quiet: true, rate: 200, seed: 3 });
  try {
    await until(() => sim.store.eventCount >= 50, "50 events");
    const types = new Set<string>();
    for (let id = 1; id <= sim.store.lastEventId; id++) {
      const e = sim.store.getEvent(id);
      if (e) types.add(e.event_type);
    }
    assert.ok(types.has("Shotgun_Shot_Change"), [...types].join());
  } finally {
    await sim.close();
  }
  const count = sim.store.eventCount;
  await sleep(50);
  assert.equal(sim.store.eventCount, count, "no writes after close()");
  await sim.close(); // idempotent
});

Deno.test("startSimulator({lateFraction: 1}) leaves gaps that later fill with their original created_at", async () => {
  let now = Date.UTC(2026, 0, 1);
  await using sim = await startSimulator({
    quiet: true,
    rate: 100,
    lateFraction: 1,
    lateDelayMs: 100,
    clock: () => now,
  });
  await until(() => sim.store.events.allocatedId >= 5, "writes");
  const firstId = 1;
  assert.equal(sim.store.getEvent(firstId), undefined, "not visible before the commit");
  now += 3_600_000;
  await until(() => sim.store.getEvent(firstId) !== undefined, "the late commit");
  assert.equal(sim.store.getEvent(firstId)!.created_at, "2026-01-01T00:00:00Z");
});

Deno.test("startSimulator({neverCommitFraction}) leaves ids that never appear", async () => {
  await using sim = await startSimulator({
    quiet: true,
    rate: 300,
    neverCommitFraction: 0.3,
    seed: 5,
  });
  await until(() => sim.store.events.allocatedId >= 200, "200 ids");
  const allocated = sim.store.events.allocatedId;
  let missing = 0;
  for (let id = 1; id <= allocated; id++) if (!sim.store.getEvent(id)) missing++;
  const fraction = missing / allocated;
  assert.ok(fraction > 0.15 && fraction < 0.45, `missing fraction ${fraction}`);
});
