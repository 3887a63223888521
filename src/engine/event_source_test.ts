import assert from "node:assert/strict";
import { ShotGridClient } from "../shotgrid/client.ts";
import { startSimulator } from "../sim/mod.ts";
import { ShotGridEventSource } from "./event_source.ts";

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

Deno.test("ShotGridEventSource over the simulator", async (t) => {
  await using sim = await startSimulator({ port: 0, preload: 4000, quiet: true });
  await using client = new ShotGridClient({
    url: sim.url,
    scriptName: "sgevents",
    scriptKey: "sim-key",
  });
  const source = new ShotGridEventSource(client);
  const signal = AbortSignal.timeout(20_000);

  await t.step("reads pages, ids and the edges of the event log", async () => {
    assert.deepEqual([await source.oldestId(signal), await source.newestId(signal)], [1, 4000]);
    const page = await source.after(100, 50, signal);
    assert.deepEqual(page.map((e) => e.id), range(101, 150));
    assert.equal((await source.after(3990, 50, signal)).length, 10);
    assert.deepEqual((await source.byIds([7, 3, 9999], signal)).map((e) => e.id), [3, 7]);
    assert.deepEqual(await source.byIds([], signal), []);
  });

  await t.step("reads id ranges: within the bound, at most the limit", async () => {
    const ids = async (after: number, upTo: number, limit: number) =>
      (await source.within({ after, upTo }, limit, signal)).map((e) => e.id);
    assert.deepEqual(await ids(100, 120, 50), range(101, 120));
    assert.deepEqual(await ids(100, 200, 30), range(101, 130));
    assert.deepEqual(await ids(3990, 5000, 50), range(3991, 4000));
    assert.deepEqual(await ids(200, 200, 50), []);
  });

  await t.step("narrows reads by type, wildcard and project", async () => {
    const all = [];
    for (let after = 0; after < 2000; after += 500) {
      all.push(...await source.after(after, 500, signal));
    }
    const narrowed = (eventTypes: string[] | null, projects: number[] | null) =>
      source.after(0, 5000, signal, { upTo: 2000, narrowing: { eventTypes, projects } });
    const ids = (events: { id: number }[]) => events.map((e) => e.id);

    const logins = all.filter((e) => e.event_type === "Shotgun_User_Login");
    assert.ok(logins.length > 20);
    assert.deepEqual(ids(await narrowed(["Shotgun_User_Login"], null)), ids(logins));
    const created = all.filter((e) => /^Shotgun_.*_New$/.test(e.event_type));
    assert.deepEqual(ids(await narrowed(["Shotgun_*_New"], null)), ids(created));
    const both = all.filter((e) =>
      e.event_type === "Shotgun_User_Login" || /^Shotgun_.*_New$/.test(e.event_type)
    );
    assert.deepEqual(ids(await narrowed(["Shotgun_*_New", "Shotgun_User_Login"], null)), ids(both));
    const project = all.find((e) => e.project)!.project!.id;
    const ofProject = all.filter((e) => e.project?.id === project);
    assert.deepEqual(ids(await narrowed(null, [project])), ids(ofProject));
    assert.deepEqual(await narrowed([], null), []);
  });

  await t.step("finds the first recent and last settled events, in whole seconds", async () => {
    // Preloaded events are 50 ms apart; dates compare in whole seconds, as ShotGrid stores
    // them, and a time 700 ms into a second is rounded down to it.
    const createdAt = (id: number) =>
      Math.floor(sim.store.events.get(id)!.created_at / 1000) * 1000;
    const second = createdAt(2000);
    const time = second + 700;
    const every = range(1, 4000);
    const firstAfter = every.find((id) => createdAt(id) > second)!;
    const lastBefore = every.findLast((id) => createdAt(id) < second)!;
    assert.ok(every.some((id) => createdAt(id) === second), "events in the second itself");
    const whole = { after: 0, upTo: 4000 };
    assert.equal(await source.firstCreatedAfter(whole, time, signal), firstAfter);
    assert.equal(await source.lastCreatedBefore(whole, time, signal), lastBefore);
    assert.equal(await source.firstCreatedAfter({ after: 3990, upTo: 4000 }, 0, signal), 3991);
    assert.equal(await source.firstCreatedAfter({ after: 0, upTo: 1000 }, time, signal), null);
    assert.equal(await source.lastCreatedBefore({ after: 0, upTo: 1000 }, time, signal), 1000);
    assert.equal(await source.lastCreatedBefore({ after: 10, upTo: 4000 }, 0, signal), null);
  });
});
