/**
 * `sgevents dispatch --id N --dry-run` against the simulator: the event is read from the
 * site, the plugin's reads reach it, its writes are printed and never reach it.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import { root, spawnSgevents, tempDir, writeConfig } from "./helpers.ts";

async function run(args: string[]): Promise<{ code: number; out: string }> {
  await using p = spawnSgevents(args);
  const code = await p.exited;
  return { code, out: p.output() };
}

Deno.test("sgevents dispatch --id --dry-run reads the event and the site, sends no write", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, quiet: true });
  const shot = sim.store.create("Shot", { code: "sh010", sg_status_list: "wtg" });
  const task = sim.store.create("Task", {
    content: "anim",
    sg_status_list: "wtg",
    entity: { type: "Shot", id: shot.id },
  });
  sim.store.update("Task", task.id, { sg_status_list: "ip" });
  const statusChange = sim.store.lastEventId;
  const config = await writeConfig({ url: sim.url, dir: dir.path });
  await Deno.mkdir(`${dir.path}/plugins`);

  const result = await run([
    "dispatch",
    `${root}plugins/shot_status_from_task.ts`,
    "--id",
    String(statusChange),
    "--dry-run",
    "-c",
    config,
  ]);
  assert.equal(result.code, 0, result.out);
  assert.match(result.out, new RegExp(`Event ${statusChange} Shotgun_Task_Change sg_status_list`));
  assert.match(result.out, /copyStatusToShot +ok/);
  // The Task was read from the site (the Shot's id comes from it); the update was not sent.
  assert.ok(
    result.out.includes(
      `dry run, not sent: PUT /api/v1/entity/Shot/${shot.id} {"sg_status_list":"ip"}`,
    ),
    result.out,
  );
  assert.equal(sim.store.get("Shot", shot.id)?.sg_status_list, "wtg");
  assert.equal(sim.store.lastEventId, statusChange);

  const missing = await run([
    "dispatch",
    `${root}plugins/log_events.ts`,
    "--id",
    "999",
    "-c",
    config,
  ]);
  assert.equal(missing.code, 2);
  assert.match(
    missing.out,
    /Cannot read events by --id: "999" not found on http:\/\/127\.0\.0\.1:/,
  );
});

Deno.test("sgevents dispatch --dry-run records creates, deletes and revives with what the site would answer", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, quiet: true });
  const doomed = sim.store.create("Shot", { code: "sh020" });
  const shotsBefore = [...sim.store.ids("Shot", 0, Number.MAX_SAFE_INTEGER, false)].length;
  const config = await writeConfig({ url: sim.url, dir: dir.path });
  await Deno.mkdir(`${dir.path}/plugins`);
  await Deno.writeTextFile(
    `${dir.path}/writer.ts`,
    `export function registerCallbacks(reg) {
      reg.registerCallback("sgevents", "sim-key", async function write(sg, logger, event) {
        const made = await sg.create("Shot", { code: "new " + event.id });
        logger.info("created %d", made.id);
        if (!(await sg.delete("Shot", ${doomed.id}))) throw new Error("delete refused");
        await sg.revive("Shot", ${doomed.id});
      });
    }`,
  );
  const events = `${dir.path}/event.json`;
  await Deno.writeTextFile(events, JSON.stringify({ id: 1, event_type: "Shotgun_Shot_New" }));
  const result = await run([
    "dispatch",
    `${dir.path}/writer.ts`,
    "-e",
    events,
    "--dry-run",
    "-c",
    config,
  ]);
  assert.equal(result.code, 0, result.out);
  assert.match(result.out, /created -1/);
  const lines = result.out.split("\n").filter((l) => l.includes("dry run, not sent"));
  assert.deepEqual(lines.map((l) => l.trim()), [
    `dry run, not sent: POST /api/v1/entity/Shot {"code":"new 1"}`,
    `dry run, not sent: DELETE /api/v1/entity/Shot/${doomed.id}`,
    `dry run, not sent: POST /api/v1/entity/Shot/${doomed.id}?revive=true`,
  ]);
  assert.equal([...sim.store.ids("Shot", 0, Number.MAX_SAFE_INTEGER, false)].length, shotsBefore);
  assert.ok(sim.store.get("Shot", doomed.id));
});
