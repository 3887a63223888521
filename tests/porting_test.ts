/**
 * The README's porting example, plugins/status_flip_downstream_tasks.ts (shotgunEvents'
 * statusFlipDownstreamTasks.py), run through `sgevents dispatch --id` against the simulator.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import { root, spawnSgevents, tempDir, writeConfig } from "./helpers.ts";

Deno.test("The ported statusFlipDownstreamTasks flips only the downstream Tasks whose upstream Tasks are all final", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, quiet: true });
  const task = (content: string, status: string, upstream: { id: number }[] = []) =>
    sim.store.create("Task", {
      content,
      sg_status_list: status,
      upstream_tasks: upstream.map(({ id }) => ({ type: "Task", id })),
    });
  const model = task("model", "ip");
  const rig = task("rig", "ip");
  const lookdev = task("lookdev", "wtg", [model]); // waits for model only
  const anim = task("anim", "wtg", [model, rig]); // waits for model and rig
  const comp = task("comp", "ip", [model]); // not waiting: left alone
  const link = (t: { id: number }) => ({ type: "Task", id: t.id });
  // The site keeps both directions; the simulator needs them written.
  sim.store.update("Task", model.id, { downstream_tasks: [lookdev, anim, comp].map(link) });
  sim.store.update("Task", rig.id, { downstream_tasks: [link(anim)] });
  sim.store.update("Task", model.id, { sg_status_list: "fin" });
  const finalled = sim.store.lastEventId;
  const config = await writeConfig({ url: sim.url, dir: dir.path });
  await Deno.mkdir(`${dir.path}/plugins`);

  await using p = spawnSgevents([
    "dispatch",
    `${root}plugins/status_flip_downstream_tasks.ts`,
    "--id",
    String(finalled),
    "-c",
    config,
  ]);
  const code = await p.exited;
  const out = p.output();
  assert.equal(code, 0, out);
  assert.match(out, /flipDownstreamTasks +ok/);
  assert.match(out, new RegExp(`Task #${model.id} has multiple upstream Tasks`));
  assert.match(out, new RegExp(`Set Task #${lookdev.id} to 'rdy'`));
  assert.doesNotMatch(out, new RegExp(`Set Task #${anim.id} `));
  const status = (t: { id: number }) => sim.store.get("Task", t.id)?.sg_status_list;
  assert.deepEqual([status(lookdev), status(anim), status(comp)], ["rdy", "wtg", "ip"]);
});

Deno.test("The README's porting example is the code of plugins/status_flip_downstream_tasks.ts", async () => {
  const readme = await Deno.readTextFile(`${root}README.md`);
  const section = readme.slice(readme.indexOf("## Porting plugins from shotgunEvents"));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  const code = (await Deno.readTextFile(`${root}plugins/status_flip_downstream_tasks.ts`))
    .split("\n")
    .filter((line) => !/^\s*(\/\/|\/\*\*|\*)/.test(line)); // comments are the file's own
  const shown = block.split("\n");
  assert.ok(shown.length > 20, "the README shows the plugin");
  assert.deepEqual(
    shown.filter((l) => l.trim() !== ""),
    code.filter((l) => l.trim() !== ""),
  );
});
