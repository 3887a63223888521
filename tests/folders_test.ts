/**
 * Folders named by the config, at daemon start: a missing plugin folder is a logged error,
 * an unwritable state or log folder is one line naming the key and the path.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import { spawnSgevents, tempDir, writeConfig } from "./helpers.ts";

async function run(args: string[]): Promise<{ code: number; out: string }> {
  await using p = spawnSgevents(args);
  const code = await p.exited;
  return { code, out: p.output() };
}

Deno.test("sgevents daemon logs an error for a plugin folder that does not exist", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 3, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  const config = await writeConfig({
    url: sim.url,
    dir: dir.path,
    pluginPaths: ["./plugins", "./nope"],
  });
  const { code, out } = await run(["daemon", "--once", "-c", config]);
  assert.equal(code, 0, out);
  const log = await Deno.readTextFile(`${dir.path}/log/sgevents.log`);
  assert.match(
    log,
    new RegExp(
      `\\[ERR\\] sgevents\\.plugins: Cannot read plugin folder "${dir.path}/nope" \\(plugins\\.paths\\[1\\]\\): it does not exist`,
    ),
  );
});

Deno.test("sgevents daemon refuses an unwritable state or log folder with one line per key", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/plugins`);
  // A file where a folder should be: mkdir fails for root too.
  await Deno.writeTextFile(`${dir.path}/blocker`, "");
  const config = await writeConfig({
    url: "http://127.0.0.1:9",
    dir: dir.path,
    daemon: { state_file: "./blocker/state.json" },
    logging: { dir: "./blocker/log" },
  });
  const { code, out } = await run(["daemon", "-c", config]);
  assert.equal(code, 2, out);
  const lines = out.trim().split("\n");
  assert.equal(lines.length, 3, out);
  assert.match(lines[0]!, /^Cannot use config ".*config\.yaml": 2 problems$/);
  assert.match(
    lines[1]!,
    new RegExp(
      `config\\.yaml: daemon\\.state_file: cannot write to "${dir.path}/blocker": it exists and is not a folder$`,
    ),
  );
  assert.match(
    lines[2]!,
    new RegExp(`config\\.yaml: logging\\.dir: cannot write to "${dir.path}/blocker/log": `),
  );
  assert.doesNotMatch(out, /os error|\n\s+at /);
});
