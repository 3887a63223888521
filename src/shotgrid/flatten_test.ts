import assert from "node:assert/strict";
import { flattenEvents, flattenRecord } from "./flatten.ts";

const wireEvent = {
  type: "EventLogEntry",
  id: 545175,
  attributes: {
    event_type: "Shotgun_Shot_Change",
    attribute_name: "sg_status_list",
    session_uuid: null,
    created_at: "2026-01-21T19:47:33Z",
    meta: { type: "attribute_change", old_value: "wtg", new_value: "ip" },
  },
  relationships: {
    entity: {
      data: { id: 1246, name: "sh010", type: "Shot" },
      links: { related: "/api/v1/entity/shots/1246" },
    },
    user: { data: { id: 88, name: "Jo", type: "HumanUser" } },
    project: { data: null },
  },
  links: { self: "/api/v1/entity/event_log_entries/545175" },
};

Deno.test("flattenRecord() folds attributes and relationships into one flat record", () => {
  assert.deepEqual(flattenRecord(wireEvent), {
    type: "EventLogEntry",
    id: 545175,
    event_type: "Shotgun_Shot_Change",
    attribute_name: "sg_status_list",
    session_uuid: null,
    created_at: "2026-01-21T19:47:33Z",
    meta: { type: "attribute_change", old_value: "wtg", new_value: "ip" },
    entity: { id: 1246, name: "sh010", type: "Shot" },
    user: { id: 88, name: "Jo", type: "HumanUser" },
    project: null,
  });
});

Deno.test("flattenRecord() turns multi-entity relationships into arrays of links", () => {
  const record = flattenRecord({
    type: "Playlist",
    id: 3,
    attributes: { code: "dailies" },
    relationships: {
      versions: { data: [{ type: "Version", id: 7, name: "v7" }, { type: "Version", id: 8 }] },
      notes: { data: [] },
    },
  });
  assert.deepEqual(record.versions, [{ type: "Version", id: 7, name: "v7" }, {
    type: "Version",
    id: 8,
  }]);
  assert.deepEqual(record.notes, []);
});

Deno.test("flattenRecord() decodes a meta sent as a JSON string", () => {
  const record = flattenRecord({
    type: "EventLogEntry",
    id: 1,
    attributes: { meta: '{"type":"new_entity","entity_id":7}' },
  });
  assert.deepEqual(record.meta, { type: "new_entity", entity_id: 7 });
});

Deno.test("flattenRecord() rejects a record without type and id", () => {
  assert.throws(() => flattenRecord({ attributes: {} } as never), { name: "TypeError" });
});

Deno.test("flattenEvents() flattens a page and fills missing event fields with null", () => {
  const events = flattenEvents({
    data: [wireEvent, { type: "EventLogEntry", id: 2, attributes: { event_type: "X" } }],
    links: { next: "..." },
  });
  assert.equal(events.length, 2);
  assert.deepEqual(events[0]?.entity, { id: 1246, name: "sh010", type: "Shot" });
  assert.equal(events[1]?.id, 2);
  for (const field of ["attribute_name", "meta", "entity", "user", "project", "session_uuid"]) {
    assert.equal(events[1]?.[field], null, field);
  }
});

Deno.test("flattenEvents() rejects a body without a data array", () => {
  assert.throws(() => flattenEvents({ errors: [] }), { name: "TypeError", message: /no data/ });
  assert.throws(() => flattenEvents(null), { name: "TypeError" });
});
