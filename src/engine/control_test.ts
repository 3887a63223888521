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
