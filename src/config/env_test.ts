import assert from "node:assert/strict";
import { substituteEnv, substituteString } from "./env.ts";

Deno.test("substituteString() replaces variables, defaults and $$", () => {
  const env = { HOST: "sg.example", EMPTY: "" };
  const cases: [string, string][] = [
    ["https://${HOST}/", "https://sg.example/"],
    ["${MISSING:-fallback}", "fallback"],
    ["${EMPTY:-fallback}", "fallback"],
    ["${HOST:-fallback}", "sg.example"],
    ["${MISSING:-}", ""],
    ["cost $$5 and $HOME", "cost $5 and $HOME"],
    ["$${HOST}", "${HOST}"],
  ];
  for (const [input, expected] of cases) {
    assert.deepEqual(substituteString(input, env), { value: expected }, input);
  }
});

Deno.test("substituteString() reports a missing variable and malformed references", () => {
  assert.deepEqual(substituteString("${SG_KEY}", {}), {
    problem: 'environment variable "SG_KEY" is not set; set it or write ${SG_KEY:-default}',
  });
  assert.match((substituteString("${BAD NAME}", {}) as { problem: string }).problem, /not a valid/);
  assert.match((substituteString("x ${OPEN", {}) as { problem: string }).problem, /unclosed/);
});

Deno.test("substituteEnv() substitutes string values only and reports paths", () => {
  const result = substituteEnv(
    { a: { b: ["${X}", 5, "${NOPE}"] }, "${X}": true },
    { X: "x" },
  );
  assert.deepEqual(result.value, { a: { b: ["x", 5, "${NOPE}"] }, "${X}": true });
  assert.deepEqual(result.problems.map((problem) => problem.path), [["a", "b", 2]]);
});
