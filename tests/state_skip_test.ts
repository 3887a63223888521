/**
 * `state skip` as an operator types it: strict ids, bounds checked against the site, and a
 * backward move refused in favour of replay (issue 10). The hostile-site, restore and
 * crash-loop cases are fault scenarios (scripts/faults/hostile.ts), run by faults_test.ts.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import { readStateFile } from "../src/state/state_store.ts";
import { recorderPlugin, spawnSgevents, tempDir, writeConfig } from "./helpers.ts";

Deno.test("state skip takes strict ids, refuses targets above the site or below the cursor without --force", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 20, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, recorderPlugin(`${dir.path}/a.ids`));
  const config = await writeConfig({ url: sim.url, dir: dir.path });
  const run = async (...args: string[]) => {
    await using child = spawnSgevents([...args, "-c", config]);
    return { code: await child.exited, output: child.output().trim() };
  };
  assert.equal((await run("daemon", "--once")).code, 0);
  const cursor = async () =>
    (await readStateFile(`${dir.path}/state.json`))?.plugins.get("a")?.cursor;
  assert.equal(await cursor(), 20);

  const exponent = await run("state", "skip", "a", "--to", "1e3");
  assert.equal(exponent.code, 2);
  assert.match(exponent.output, /--to "1e3" is not an event id/);
  const above = await run("state", "skip", "a", "--to", "100000");
  assert.equal(above.code, 2);
  assert.match(above.output, /--to 100000 is above the site's newest event 20.*--force/);
  assert.equal(await cursor(), 20, "refused: nothing moved");
  assert.equal((await run("state", "skip", "a", "--to", "100000", "--force")).code, 0);
  assert.equal(await cursor(), 100000);
  const back = await run("state", "skip", "a", "--to", "10", "--force");
  assert.equal(back.code, 0, back.output);
  assert.equal(await cursor(), 10);
  const refused = await run("state", "skip", "a", "--to", "5");
  assert.equal(refused.code, 2);
  assert.match(refused.output, /back from event 10 to 5.*sgevents replay a --from 6 --to 10/);
  assert.equal(await cursor(), 10);
});
