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
