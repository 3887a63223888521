import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startSimulator } from "../sim/mod.ts";
import { discoverPlugins } from "./discovery.ts";
import { PluginHost } from "./host.ts";
import { event, hostOptions, LogCapture } from "./test_helpers.ts";

const examples = fileURLToPath(new URL("../../plugins/", import.meta.url));

async function startExample(name: string, options: Parameters<typeof hostOptions>[0] = {}) {
  const plugin = (await discoverPlugins([examples])).find((p) => p.name === name);
  assert.ok(plugin, `example plugin ${name} not found`);
  return await PluginHost.start(plugin, hostOptions(options));
}

Deno.test("The example plugins load, and helpers starting with _ are not plugins", async () => {
  const names = (await discoverPlugins([examples])).map((p) => p.name);
  assert.deepEqual(names, [
    "count_by_type",
    "log_events",
    "shot_status_from_task",
    "status_flip_downstream_tasks",
  ]);
  for (const name of names) {
    await using host = await startExample(name);
    assert.equal(host.status, "ready", host.loadError ?? "");
  }
});

Deno.test("shot_status_from_task sets the Shot's status through sg, with the event's session uuid", async () => {
  await using sim = await startSimulator({ port: 0, quiet: true, logScriptWrites: true });
  await using logs = await LogCapture.start();
  await using host = await startExample("shot_status_from_task", {
    shotgrid: { url: sim.url, proxy: null, useSessionUuid: true, timeoutMs: 5000 },
  });
  const task = sim.store.get("Task", 1);
  const shot = (task?.entity as { id: number } | undefined)?.id;
  assert.ok(shot, "the simulator's Task 1 is on a Shot");
  assert.notEqual(sim.store.get("Shot", shot)?.sg_status_list, "ip");

  const change = event(1, {
    entity: { type: "Task", id: 1 },
    meta: { type: "attribute_change", old_value: "wtg", new_value: "ip" },
    session_uuid: "5f0c4b2e-session",
  });
  const unrelated = event(2, { attribute_name: "content" });
  const report = await host.deliver([change, unrelated]);
  assert.deepEqual(report, { done: 2, skipped: [], paused: null, stopped: false });
  assert.equal(sim.store.get("Shot", shot)?.sg_status_list, "ip");

  const logged = sim.store.getEvent(sim.store.lastEventId);
  assert.equal(logged?.event_type, "Shotgun_Shot_Change");
  assert.equal(logged?.attribute_name, "sg_status_list");
  assert.equal(logged?.session_uuid, "5f0c4b2e-session");
  assert.equal(logged?.user?.type, "ApiUser");
  assert.ok(
    logs.messages(["sgevents", "plugin", "shot_status_from_task"]).includes(
      `Shot ${shot} is now ip (Task 1)`,
    ),
  );
});

Deno.test("count_by_type shares state between its callbacks through args", async () => {
  await using logs = await LogCapture.start();
  await using host = await startExample("count_by_type");
  const batch = Array.from(
    { length: 200 },
    (_, i) =>
      event(i + 1, { event_type: i % 4 === 0 ? "Shotgun_Shot_New" : "Shotgun_Task_Change" }),
  );
  assert.equal((await host.deliver(batch)).done, 200);
  assert.deepEqual(logs.messages(["sgevents", "plugin", "count_by_type"]), [
    "100 events so far; most frequent: Shotgun_Task_Change 75, Shotgun_Shot_New 25",
    "200 events so far; most frequent: Shotgun_Task_Change 150, Shotgun_Shot_New 50",
  ]);
});

Deno.test("log_events logs each event with its args", async () => {
  await using logs = await LogCapture.start();
  await using host = await startExample("log_events");
  assert.equal(host.emails, false);
  await host.deliver([event(5)]);
  assert.deepEqual(logs.messages(["sgevents", "plugin", "log_events"]), [
    "all events: event 5 Shotgun_Task_Change on Task 105 by Ann",
  ]);
});
