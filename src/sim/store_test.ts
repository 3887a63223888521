import assert from "node:assert/strict";
import { startSimulator } from "./server.ts";
import type { Simulator } from "./server.ts";
import { call, getToken, search } from "./testing.ts";

async function humanToken(sim: Simulator, sessionUuid?: string): Promise<string> {
  const body = new URLSearchParams({ grant_type: "password", username: "jo", password: "jo-pass" });
  // The REST API takes the session at the token grant; the token's writes log it.
  if (sessionUuid !== undefined) body.set("session_uuid", sessionUuid);
  const res = await fetch(`${sim.url}/api/v1/auth/access_token`, { method: "POST", body });
  return (await res.json()).access_token;
}

/** Events logged after `after`, read back over HTTP. */
async function eventsAfter(sim: Simulator, token: string, after: number) {
  const r = await search(sim, token, { filters: [["id", "greater_than", after]], fields: "*" });
  assert.equal(r.status, 200);
  // deno-lint-ignore no-explicit-any
  return r.json.data as any[];
}

Deno.test("POST /entity/{type} logs a _New row plus an in_create _Change row per populated field", async () => {
  await using sim = await startSimulator({ quiet: true });
  const token = await humanToken(sim, "abc-123");
  const before = sim.store.lastEventId;
  const r = await call(sim, "/api/v1/entity/versions", {
    token,
    body: {
      code: "sh010_v001",
      entity: { type: "Shot", id: 1 },
      project: { type: "Project", id: 1 },
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  assert.equal(r.json.data.type, "Version");
  assert.equal(r.json.data.attributes.code, "sh010_v001");
  assert.deepEqual(r.json.data.relationships.entity.data, { id: 1, name: "sh010", type: "Shot" });
  const versionId = r.json.data.id;
  const rows = await eventsAfter(sim, token, before);
  assert.deepEqual(
    rows.map((e) => [e.attributes.event_type, e.attributes.attribute_name]),
    [
      ["Shotgun_Version_New", null],
      ["Shotgun_Version_Change", "code"],
      ["Shotgun_Version_Change", "sg_status_list"],
      ["Shotgun_Version_Change", "entity"],
      ["Shotgun_Version_Change", "project"],
    ],
  );
  assert.deepEqual(rows[0].attributes.meta, {
    type: "new_entity",
    entity_type: "Version",
    entity_id: versionId,
  });
  for (const e of rows) {
    assert.equal(e.attributes.session_uuid, "abc-123");
    assert.deepEqual(e.relationships.user.data, { id: 1, name: "Jo Bloggs", type: "HumanUser" });
    assert.deepEqual(e.relationships.project.data, { id: 1, name: "demo", type: "Project" });
    assert.deepEqual(e.relationships.entity.data, {
      id: versionId,
      name: "sh010_v001",
      type: "Version",
    });
  }
  assert.deepEqual(rows[1].attributes.meta, {
    type: "attribute_change",
    attribute_name: "code",
    entity_type: "Version",
    entity_id: versionId,
    field_data_type: "text",
    old_value: null,
    new_value: "sh010_v001",
    in_create: true,
  });
  assert.deepEqual(rows[3].attributes.meta.new_value, { type: "Shot", id: 1, name: "sh010" });
});

Deno.test("PUT /entity/{type}/{id} logs attribute changes with old and new values, only for changed fields", async () => {
  await using sim = await startSimulator({ quiet: true });
  const token = await humanToken(sim);
  const before = sim.store.lastEventId;
  const r = await call(sim, "/api/v1/entity/shots/3", {
    method: "PUT",
    token,
    body: { sg_status_list: "ip", code: "sh030" },
  });
  assert.equal(r.status, 200);
  assert.equal(r.json.data.attributes.sg_status_list, "ip");
  const rows = await eventsAfter(sim, token, before);
  assert.equal(rows.length, 1, "an unchanged code is not logged");
  assert.equal(rows[0].attributes.event_type, "Shotgun_Shot_Change");
  assert.equal(rows[0].attributes.session_uuid, null);
  assert.deepEqual(rows[0].attributes.meta, {
    type: "attribute_change",
    attribute_name: "sg_status_list",
    entity_type: "Shot",
    entity_id: 3,
    field_data_type: "status_list",
    old_value: "wtg",
    new_value: "ip",
    in_create: false,
  });
  const missing = await call(sim, "/api/v1/entity/shots/999", {
    method: "PUT",
    token,
    body: { code: "x" },
  });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.errors[0].code, 104);
  const badField = await call(sim, "/api/v1/entity/shots/3", {
    method: "PUT",
    token,
    body: { nope: 1 },
  });
  assert.equal(badField.status, 400);
});

Deno.test("PUT on a multi-entity field logs added and removed, without old/new", async () => {
  await using sim = await startSimulator({ quiet: true });
  const token = await humanToken(sim);
  const a = (id: number) => ({ type: "Asset", id });
  await call(sim, "/api/v1/entity/shots/1", {
    method: "PUT",
    token,
    body: { assets: [a(1), a(2)] },
  });
  const before = sim.store.lastEventId;
  await call(sim, "/api/v1/entity/shots/1", {
    method: "PUT",
    token,
    body: { assets: [a(2), a(3)] },
  });
  const rows = await eventsAfter(sim, token, before);
  assert.equal(rows.length, 1);
  const meta = rows[0].attributes.meta;
  assert.equal(meta.field_data_type, "multi_entity");
  assert.deepEqual(meta.added, [{ type: "Asset", id: 3, name: "car_1" }]);
  assert.deepEqual(meta.removed, [{ type: "Asset", id: 1, name: "hero_1" }]);
  assert.equal("old_value" in meta, false);
  assert.equal(meta.in_create, false);
  const shot = await call(sim, "/api/v1/entity/shots/1?fields=assets", { token });
  assert.deepEqual(shot.json.data.relationships.assets.data.map((l: { id: number }) => l.id), [
    2,
    3,
  ]);
});

Deno.test("DELETE retires and POST ?revive=true revives, each logging its row", async () => {
  await using sim = await startSimulator({ quiet: true });
  const token = await humanToken(sim);
  const before = sim.store.lastEventId;
  const del = await call(sim, "/api/v1/entity/shots/5", { method: "DELETE", token });
  assert.equal(del.status, 204);
  assert.equal(del.json, null);
  assert.equal((await call(sim, "/api/v1/entity/shots/5", { token })).status, 404);
  const retirement = (await eventsAfter(sim, token, before))[0];
  assert.equal(retirement.attributes.event_type, "Shotgun_Shot_Retirement");
  assert.equal(retirement.attributes.meta.type, "entity_retirement");
  assert.equal(retirement.attributes.meta.display_name, "sh050");
  assert.match(retirement.attributes.meta.retirement_date, /Z$/);
  assert.equal(retirement.relationships.entity.data, null, "a retired target reads as null");
  const rev = await call(sim, "/api/v1/entity/shots/5?revive=true", { method: "POST", token });
  assert.equal(rev.status, 200);
  const rows = await eventsAfter(sim, token, before);
  assert.equal(rows.length, 2);
  assert.equal(rows[1].attributes.event_type, "Shotgun_Shot_Revival");
  assert.deepEqual(rows[1].attributes.meta, {
    type: "entity_revival",
    entity_type: "Shot",
    entity_id: 5,
  });
  assert.deepEqual(rows[0].relationships.entity.data, { id: 5, name: "sh050", type: "Shot" });
});

Deno.test("SimStore.uploadThumbnail() logs the is_transient true then false pair", async () => {
  await using sim = await startSimulator({ quiet: true });
  const token = await getToken(sim);
  const before = sim.store.lastEventId;
  const first = sim.store.uploadThumbnail("Shot", 2);
  const second = sim.store.uploadThumbnail("Shot", 2);
  const metas = (await eventsAfter(sim, token, before)).map((e) => e.attributes.meta);
  assert.deepEqual(
    metas.map((
      m,
    ) => [m.attribute_name, m.field_data_type, m.old_value, m.new_value, m.is_transient]),
    [
      ["image", "image", null, first, true],
      ["image", "image", null, first, false],
      ["image", "image", first, second, true],
      ["image", "image", null, second, false],
    ],
  );
});

Deno.test("A script's own writes are logged only when its ApiUser has event logging on", async () => {
  {
    await using sim = await startSimulator({ quiet: true });
    const token = await getToken(sim);
    const before = sim.store.lastEventId;
    const r = await call(sim, "/api/v1/entity/shots/1", {
      method: "PUT",
      token,
      body: { sg_status_list: "ip" },
    });
    assert.equal(r.status, 200);
    assert.equal(sim.store.lastEventId, before);
  }
  {
    await using sim = await startSimulator({ quiet: true, logScriptWrites: true });
    const token = await getToken(sim);
    await call(sim, "/api/v1/entity/shots/1", {
      method: "PUT",
      token,
      body: { sg_status_list: "ip" },
    });
    const event = sim.store.getEvent(sim.store.lastEventId);
    assert.deepEqual(event?.user, { type: "ApiUser", id: 1, name: "sgevents" });
  }
});

Deno.test("SimStore.begin() allocates ids now and shows them at commit, with the write's created_at", async () => {
  let now = Date.UTC(2026, 0, 21, 19, 47, 33);
  await using sim = await startSimulator({ quiet: true, clock: () => now });
  const token = await getToken(sim);
  const tx = sim.store.begin();
  tx.update("Shot", 1, { sg_status_list: "ip" });
  now += 10_000;
  sim.store.update("Shot", 2, { sg_status_list: "fin" });
  const [late] = tx.ids;
  const visible = await eventsAfter(sim, token, 0);
  assert.deepEqual(visible.map((e) => e.id), [late! + 1], "the gap is visible");
  assert.equal(sim.store.getEvent(late!), undefined);
  tx.commit();
  const filled = await eventsAfter(sim, token, 0);
  assert.deepEqual(filled.map((e) => e.id), [late!, late! + 1]);
  assert.equal(filled[0].attributes.created_at, "2026-01-21T19:47:33Z");
  assert.equal(filled[1].attributes.created_at, "2026-01-21T19:47:43Z");
});

Deno.test("SimStore.allocateLostIds() and Transaction.abandon() leave ids that never appear", async () => {
  await using sim = await startSimulator({ quiet: true, preload: 3 });
  const token = await getToken(sim);
  const lost = sim.store.allocateLostIds(2);
  const tx = sim.store.begin();
  tx.update("Shot", 1, { sg_status_list: "ip" });
  tx.abandon();
  sim.store.update("Shot", 1, { sg_status_list: "fin" });
  assert.deepEqual(lost, [4, 5]);
  assert.deepEqual(tx.ids, [6]);
  const ids = (await eventsAfter(sim, token, 0)).map((e) => e.id);
  assert.deepEqual(ids, [1, 2, 3, 7]);
  assert.equal(sim.store.lastEventId, 7);
  assert.equal(sim.store.eventCount, 4);
  assert.throws(() => tx.update("Shot", 1, { sg_status_list: "rev" }), /abandoned/);
});
