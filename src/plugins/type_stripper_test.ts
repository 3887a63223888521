import assert from "node:assert/strict";
import { TypeStripper } from "./type_stripper.ts";

Deno.test("TypeStripper runs one child per hold and none after it", async () => {
  const pids = new Set<number>();
  const stripper = new TypeStripper({ onSpawn: (pid) => pids.add(pid) });
  const answers = await stripper.hold(() =>
    Promise.all([
      stripper.prepare({ file: "/a.ts", code: "export const a: number = 1;", typescript: true }),
      stripper.prepare({
        file: "/b.js",
        code: 'import "./a.ts"; export const b = 2;',
        typescript: false,
      }),
    ])
  );
  assert.deepEqual(answers[0], { code: "export const a         = 1;", imports: [] });
  assert.deepEqual(answers[1], {
    code: 'import "./a.ts"; export const b = 2;',
    imports: [{ type: "static", specifier: "./a.ts", start: 8, end: 14, glob: false }],
  });
  assert.deepEqual(pids.size, 1);
  for (const pid of pids) assert.ok(!alive(pid), `the stripper child ${pid} outlived its hold`);
});

Deno.test("TypeStripper reports what it cannot strip or lex, with the line", async () => {
  const stripper = new TypeStripper();
  const strip = await stripper.prepare({
    file: "/e.ts",
    code: "const x = 1;\nenum Color { Red }\n",
    typescript: true,
  });
  assert.ok("error" in strip && strip.error.stage === "strip");
  assert.deepEqual([strip.error.unsupported, strip.error.line], [true, 2]);
  const lex = await stripper.prepare({ file: "/l.js", code: "import {", typescript: false });
  assert.ok("error" in lex && lex.error.stage === "lex");
});

function alive(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}
