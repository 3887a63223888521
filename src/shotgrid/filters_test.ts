import assert from "node:assert/strict";
import { arrayContentType, encodeFilters, hashContentType } from "./filters.ts";

Deno.test("encodeFilters() sends a flat list of conditions as api3_array", () => {
  const encoded = encodeFilters([["id", "greater_than", 5], ["event_type", "is", "X"]]);
  assert.deepEqual(encoded.contentType, arrayContentType);
  assert.deepEqual(encoded.filters, [["id", "greater_than", 5], ["event_type", "is", "X"]]);
});

Deno.test("encodeFilters() folds extra values into one array (between, in)", () => {
  const encoded = encodeFilters([["id", "between", 1, 9], ["id", "in", [1, 2]]]);
  assert.deepEqual(encoded.filters, [["id", "between", [1, 9]], ["id", "in", [1, 2]]]);
});

Deno.test("encodeFilters() converts the Python filter_operator form to api3_hash", () => {
  const encoded = encodeFilters({
    filter_operator: "any",
    filters: [
      ["id", "is", 1],
      { filter_operator: "all", filters: [["id", "greater_than", 5], ["id", "less_than", 9]] },
    ],
  });
  assert.deepEqual(encoded.contentType, hashContentType);
  assert.deepEqual(encoded.filters, {
    logical_operator: "or",
    conditions: [
      ["id", "is", 1],
      { logical_operator: "and", conditions: [["id", "greater_than", 5], ["id", "less_than", 9]] },
    ],
  });
});

Deno.test("encodeFilters() passes the REST logical_operator form through", () => {
  const group = { logical_operator: "or", conditions: [["id", "is", 1], ["id", "is", 2]] } as const;
  assert.deepEqual(encodeFilters(group), { contentType: hashContentType, filters: group });
});

Deno.test("encodeFilters() wraps a list holding a group in an and-group", () => {
  const encoded = encodeFilters([
    ["id", "greater_than", 1],
    { filter_operator: "any", filters: [["id", "is", 2]] },
  ]);
  assert.deepEqual(encoded.contentType, hashContentType);
  assert.deepEqual(encoded.filters, {
    logical_operator: "and",
    conditions: [["id", "greater_than", 1], {
      logical_operator: "or",
      conditions: [["id", "is", 2]],
    }],
  });
});

Deno.test("encodeFilters() rejects malformed conditions and operators", () => {
  assert.throws(() => encodeFilters([["id", "is"] as never]), {
    name: "TypeError",
    message: /\[field, relation, value\]/,
  });
  assert.throws(() => encodeFilters({ filter_operator: "some" as never, filters: [] }), {
    name: "TypeError",
    message: /filter_operator/,
  });
  assert.throws(() => encodeFilters({ filter_operator: "any" }), {
    name: "TypeError",
    message: /no conditions/,
  });
});
