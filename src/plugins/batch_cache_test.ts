import assert from "node:assert/strict";
import { serializeEvents } from "./batch_cache.ts";
import { event } from "./test_helpers.ts";

const parse = (bytes: Uint8Array<SharedArrayBuffer>) => JSON.parse(new TextDecoder().decode(bytes));

Deno.test("serializeEvents() gives the JSON of the chosen events in shared memory, cached per page array", () => {
  const page = [event(1), event(2), event(3)];
  const all = serializeEvents(page, [0, 1, 2]);
  assert.ok(all.buffer instanceof SharedArrayBuffer);
  assert.deepEqual(parse(all), page);
  assert.deepEqual(parse(serializeEvents(page, [0, 2])), [page[0], page[2]]);
  assert.deepEqual(parse(serializeEvents(page, [])), []);
  // Cached: a page changed against the rules still gives its first JSON (the same bytes).
  (page[1] as { id: number }).id = 99;
  assert.equal(serializeEvents(page, [0, 1, 2]), all);
  assert.equal(parse(serializeEvents([...page], [1]))[0].id, 99);
});

Deno.test("serializeEvents() encodes text that is not ASCII whole", () => {
  const page = [event(1, { description: "é".repeat(5000) + " 漢字 🎬" } as never)];
  assert.deepEqual(parse(serializeEvents(page, [0])), page);
  assert.deepEqual(parse(serializeEvents([...page, event(2)], [0])), page);
});
