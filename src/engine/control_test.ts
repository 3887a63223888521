import assert from "node:assert/strict";
import { parseRequest } from "./control.ts";

Deno.test("parseRequest() checks request lines as strictly as the CLI", () => {
  const ok = parseRequest(`{"id":"r1","op":"skip","plugins":["a"],"to":545175}`);
  assert.deepEqual(ok, { id: "r1", op: "skip", plugins: ["a"], to: 545175 });
  assert.deepEqual(parseRequest(`{"id":"r2","op":"resume","plugins":"all"}`), {
    id: "r2",
    op: "resume",
    plugins: "all",
  });
  const refused: [string, RegExp][] = [
    [`{"id":"r","op":"skip","plugins":["a"],"to":-3}`, /"to" must be .* not -3/],
    [`{"id":"r","op":"skip","plugins":["a"],"to":15.5}`, /not 15.5/],
    [`{"id":"r","op":"skip","plugins":["a"],"to":"1e3"}`, /not "1e3"/],
    [`{"id":"r","op":"skip","plugins":["a"],"to":9007199254740993}`, /"to" must be/],
    [`{"id":"r","op":"explode","plugins":["a"]}`, /"op" must be one of/],
    [`{"id":"r","op":"resume","plugins":[]}`, /"plugins" must be/],
    [`{"op":"resume","plugins":"all"}`, /"id" must be/],
    [`{"id":"r","op":"skip","plugins":"all","force":"yes"}`, /"force" must be/],
    [`not json`, /not JSON/],
  ];
  for (const [line, reason] of refused) {
    const result = parseRequest(line);
    assert.equal(typeof result, "string", line);
    assert.match(result as string, reason, line);
  }
});

Deno.test("parseRequest() takes pause, replay and retry-failed, and checks their ids", () => {
  assert.deepEqual(parseRequest(`{"id":"p","op":"pause","plugins":["a"]}`), {
    id: "p",
    op: "pause",
    plugins: ["a"],
  });
  assert.deepEqual(parseRequest(`{"id":"r","op":"replay","plugins":["a"],"from":3,"to":9}`), {
    id: "r",
    op: "replay",
    plugins: ["a"],
    from: 3,
    to: 9,
  });
  assert.deepEqual(parseRequest(`{"id":"f","op":"retry-failed","plugins":["a"],"eventId":7}`), {
    id: "f",
    op: "retry-failed",
    plugins: ["a"],
    eventId: 7,
  });
  const refused: [string, RegExp][] = [
    [`{"id":"r","op":"replay","plugins":["a"],"from":9,"to":3}`, /with from <= to/],
    [`{"id":"r","op":"replay","plugins":["a"],"from":0,"to":3}`, /with from <= to/],
    [`{"id":"r","op":"replay","plugins":["a"],"to":3}`, /"from" and "to"/],
    [`{"id":"r","op":"replay","plugins":"all","from":1,"to":3}`, /must name one plugin/],
    [`{"id":"r","op":"replay","plugins":["a"],"from":1,"to":3,"dryRun":1}`, /"dryRun"/],
    [`{"id":"r","op":"retry-failed","plugins":["a","b"]}`, /must name one plugin/],
    [`{"id":"r","op":"retry-failed","plugins":["a"],"eventId":-1}`, /"eventId" must be/],
  ];
  for (const [line, reason] of refused) {
    const result = parseRequest(line);
    assert.equal(typeof result, "string", line);
    assert.match(result as string, reason, line);
  }
});
