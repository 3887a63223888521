/**
 * End-to-end: how the daemon (a subprocess of main.ts) stops on SIGHUP, and on a stop
 * whose state cannot be saved.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import {
  audit,
  eventually,
  readIds,
  recorderPlugin,
  spawnSgevents,
  tempDir,
  writeConfig,
} from "./helpers.ts";
import { unwritable } from "./unwritable.ts";

const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

Deno.test({
  name: "daemon stops cleanly on SIGHUP: the event in flight finishes, the state is saved",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await using dir = await tempDir();
    await using sim = await startSimulator({ port: 0, preload: 30, quiet: true });
    await Deno.mkdir(`${dir.path}/plugins`);
    const record = `${dir.path}/slow.ids`;
    await Deno.writeTextFile(
      `${dir.path}/plugins/slow.ts`,
      recorderPlugin(record, { delayMs: 150 }),
    );
    const config = await writeConfig({ url: sim.url, dir: dir.path });
    {
      await using daemon = spawnSgevents(["daemon", "-c", config]);
      await eventually(async () => (await readIds(record)).length >= 3, 20_000, "3 events");
      daemon.kill("SIGHUP");
      assert.equal(await daemon.exited, 0, daemon.output());
      assert.match(daemon.output(), /Received SIGHUP; stopping/);
      assert.match(daemon.output(), /Stopped; state saved to/);
    }
    const first = await readIds(record);
    assert.ok(first.length < 30, `stopped before the end (${first.length} delivered)`);
    await using again = spawnSgevents(["daemon", "-c", config, "--once"]);
    assert.equal(await again.exited, 0, again.output());
    assert.deepEqual(audit(ids(1, 30), await readIds(record)), { missing: [], duplicates: [] });
  },
});

Deno.test({
  name: "daemon stop with an unwritable state folder says so in one line and exits 1",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await using dir = await tempDir();
    await using sim = await startSimulator({ port: 0, preload: 5, quiet: true });
    await Deno.mkdir(`${dir.path}/plugins`);
    await Deno.mkdir(`${dir.path}/state`);
    const record = `${dir.path}/rec.ids`;
    await Deno.writeTextFile(`${dir.path}/plugins/rec.ts`, recorderPlugin(record));
    const config = await writeConfig({
      url: sim.url,
      dir: dir.path,
      daemon: { state_file: "./state/state.json" },
    });
    await using daemon = spawnSgevents(["daemon", "-c", config]);
    await eventually(async () => (await readIds(record)).length === 5, 20_000, "5 events");
    let code: number;
    {
      await using _locked = await unwritable(`${dir.path}/state`);
      sim.store.appendEvents(2);
      daemon.kill("SIGTERM");
      code = await daemon.exited;
    }
    const output = daemon.output();
    assert.equal(code, 1, output);
    assert.doesNotMatch(output, /SuppressedError|Unexpected error|\n\s+at /);
    // Retried (each attempt logged; a lane may have hit the folder first), then reported once.
    assert.match(output, /\[WRN\] sgevents\.state: Cannot save state file .*; retrying in \d+ ms/);
    assert.equal((output.match(/^Cannot save state file/gm) ?? []).length, 1, output);
    const last = output.trimEnd().split("\n").at(-1) ?? "";
    assert.match(
      last,
      /^Cannot save state file ".*state\.json": cannot create ".*state\.json\.tmp-\d+-[0-9a-f]+": .*\(os error \d+\)/,
    );
  },
});
