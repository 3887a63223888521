import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { discoverPlugins } from "./discovery.ts";
import { initPluginFolder, pluginApiSources } from "./plugin_package.ts";
import { tempDir } from "./test_helpers.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

async function run(cwd: string, args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, out: decode(output.stdout) + decode(output.stderr) };
}

Deno.test("pluginApiSources() is mod.ts and every module it imports, as they are in src/", async () => {
  const files = await pluginApiSources();
  assert.ok(files.has("plugins/mod.ts"));
  assert.ok(files.has("shotgrid/client.ts"));
  for (const [path, text] of files) {
    assert.equal(text, await Deno.readTextFile(join(root, "src", path)), path);
  }
});

Deno.test("initPluginFolder() makes a folder where deno check and the example's test pass with no checkout", async (t) => {
  // Deno.makeTempDir is outside the repository: no src/ and no deno.json of ours above it.
  await using dir = await tempDir();
  const folder = join(dir.path, "plugins");
  const result = await initPluginFolder(folder);
  assert.deepEqual(result.written, [".sgevents/", "deno.json", "example.ts", "example_test.ts"]);

  await t.step("deno check passes on the example and its test", async () => {
    const check = await run(folder, ["check", "example.ts", "example_test.ts"]);
    assert.equal(check.code, 0, check.out);
  });

  await t.step("deno check fails on a plugin misusing the API (the types are real)", async () => {
    await Deno.writeTextFile(
      join(folder, "wrong.ts"),
      `import type { Registrar } from "sgevents/plugin";\n` +
        `export function registerCallbacks(reg: Registrar): void { reg.registerCallback(1); }\n`,
    );
    const check = await run(folder, ["check", "wrong.ts"]);
    assert.notEqual(check.code, 0);
    assert.match(check.out, /TS2345|not assignable/);
    await Deno.remove(join(folder, "wrong.ts"));
  });

  await t.step("the example's test runs the plugin through sgevents dispatch", async () => {
    const sgevents = `${Deno.execPath()} run -A --unstable-worker-options ${join(root, "main.ts")}`;
    const test = await run(folder, ["test", "-A"], { SGEVENTS: sgevents });
    assert.equal(test.code, 0, test.out);
    assert.match(test.out, /example\.ts logs a Task's new status \.\.\. ok/);
  });

  await t.step("the daemon loads example.ts only: not its test, not .sgevents/", async () => {
    const found = await discoverPlugins([folder]);
    assert.deepEqual(found.map((p) => p.name), ["example"]);
  });

  await t.step("a second init rewrites the API and keeps the user's files", async () => {
    await Deno.writeTextFile(join(folder, "example.ts"), "// mine\n");
    const again = await initPluginFolder(folder);
    assert.deepEqual(again.kept, ["deno.json", "example.ts", "example_test.ts"]);
    assert.equal(await Deno.readTextFile(join(folder, "example.ts")), "// mine\n");
  });
});
