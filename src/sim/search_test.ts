import assert from "node:assert/strict";
import { startSimulator } from "./server.ts";
import { api3Hash, call, getToken, search } from "./testing.ts";

// deno-lint-ignore no-explicit-any
const ids = (json: any): number[] => json.data.map((r: { id: number }) => r.id);

Deno.test("_search filters EventLogEntry with array filters and each relation", async (t) => {
  await using sim = await startSimulator({ quiet: true, preload: 2000, seed: 7 });
  const token = await getToken(sim);
  const all = Array.from({ length: 2000 }, (_, i) => sim.store.getEvent(i + 1)!);
  const expect = (pred: (e: (typeof all)[number]) => boolean, limit = 500) =>
    all.filter(pred).map((e) => e.id).slice(0, limit);
  const run = async (filters: unknown[]) => {
    const r = await search(sim, token, { filters, fields: "id,event_type,entity,created_at" });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return ids(r.json);
  };
  await t.step("id greater_than / less_than / between / is / in", async () => {
    assert.deepEqual(await run([["id", "greater_than", 1990]]), expect((e) => e.id > 1990));
    assert.deepEqual(await run([["id", "less_than", 4]]), [1, 2, 3]);
    assert.deepEqual(await run([["id", "between", [10, 12]]]), [10, 11, 12]);
    assert.deepEqual(await run([["id", "between", 10, 12]]), [10, 11, 12]);
    assert.deepEqual(await run([["id", "is", 77]]), [77]);
    assert.deepEqual(await run([["id", "in", [5, 3, 99999, 1]]]), [1, 3, 5]);
    assert.deepEqual(await run([["id", "in", 8, 9]]), [8, 9]);
    assert.deepEqual(await run([["id", "greater_than", 5], ["id", "less_than", 9]]), [6, 7, 8]);
  });
  await t.step("event_type is / is_not / in / not_in / contains", async () => {
    assert.deepEqual(
      await run([["event_type", "is", "Shotgun_Shot_Change"]]),
      expect((e) => e.event_type === "Shotgun_Shot_Change"),
    );
    assert.deepEqual(
      await run([["event_type", "is_not", "Shotgun_Shot_Change"]]),
      expect((e) => e.event_type !== "Shotgun_Shot_Change"),
    );
    const types = ["Shotgun_Note_New", "Shotgun_User_Login"];
    assert.deepEqual(
      await run([["event_type", "in", types]]),
      expect((e) => types.includes(e.event_type)),
    );
    assert.deepEqual(
      await run([["event_type", "not_in", types]]),
      expect((e) => !types.includes(e.event_type)),
    );
    assert.deepEqual(
      await run([["event_type", "contains", "_task_"]]),
      expect((e) => e.event_type.includes("_Task_")),
    );
  });
  await t.step("entity links: is {type,id}, in [...], is null", async () => {
    const shot3 = (e: (typeof all)[number]) => e.entity?.type === "Shot" && e.entity.id === 3;
    assert.deepEqual(await run([["entity", "is", { type: "Shot", id: 3 }]]), expect(shot3));
    assert.deepEqual(
      await run([["project", "in", [{ type: "Project", id: 2 }]]]),
      expect((e) => e.project?.id === 2),
    );
    assert.deepEqual(await run([["entity", "is", null]]), expect((e) => e.entity === null));
  });
  await t.step("created_at greater_than", async () => {
    const cut = all[1500]!.created_at;
    const got = await run([["created_at", "greater_than", cut]]);
    assert.deepEqual(got, expect((e) => e.created_at > cut));
    assert.ok(got.length > 0);
  });
});

Deno.test("_search accepts nested api3_hash filters", async () => {
  await using sim = await startSimulator({ quiet: true, preload: 300 });
  const token = await getToken(sim);
  const filters = {
    logical_operator: "or",
    conditions: [
      { path: "id", relation: "less_than", values: [3] },
      {
        logical_operator: "and",
        conditions: [
          { path: "id", relation: "greater_than", values: [100] },
          ["id", "less_than", 103],
        ],
      },
    ],
  };
  const r = await search(sim, token, { filters }, { contentType: api3Hash });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual(ids(r.json), [1, 2, 101, 102]);
  const mismatch = await search(sim, token, { filters: [["id", "is", 1]] }, {
    contentType: api3Hash,
  });
  assert.equal(mismatch.status, 400);
});

Deno.test("_search refuses unknown fields, meta filters, bad page sizes and plain JSON", async (t) => {
  await using sim = await startSimulator({ quiet: true, preload: 10 });
  const token = await getToken(sim);
  await t.step(
    "unknown field: 400 code 103 API read() EventLogEntry.foo doesn't exist.",
    async () => {
      const r = await search(sim, token, { filters: [["foo", "is", 1]] });
      assert.equal(r.status, 400);
      assert.equal(r.json.errors[0].code, 103);
      assert.equal(r.json.errors[0].title, "API read() EventLogEntry.foo doesn't exist.");
    },
  );
  await t.step("meta cannot be filtered", async () => {
    const r = await search(sim, token, { filters: [["meta", "is", null]] });
    assert.equal(r.status, 400);
  });
  await t.step("page size 0 and 5001 are refused, 1 and 5000 accepted", async () => {
    for (const size of [0, 5001, -1, 2.5]) {
      const r = await search(sim, token, { filters: [], page: { size, number: 1 } });
      assert.equal(r.status, 400, `size ${size}`);
      assert.equal(r.json.errors[0].title, "Request Parameters invalid.");
    }
    for (const size of [1, 5000]) {
      const r = await search(sim, token, { filters: [], page: { size, number: 1 } });
      assert.equal(r.status, 200, `size ${size}`);
    }
    const q = await search(sim, token, { filters: [] }, { query: "?page[size]=6000" });
    assert.equal(q.status, 400);
  });
  await t.step("application/json gets 415 code 103", async () => {
    const r = await search(sim, token, { filters: [] }, { contentType: "application/json" });
    assert.equal(r.status, 415);
    assert.equal(r.json.errors[0].code, 103);
  });
});

Deno.test("_search pages: default 500, links.next on every page, sort desc, fields and paging from the query", async (t) => {
  await using sim = await startSimulator({ quiet: true, preload: 1203 });
  const token = await getToken(sim);
  await t.step("default page size is 500 and filters [] matches everything", async () => {
    const r = await search(sim, token, { filters: [] });
    assert.deepEqual(ids(r.json), Array.from({ length: 500 }, (_, i) => i + 1));
  });
  await t.step("links.next is present on the last and on an empty page", async () => {
    const last = await search(sim, token, { filters: [], page: { size: 500, number: 3 } });
    assert.equal(last.json.data.length, 203);
    assert.match(last.json.links.next, /page%5Bnumber%5D=4&page%5Bsize%5D=500/);
    const empty = await search(sim, token, { filters: [["id", "greater_than", 5000]] });
    assert.deepEqual(empty.json.data, []);
    assert.ok(empty.json.links.next);
  });
  await t.step("sort -id is descending; paging applies after the sort", async () => {
    const r = await search(sim, token, { filters: [], sort: "-id", page: { size: 3, number: 2 } });
    assert.deepEqual(ids(r.json), [1200, 1199, 1198]);
  });
  await t.step("sort and fields from the query string; CamelCase path", async () => {
    const r = await search(sim, token, { filters: [["id", "less_than", 4]] }, {
      type: "EventLogEntry",
      query: "?sort=-id&fields=event_type,entity",
    });
    assert.deepEqual(ids(r.json), [3, 2, 1]);
    assert.deepEqual(Object.keys(r.json.data[0].attributes), ["event_type"]);
    assert.deepEqual(Object.keys(r.json.data[0].relationships), ["entity"]);
    assert.equal(r.json.data[0].links.self, "/api/v1/entity/event_log_entries/3");
  });
  await t.step("fields as an array and *", async () => {
    const a = await search(sim, token, {
      filters: [["id", "is", 1]],
      fields: ["meta", "created_at"],
    });
    assert.deepEqual(Object.keys(a.json.data[0].attributes).sort(), ["created_at", "meta"]);
    assert.match(a.json.data[0].attributes.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const star = await search(sim, token, { filters: [["id", "is", 1]], fields: "*" });
    assert.ok("event_type" in star.json.data[0].attributes);
    assert.ok("user" in star.json.data[0].relationships);
  });
  await t.step("sorting on another field", async () => {
    const r = await search(sim, token, {
      filters: [["id", "less_than", 50]],
      sort: "event_type,-id",
      fields: "event_type",
      page: { size: 49 },
    });
    const got = r.json.data.map((
      d: { id: number; attributes: { event_type: string } },
    ) => [d.attributes.event_type, d.id]);
    const want = [...got].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : b[1] - a[1]);
    assert.deepEqual(got, want);
    assert.equal(got.length, 49);
  });
});

Deno.test("GET /entity/{type}/{id} reads one record; unknown ids answer 404 code 104", async () => {
  await using sim = await startSimulator({ quiet: true, preload: 5 });
  const token = await getToken(sim);
  const ok = await call(sim, "/api/v1/entity/event_log_entries/4?fields=event_type,user", {
    token,
  });
  assert.equal(ok.status, 200);
  assert.equal(ok.json.data.id, 4);
  assert.equal(ok.json.data.type, "EventLogEntry");
  assert.deepEqual(Object.keys(ok.json.data.attributes), ["event_type"]);
  assert.equal(ok.json.data.relationships.user.data.type, "HumanUser");
  const missing = await call(sim, "/api/v1/entity/event_log_entries/6", { token });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.errors[0].code, 104);
  const shot = await call(sim, "/api/v1/entity/Shot/1?fields=code,project,assets", { token });
  assert.equal(shot.json.data.attributes.code, "sh010");
  assert.deepEqual(shot.json.data.relationships.project.data, {
    id: 1,
    name: "demo",
    type: "Project",
  });
  assert.deepEqual(shot.json.data.relationships.assets.data, []);
});

Deno.test("GET /entity/{type} lists with filter[field]=value equality", async () => {
  await using sim = await startSimulator({ quiet: true, preload: 100 });
  const token = await getToken(sim);
  const r = await call(sim, "/api/v1/entity/shots?filter[code]=sh030&fields=code", { token });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.data.map((d: { attributes: { code: string } }) => d.attributes.code), [
    "sh030",
  ]);
  const events = await call(sim, "/api/v1/entity/event_log_entries?filter[id]=42&fields=id", {
    token,
  });
  assert.deepEqual(ids(events.json), [42]);
  const paged = await call(
    sim,
    "/api/v1/entity/event_log_entries?sort=-id&page[size]=2&page[number]=2",
    { token },
  );
  assert.deepEqual(ids(paged.json), [98, 97]);
  assert.ok(paged.json.links.next);
  const bad = await call(sim, "/api/v1/entity/event_log_entries?filter[nope]=1", { token });
  assert.equal(bad.status, 400);
});
