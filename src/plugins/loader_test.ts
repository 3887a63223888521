import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { PluginLoadError } from "./errors.ts";
import { bundlePlugin, hashPlugin } from "./loader.ts";
import { tempDir, writeFiles } from "./test_helpers.ts";

async function rejectsWith(
  promise: Promise<unknown>,
  ...parts: string[]
): Promise<PluginLoadError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PluginLoadError, String(error));
    for (const part of parts) assert.ok(error.message.includes(part), error.message);
    return error;
  }
  throw new assert.AssertionError({ message: "expected a PluginLoadError" });
}

Deno.test("bundlePlugin() strips types and returns an importable data: URL", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, {
    "typed.ts": `
      import type { Registrar } from "./not_there.ts";
      interface Point { x: number; y: number }
      type Pair<T> = [T, T];
      export function add(a: number, b: number): number { return a + b; }
      export const pair: Pair<string> = ["a", "b"] as const satisfies readonly string[];
      export function registerCallbacks(_reg: Registrar): void {}
      export const origin: Point = { x: 0, y: 0 };
    `,
  });
  const bundle = await bundlePlugin(file);
  assert.ok(bundle.url.startsWith("data:text/javascript;base64,"));
  assert.deepEqual(bundle.files, [file]);
  const module = await import(bundle.url);
  assert.equal(module.add(2, 3), 5);
  assert.deepEqual(module.pair, ["a", "b"]);
  assert.deepEqual(module.origin, { x: 0, y: 0 });
});

Deno.test("bundlePlugin() loads nested relative helpers, re-exports and dynamic imports", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, {
    "main.ts": `
      import { greet } from "./lib/greet.ts";
      export { shout } from "./lib/shout.ts";
      import data from "./lib/data.json" with { type: "json" };
      import { basename } from "node:path";
      export const message: string = greet("world");
      export const base = basename("/a/b.txt");
      export const answer = data.answer;
      export async function later(): Promise<string> {
        return (await import("./lib/late.ts")).late;
      }
    `,
    "lib/greet.ts": `
      import { upper } from "../util/upper.ts";
      export const greet = (name: string): string => "hello " + upper(name);
    `,
    "lib/shout.ts":
      `import { upper } from "../util/upper.ts"; export const shout = (s: string) => upper(s) + "!";`,
    "util/upper.ts":
      `export let calls = 0; export const upper = (s: string): string => { calls++; return s.toUpperCase(); };`,
    "lib/late.ts": `export const late: string = "late";`,
    "lib/data.json": `{ "answer": 42 }`,
  });
  const bundle = await bundlePlugin(file);
  assert.equal(bundle.files.length, 6);
  const module = await import(bundle.url);
  assert.equal(module.message, "hello WORLD");
  assert.equal(module.shout("hey"), "HEY!");
  assert.equal(module.base, "b.txt");
  assert.equal(module.answer, 42);
  assert.equal(await module.later(), "late");
});

Deno.test("bundlePlugin() gives each module its real import.meta url, filename and dirname", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, {
    "meta.ts": `
      export { where as helperWhere } from "./sub/helper.ts";
      export const url: string = import.meta.url;
      export const filename = import.meta.filename;
      export const dirname = import.meta.dirname;
      export const beside = import.meta.resolve("./data.txt");
      export const text = Deno.readTextFileSync(new URL("./data.txt", import.meta.url));
    `,
    "sub/helper.ts": `export const where = import.meta.url;`,
    "data.txt": "beside the plugin",
  });
  const module = await import((await bundlePlugin(file)).url);
  assert.equal(module.url, pathToFileURL(file).href);
  assert.equal(module.filename, file);
  assert.equal(module.dirname, dir.path);
  assert.equal(module.beside, pathToFileURL(join(dir.path, "data.txt")).href);
  assert.equal(module.text, "beside the plugin");
  assert.equal(module.helperWhere, pathToFileURL(join(dir.path, "sub/helper.ts")).href);
});

Deno.test("bundlePlugin() rejects an import cycle, naming it", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, {
    "cyclic.ts": `import "./a.ts"; export function registerCallbacks() {}`,
    "a.ts": `import "./b.ts"; export const a = 1;`,
    "b.ts": `import "./a.ts"; export const b = 2;`,
  });
  await rejectsWith(
    bundlePlugin(file),
    'Cannot load plugin "cyclic.ts"',
    "its imports form a cycle: a.ts -> b.ts -> a.ts",
  );
});

Deno.test("bundlePlugin() rejects enums and namespaces with the file and line", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, {
    "enums.ts": `import { Color } from "./colors.ts";\nexport const c = Color.Red;\n`,
    "colors.ts": `// colors\n\nexport enum Color { Red, Green }\n`,
    "spaces.ts": `namespace N { export const x = 1; }\nexport const y = N.x;\n`,
  });
  const error = await rejectsWith(
    bundlePlugin(file),
    'Cannot load plugin "enums.ts": colors.ts:3: TypeScript enum is not supported',
    "as const",
  );
  assert.equal(error.line, 3);
  assert.equal(error.module, join(dir.path, "colors.ts"));
  await rejectsWith(bundlePlugin(join(dir.path, "spaces.ts")), "spaces.ts:1:", "namespace");
});

Deno.test("bundlePlugin() reports syntax errors and missing helpers", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, {
    "broken.ts": `export const x: = ;\n`,
    "missing.ts": `\nimport { h } from "./gone.ts";\nexport const y = h;\n`,
  });
  await rejectsWith(bundlePlugin(file), 'Cannot load plugin "broken.ts": broken.ts:1:');
  await rejectsWith(
    bundlePlugin(join(dir.path, "missing.ts")),
    'cannot read gone.ts (imported as "./gone.ts" by missing.ts:2)',
  );
});

Deno.test("hashPlugin() covers helpers' content, not mtimes, and matches the bundle hash", async () => {
  await using dir = await tempDir();
  const file = await writeFiles(dir.path, {
    "p.ts": `import { v } from "./h.ts"; export const value = v;`,
    "h.ts": `export const v = 1;`,
  });
  const first = await hashPlugin(file);
  assert.match(first, /^[0-9a-f]{64}$/);
  assert.equal((await bundlePlugin(file)).hash, first);

  await Deno.utime(join(dir.path, "h.ts"), new Date(2000, 0, 1), new Date(2000, 0, 1));
  assert.equal(await hashPlugin(file), first, "a touch changes nothing");

  await Deno.writeTextFile(join(dir.path, "h.ts"), `export const v = 2;`);
  const second = await hashPlugin(file);
  assert.notEqual(second, first, "a helper's change changes the hash");

  await Deno.writeTextFile(join(dir.path, "h.ts"), `export const v = 1;`);
  assert.equal(await hashPlugin(file), first, "restoring the content restores the hash");

  await Deno.remove(join(dir.path, "h.ts"));
  const broken = await hashPlugin(file);
  assert.notEqual(broken, first, "a missing helper still hashes, differently");
});
