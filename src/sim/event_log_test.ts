import assert from "node:assert/strict";
import { EventLog, type EventRow } from "./event_log.ts";
import { startSimulator } from "./server.ts";
import { seededRandom, synthesizeEvent } from "./synth.ts";
import { getToken, search } from "./testing.ts";

function stored(id: number): EventRow {
  return { ...synthesizeEvent(id, 1, 0), description: "stored" };
}

Deno.test("EventLog.ascending() and descending() merge synthesized ranges and stored rows", () => {
  const log = new EventLog(3);
  const random = seededRandom(42);
  const visible = new Set<number>();
  const late: number[] = [];
  for (let round = 0; round < 200; round++) {
    const r = random();
    if (r < 0.2) {
      const n = Math.floor(random() * 20);
      const { first, last } = log.appendSynthetic(n, 0);
      for (let id = first; id <= last; id++) visible.add(id);
    } else if (r < 0.5) {
      const id = log.allocate();
      log.commit([stored(id)]);
      visible.add(id);
    } else if (r < 0.7) {
      late.push(log.allocate());
    } else if (r < 0.8) {
      log.allocate(); // never commits
    } else if (late.length > 0) {
      const id = late.splice(Math.floor(random() * late.length), 1)[0]!;
      log.commit([stored(id)]);
      visible.add(id);
    }
  }
  const all = [...visible].sort((a, b) => a - b);
  assert.ok(all.length > 100);
  assert.equal(log.count, all.length);
  assert.equal(log.lastId, all.at(-1));
  for (
    const [from, to] of [[1, Infinity], [5, 50], [all[10]!, all[10]!], [37, 36], [0, 3]] as const
  ) {
    const want = all.filter((id) => id >= from && id <= to);
    assert.deepEqual([...log.ascending(from, to)], want, `ascending ${from}..${to}`);
    assert.deepEqual([...log.descending(from, to)], want.toReversed(), `descending ${from}..${to}`);
  }
  for (let id = 0; id <= log.allocatedId + 1; id++) {
    assert.equal(log.has(id), visible.has(id), `has(${id})`);
    assert.equal(log.get(id)?.id, visible.has(id) ? id : undefined);
  }
});

Deno.test("synthesizeEvent() is a pure function of id and seed", () => {
  assert.deepEqual(synthesizeEvent(12345, 9, 1000), synthesizeEvent(12345, 9, 1000));
  for (let id = 1; id <= 50_000; id++) {
    const e = synthesizeEvent(id, 1, 0);
    assert.ok(
      e.project === null || (e.project.type === "Project" && e.project.name),
      `event ${id}`,
    );
    assert.ok(e.user?.type === "HumanUser" && e.user.name, `event ${id}`);
    const meta = e.meta as { type?: string; old_value?: unknown; new_value?: unknown } | null;
    if (meta?.type === "attribute_change" && meta.old_value !== null) {
      assert.notEqual(meta.old_value, meta.new_value, `event ${id} changes nothing`);
    }
  }
  const types = new Set(
    Array.from({ length: 500 }, (_, i) => synthesizeEvent(i + 1, 9, 0).event_type),
  );
  assert.ok(types.size >= 5, [...types].join());
  assert.notDeepEqual(
    Array.from({ length: 20 }, (_, i) => synthesizeEvent(i + 1, 1, 0).event_type),
    Array.from({ length: 20 }, (_, i) => synthesizeEvent(i + 1, 2, 0).event_type),
  );
});

Deno.test("startSimulator({preload: 1_000_000}) costs little memory and pages from any id", async () => {
  const before = Deno.memoryUsage().heapUsed;
  await using sim = await startSimulator({ quiet: true, preload: 1_000_000 });
  const grown = Deno.memoryUsage().heapUsed - before;
  assert.ok(grown < 50 * 1024 * 1024, `heap grew ${grown} bytes`);
  assert.equal(sim.store.eventCount, 1_000_000);
  const token = await getToken(sim);
  const r = await search(sim, token, {
    filters: [["id", "greater_than", 999_600]],
    fields: "id,event_type",
  });
  assert.equal(r.json.data.length, 400);
  assert.equal(r.json.data[0].id, 999_601);
  const created = sim.store.getEvent(1)!.created_at < sim.store.getEvent(1_000_000)!.created_at;
  assert.ok(created, "preloaded history runs forward in time");
});
