/**
 * The client calls plugins port from the Python API (batch, summarize, schema reads, update
 * modes, thumbnails, positional find order), each over real HTTP against the simulator.
 */
import assert from "node:assert/strict";
import { parseSchemaFile, startSimulator } from "../sim/mod.ts";
import { ShotGridClient } from "./client.ts";
import { ShotGridError } from "./errors.ts";

function clientFor(url: string): ShotGridClient {
  return new ShotGridClient({ url, scriptName: "sgevents", scriptKey: "sim-key" });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

const link = (type: string, id: number) => ({ type, id });

Deno.test("ShotGridClient.batch() runs creates, updates and deletes as one transaction", async () => {
  await using sim = await startSimulator({ logScriptWrites: true });
  await using sg = clientFor(sim.url);
  const results = await sg.batch([
    {
      request_type: "create",
      entity_type: "Shot",
      data: { code: "b010", project: link("Project", 1) },
    },
    { request_type: "update", entity_type: "Shot", entity_id: 2, data: { sg_status_list: "ip" } },
    { request_type: "delete", entity_type: "Shot", entity_id: 3 },
  ]);
  assert.equal(results.length, 3);
  const [created, updated, deleted] = results as [
    Record<string, unknown>,
    Record<string, unknown>,
    true,
  ];
  assert.equal(created.type, "Shot");
  assert.equal(created.code, "b010");
  assert.equal(updated.id, 2);
  assert.equal(updated.sg_status_list, "ip");
  assert.equal(deleted, true);
  assert.equal(sim.store.get("Shot", 3), undefined);
  assert.equal(sim.store.get("Shot", created.id as number)?.code, "b010");
  assert.deepEqual(await sg.batch([]), []);
});

Deno.test("ShotGridClient.batch() writes nothing and logs nothing when one request fails", async () => {
  await using sim = await startSimulator({ logScriptWrites: true });
  await using sg = clientFor(sim.url);
  const lastEvent = sim.store.lastEventId;
  const shotsBefore = await sg.find("Shot", [], ["code"]);
  const error = await rejection(sg.batch([
    { request_type: "create", entity_type: "Shot", data: { code: "b020" } },
    { request_type: "update", entity_type: "Shot", entity_id: 1, data: { sg_status_list: "ip" } },
    { request_type: "update", entity_type: "Shot", entity_id: 1, data: { no_such_field: 1 } },
  ]));
  assert.ok(error instanceof ShotGridError);
  assert.equal(error.status, 400);
  assert.match(String(error.detail), /requests\[2\]/);
  assert.deepEqual(await sg.find("Shot", [], ["code"]), shotsBefore);
  assert.equal(sim.store.get("Shot", 1)?.sg_status_list, "wtg");
  assert.equal(sim.store.lastEventId, lastEvent);
  // A failed batch leaves no half-logged events for later writes to reveal either.
  await sg.update("Shot", 1, { description: "after" });
  const events = await sg.find("EventLogEntry", [["id", "greater_than", lastEvent]], [
    "attribute_name",
  ]);
  assert.deepEqual(events.map((e) => e.attribute_name), ["description"]);
});

Deno.test("ShotGridClient.batch() refuses a malformed request before sending", async () => {
  await using sim = await startSimulator();
  await using sg = clientFor(sim.url);
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    sg.batch([{ request_type: "upsert", entity_type: "Shot", data: {} } as any]),
    TypeError,
  );
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    sg.batch([{ request_type: "delete", entity_type: "Shot" } as any]),
    TypeError,
  );
  assert.equal(sim.stats.requests, 0);
});

Deno.test("ShotGridClient.summarize() counts, sums and groups matching records", async () => {
  await using sim = await startSimulator();
  await using sg = clientFor(sim.url);
  sim.store.update("Shot", 1, { sg_status_list: "ip", sg_cut_in: 1001 });
  sim.store.update("Shot", 2, { sg_status_list: "ip", sg_cut_in: 1009 });
  sim.store.update("Shot", 3, { sg_status_list: "fin" });
  const all = await sg.find("Shot", [], ["sg_status_list"]);
  const summary = await sg.summarize(
    "Shot",
    [],
    [{ field: "id", type: "count" }, { field: "sg_cut_in", type: "sum" }],
    { grouping: [{ field: "sg_status_list", type: "exact", direction: "asc" }] },
  );
  assert.deepEqual(summary.summaries, { id: all.length, sg_cut_in: 2010 });
  const groups = summary.groups as { group_name: string; summaries: Record<string, number> }[];
  assert.deepEqual(groups.map((g) => [g.group_name, g.summaries.id, g.summaries.sg_cut_in]), [
    ["fin", 1, 0],
    ["ip", 2, 2010],
    ["wtg", all.length - 3, 0],
  ]);
  const filtered = await sg.summarize("Shot", [["sg_status_list", "is", "ip"]], [
    { field: "sg_cut_in", type: "maximum" },
  ]);
  assert.deepEqual(filtered, { summaries: { sg_cut_in: 1009 }, groups: [] });
  const error = await rejection(sg.summarize("Shot", [], [{ field: "sg_nope", type: "count" }]));
  assert.ok(error instanceof ShotGridError && error.status === 400);
});

Deno.test("ShotGridClient schema reads return the Python API's shapes", async () => {
  await using sim = await startSimulator();
  await using sg = clientFor(sim.url);
  const entities = await sg.schemaEntityRead();
  assert.deepEqual((entities.Status as { name: { value: string } }).name.value, "Status");
  const fields = await sg.schemaFieldRead("Shot");
  assert.ok("sg_status_list" in fields && "code" in fields);
  const status = await sg.schemaFieldRead("Shot", "sg_status_list");
  assert.deepEqual(Object.keys(status), ["sg_status_list"]);
  const def = status.sg_status_list as {
    data_type: { value: string };
    properties: { valid_values: { value: string[] }; default_value: { value: string } };
  };
  assert.equal(def.data_type.value, "status_list");
  assert.ok(def.properties.valid_values.value.includes("ip"));
  assert.equal(def.properties.default_value.value, "wtg");
  const project = (await sg.schemaFieldRead("Task", "entity")).entity as {
    properties: { valid_types: { value: string[] } };
  };
  assert.deepEqual(project.properties.valid_types.value, ["Shot", "Asset"]);
  const error = await rejection(sg.schemaFieldRead("Shot", "sg_nope"));
  assert.ok(error instanceof ShotGridError && error.status === 404);
  const everything = await sg.schemaRead();
  assert.ok("code" in everything.Shot!);
  assert.ok("task_assignees" in everything.Task!);
});

Deno.test("ShotGridClient.update() adds and removes multi-entity links by update mode", async () => {
  await using sim = await startSimulator({ logScriptWrites: true });
  await using sg = clientFor(sim.url);
  const ids = (value: unknown) => (value as { id: number }[]).map((l) => l.id);
  await sg.update("Shot", 1, { assets: [link("Asset", 1)] });
  const added = await sg.update("Shot", 1, { assets: [link("Asset", 2), link("Asset", 1)] }, {
    multiEntityUpdateModes: { assets: "add" },
  });
  assert.deepEqual(ids(added.assets), [1, 2]);
  const before = sim.store.lastEventId;
  // The Python spelling works too, for ported plugins.
  const removed = await sg.update("Shot", 1, { assets: [link("Asset", 1)] }, {
    multi_entity_update_modes: { assets: "remove" },
  });
  assert.deepEqual(ids(removed.assets), [2]);
  const [event] = await sg.find("EventLogEntry", [["id", "greater_than", before]], ["meta"]);
  const meta = event?.meta as { added: unknown[]; removed: { id: number }[] };
  assert.deepEqual(meta.added, []);
  assert.deepEqual(meta.removed.map((l) => l.id), [1]);
  const set = await sg.update("Shot", 1, { assets: [link("Asset", 3)] }, {
    multiEntityUpdateModes: { assets: "set" },
  });
  assert.deepEqual(ids(set.assets), [3]);
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    sg.update("Shot", 1, { assets: [] }, { multiEntityUpdateModes: { assets: "merge" as any } }),
    RangeError,
  );
  // Python's positional multi_entity_update_modes dict, from untyped code.
  // deno-lint-ignore no-explicit-any
  const untyped = sg as any;
  const positional = await untyped.update("Shot", 1, { assets: [link("Asset", 4)] }, {
    assets: "add",
  });
  assert.deepEqual(ids(positional.assets), [3, 4]);
  await assert.rejects(untyped.update("Shot", 1, { code: "x" }, { mode: "fast" }), TypeError);
});

Deno.test("ShotGridClient.uploadThumbnail() goes through the upload flow and logs the image events", async () => {
  await using sim = await startSimulator({ logScriptWrites: true });
  await using sg = clientFor(sim.url);
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/thumb.png`;
    await Deno.writeFile(file, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    const before = sim.store.lastEventId;
    await sg.uploadThumbnail("Shot", 1, file);
    const events = await sg.find("EventLogEntry", [["id", "greater_than", before]], [
      "attribute_name",
      "meta",
    ]);
    assert.deepEqual(
      events.map((e) => [e.attribute_name, (e.meta as { is_transient: boolean }).is_transient]),
      [["image", true], ["image", false]],
    );
    assert.notEqual(sim.store.get("Shot", 1)?.image, null);
    const missing = await rejection(sg.uploadThumbnail("Note", 1, file));
    assert.ok(missing instanceof ShotGridError && missing.status === 400);
    await assert.rejects(sg.uploadThumbnail("Shot", 1, `${dir}/nope.png`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ShotGridClient.find() honours an order passed positionally, as from Python", async () => {
  await using sim = await startSimulator();
  await using sg = clientFor(sim.url);
  const desc = [{ field_name: "id", direction: "desc" as const }];
  const byOptions = await sg.find("Shot", [], ["code"], { order: desc, limit: 3 });
  const positional = await sg.find("Shot", [], ["code"], desc, { limit: 3 });
  assert.deepEqual(positional.map((s) => s.id), byOptions.map((s) => s.id));
  assert.ok(positional[0]!.id > positional[1]!.id);
  const one = await sg.findOne("Shot", [], ["code"], desc);
  assert.equal(one?.id, byOptions[0]?.id);
  // Python's filter_operator after the order.
  const any = await sg.find("Shot", [["id", "is", 1], ["id", "is", 2]], ["code"], desc, "any");
  assert.deepEqual(any.map((s) => s.id), [2, 1]);
  // deno-lint-ignore no-explicit-any
  const untyped = sg as any;
  await assert.rejects(untyped.find("Shot", [], ["code"], "id"), TypeError);
  // Python keyword names a port keeps work; any other unknown option is refused.
  const kw = await untyped.find("Shot", [["id", "is", 1], ["id", "is", 2]], ["code"], {
    filter_operator: "any",
    order: desc,
  });
  assert.deepEqual(kw.map((s: { id: number }) => s.id), [2, 1]);
  await assert.rejects(untyped.find("Shot", [], ["code"], { include_archived: false }), TypeError);
  await assert.rejects(untyped.find("Shot", [], ["code"], [{ field: "id" }]), TypeError);
});

Deno.test("ShotGridClient.find() reads dotted fields through links", async () => {
  await using sim = await startSimulator();
  await using sg = clientFor(sim.url);
  const [task] = await sg.find("Task", [["id", "is", 1]], [
    "entity.Shot.code",
    "project.Project.name",
    "entity.Asset.code",
  ]);
  const shot = sim.store.get("Shot", (sim.store.get("Task", 1)!.entity as { id: number }).id)!;
  assert.equal(task?.["entity.Shot.code"], shot.code);
  assert.equal(task?.["project.Project.name"], "demo");
  assert.equal(task?.["entity.Asset.code"], null); // the link is a Shot
  const read = await sg.findById("Task", 1, ["entity.Shot.project"]);
  assert.deepEqual(read?.["entity.Shot.project"], { type: "Project", id: 1, name: "demo" });
});

Deno.test("ShotGridClient.find() filters on dotted fields through links", async () => {
  await using sim = await startSimulator();
  await using sg = clientFor(sim.url);
  sim.store.update("Shot", 2, { sg_status_list: "ip" });
  const tasks = await sg.find("Task", [["entity.Shot.sg_status_list", "is", "ip"]], ["entity"]);
  const expected = (await sg.find("Task", [["entity", "is", link("Shot", 2)]])).map((t) => t.id);
  assert.ok(expected.length > 0);
  assert.deepEqual(tasks.map((t) => t.id), expected);
  const error = await rejection(sg.find("Task", [["entity.Shot.sg_nope", "is", "ip"]]));
  assert.ok(error instanceof ShotGridError && error.status === 400);
});

Deno.test("ShotGridClient reads and writes the custom fields and entities of a schema file", async () => {
  const schema = parseSchemaFile(
    `entities:
  Shot:
    fields:
      sg_vendor: text
      sg_episode: { type: entity, link_types: [CustomEntity01] }
  CustomEntity01:
    display_name: Episode
    fields:
      sg_air_date: date_time
`,
    "schema.yaml",
  );
  await using sim = await startSimulator({ schema, logScriptWrites: true });
  await using sg = clientFor(sim.url);
  const episode = await sg.create("CustomEntity01", {
    code: "ep01",
    project: link("Project", 1),
    sg_air_date: "2026-12-24T20:00:00Z",
  });
  await sg.update("Shot", 1, { sg_vendor: "Weta", sg_episode: link("CustomEntity01", episode.id) });
  const [shot] = await sg.find("Shot", [["sg_vendor", "is", "Weta"]], [
    "sg_vendor",
    "sg_episode",
    "sg_episode.CustomEntity01.code",
  ]);
  assert.equal(shot?.id, 1);
  assert.deepEqual(shot?.sg_episode, { type: "CustomEntity01", id: episode.id, name: "ep01" });
  assert.equal(shot?.["sg_episode.CustomEntity01.code"], "ep01");
  const entities = await sg.schemaEntityRead();
  assert.equal((entities.CustomEntity01 as { name: { value: string } }).name.value, "Episode");
  const events = await sg.find("EventLogEntry", [["event_type", "is", "Shotgun_Shot_Change"]], [
    "attribute_name",
  ]);
  assert.ok(events.some((e) => e.attribute_name === "sg_vendor"));
});

Deno.test("ShotGridClient reads the seeded Status entity", async () => {
  await using sim = await startSimulator();
  await using sg = clientFor(sim.url);
  const ip = await sg.findOne("Status", [["code", "is", "ip"]], ["name", "bg_color"]);
  assert.equal(ip?.name, "In Progress");
  assert.match(String(ip?.bg_color), /^\d+,\d+,\d+$/);
});

Deno.test("ShotGridClient.find() sends retired_only, the Python keyword, as retiredOnly", async () => {
  await using sim = await startSimulator();
  const bodies: unknown[] = [];
  const recording: typeof fetch = (input, init) => {
    if (String(input).endsWith("/_search")) bodies.push(JSON.parse(String(init?.body)));
    return fetch(input, init);
  };
  await using sg = new ShotGridClient({
    url: sim.url,
    scriptName: "sgevents",
    scriptKey: "sim-key",
    fetch: recording,
  });
  // deno-lint-ignore no-explicit-any
  await (sg as any).find("Shot", [], ["code"], { retired_only: true });
  assert.deepEqual((bodies[0] as { options?: unknown }).options, { return_only: "retired" });
});
