import assert from "node:assert/strict";
import { ShotGridClient } from "../shotgrid/client.ts";
import { startSimulator } from "../sim/mod.ts";
import { ShotGridEventSource } from "./event_source.ts";

Deno.test("ShotGridEventSource reads pages, ids, edges and narrowed events from a site", async () => {
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
  assert.deepEqual((await source.byIds([7, 3, 999], signal)).map((e) => e.id), [3, 7]);

  const all = await source.after(0, 400, signal);
  const type = all[0]!.event_type;
  const project = all.find((e) => e.project)!.project!.id;
  const byType = await source.after(0, 400, signal, { types: [type], projects: null });
  assert.deepEqual(
    byType.map((e) => e.id),
    all.filter((e) => e.event_type === type).map((e) => e.id),
  );
  const byProject = await source.after(0, 400, signal, { types: null, projects: [project] });
  assert.deepEqual(
    byProject.map((e) => e.id),
    all.filter((e) => e.project?.id === project).map((e) => e.id),
  );
  const recent = await source.recent(
    { types: [type], projects: null },
    Date.now() - 3_600_000,
    signal,
  );
  assert.deepEqual(recent.map((e) => e.id), byType.map((e) => e.id));
  assert.deepEqual(
    await source.recent({ types: [type], projects: null }, Date.now() + 60_000, signal),
    [],
  );
});
