import assert from "node:assert/strict";
import { ShotGridClient } from "../shotgrid/client.ts";
import { startSimulator } from "../sim/mod.ts";
import { ShotGridEventSource } from "./event_source.ts";

Deno.test("ShotGridEventSource reads pages, ids and the edges of a site's event log", async () => {
  await using sim = await startSimulator({ port: 0, preload: 400, quiet: true });
  await using client = new ShotGridClient({
    url: sim.url,
    scriptName: "sgevents",
    scriptKey: "sim-key",
  });
  const source = new ShotGridEventSource(client);
  const signal = AbortSignal.timeout(20_000);
  assert.deepEqual([await source.oldestId(signal), await source.newestId(signal)], [1, 400]);
  const page = await source.after(100, 50, signal);
  assert.deepEqual(page.map((e) => e.id), Array.from({ length: 50 }, (_, i) => 101 + i));
  assert.equal((await source.after(390, 50, signal)).length, 10);
  assert.deepEqual((await source.byIds([7, 3, 999], signal)).map((e) => e.id), [3, 7]);
  assert.deepEqual(await source.byIds([], signal), []);
});

Deno.test("ShotGridEventSource narrows reads by type, wildcard and project, and finds the settled horizon", async () => {
  await using sim = await startSimulator({ port: 0, preload: 4000, quiet: true });
  await using client = new ShotGridClient({
    url: sim.url,
    scriptName: "sgevents",
    scriptKey: "sim-key",
  });
  const source = new ShotGridEventSource(client);
  const signal = AbortSignal.timeout(20_000);
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

  // Preloaded events are 50 ms apart, the newest created now.
  const recent = await source.firstCreatedAfter(0, Date.now() - 100_000, signal);
  assert.ok(recent !== null && recent > 1900 && recent < 2100, `first recent id ${recent}`);
  assert.equal(await source.firstCreatedAfter(3990, 0, signal), 3991);
  assert.equal(await source.firstCreatedAfter(0, Date.now() + 3_600_000, signal), null);
  assert.equal(await source.lastIdBetween(0, recent, signal), recent - 1);
  assert.equal(await source.lastIdBetween(100, null, signal), 4000);
  assert.equal(await source.lastIdBetween(4000, null, signal), null);
});
