import assert from "node:assert/strict";
import { join } from "node:path";
import { discoverPlugins, type DiscoveryProblem } from "./discovery.ts";
import { tempDir, writeFiles } from "./test_helpers.ts";

const plugin = "export function registerCallbacks() {}\n";

Deno.test("discoverPlugins() lists folders in config order and files sorted by name", async () => {
  await using dir = await tempDir();
  const first = join(dir.path, "first");
  const second = join(dir.path, "second");
  await writeFiles(first, {
    "b.ts": plugin,
    "a.js": plugin,
    "B.ts": plugin,
    "_private.ts": plugin,
    ".hidden.ts": plugin,
    "notes.md": "not a plugin",
    "data.json": "{}",
    "sub/nested.ts": plugin,
  });
  await writeFiles(second, { "0_first.ts": plugin, "z.ts": plugin });
  const problems: DiscoveryProblem[] = [];
  const found = await discoverPlugins([second, first], { onProblem: (p) => problems.push(p) });
  assert.deepEqual(found.map((p) => p.name), ["0_first", "z", "B", "a", "b"]);
  assert.deepEqual(found.map((p) => p.file), [
    join(second, "0_first.ts"),
    join(second, "z.ts"),
    join(first, "B.ts"),
    join(first, "a.js"),
    join(first, "b.ts"),
  ]);
  for (const p of found) assert.match(p.hash, /^[0-9a-f]{64}$/);
  assert.deepEqual(problems, []);
});

Deno.test("discoverPlugins() reports duplicate names and missing folders without throwing", async () => {
  await using dir = await tempDir();
  const first = join(dir.path, "first");
  const second = join(dir.path, "second");
  await writeFiles(first, { "notify.ts": plugin, "same.js": plugin, "same.ts": plugin });
  await writeFiles(second, { "notify.ts": plugin, "other.ts": plugin });
  const gone = join(dir.path, "network_share");
  const problems: DiscoveryProblem[] = [];
  const found = await discoverPlugins([first, gone, second], {
    onProblem: (p) => problems.push(p),
  });
  assert.deepEqual(found.map((p) => p.file), [
    join(first, "notify.ts"),
    join(first, "same.js"),
    join(second, "other.ts"),
  ]);
  assert.deepEqual(problems.map((p) => p.reason), [
    `Cannot load plugin "same.ts" from "${first}": a plugin named "same" is already loaded from "${
      join(first, "same.js")
    }"`,
    `Cannot read plugin folder "${gone}" (plugins.paths[1]): it does not exist`,
    `Cannot load plugin "notify.ts" from "${second}": a plugin named "notify" is already loaded from "${
      join(first, "notify.ts")
    }"`,
  ]);
  assert.deepEqual(problems.map((p) => p.severity), ["warning", "error", "warning"]);
  assert.deepEqual(await discoverPlugins([gone]), [], "without onProblem it still never throws");
});

Deno.test("discoverPlugins() hashes change with a helper's content only", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    "p.ts": `import "./_helper.ts";\n${plugin}`,
    "_helper.ts": "export const x = 1;\n",
  });
  const [before] = await discoverPlugins([dir.path]);
  await Deno.writeTextFile(join(dir.path, "_helper.ts"), "export const x = 2;\n");
  const [after] = await discoverPlugins([dir.path]);
  assert.ok(before && after);
  assert.notEqual(after.hash, before.hash);
});
