/**
 * Secrets (script keys) never appear in any log file, state file or command output,
 * even when they are wrong and authentication fails.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import { eventually, readIds, spawnSgevents, tempDir, writeConfig } from "./helpers.ts";

const daemonKey = "DAEMON-Key-7f3c9a11e2";
const pluginKey = "PLUGIN-Key-44b0c8d5aa";
const wrongKey = "WRONG-Key-91d2e6f0bb";

async function everything(dir: string): Promise<string> {
  let text = "";
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) text += await everything(path);
    else if (entry.isFile) text += await Deno.readTextFile(path);
  }
  return text;
}

Deno.test("script keys appear in no log file, state file or command output", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({
    port: 0,
    preload: 5,
    quiet: true,
    scripts: { sgevents: daemonKey, plugin_script: pluginKey },
  });
  await Deno.mkdir(`${dir.path}/plugins`);
  // One plugin reads through `sg` with its own key; one has a wrong key and fails (logged).
  await Deno.writeTextFile(
    `${dir.path}/plugins/reader.ts`,
    `export function registerCallbacks(reg) {
      reg.registerCallback("plugin_script", ${
      JSON.stringify(pluginKey)
    }, async (sg, logger, event) => {
        const e = await sg.findById("EventLogEntry", event.id, ["id"]);
        logger.info("read event " + e.id);
        Deno.writeTextFileSync(${
      JSON.stringify(`${dir.path}/reader.ids`)
    }, event.id + "\\n", { append: true });
      });
    }`,
  );
  await Deno.writeTextFile(
    `${dir.path}/plugins/wrong.ts`,
    `export function registerCallbacks(reg) {
      reg.registerCallback("plugin_script", ${
      JSON.stringify(wrongKey)
    }, async (sg, logger, event) => {
        logger.info("using key ${wrongKey.slice(0, 5)}");
        await sg.findById("EventLogEntry", event.id, ["id"]);
      }, null, null, false);
    }`,
  );
  const config = await writeConfig({
    url: sim.url,
    dir: dir.path,
    shotgrid: { script_key: "${SG_SCRIPT_KEY}" },
    logging: { level: "debug", timing: true },
  });
  const env = { SG_SCRIPT_KEY: daemonKey };
  let output = "";
  {
    await using daemon = spawnSgevents(["daemon", "-c", config], { env });
    await eventually(
      async () => (await readIds(`${dir.path}/reader.ids`)).length === 5,
      30_000,
      "reader",
    );
    await daemon.waitFor(/wrong.*failed on event 5|failed on event 5/, 30_000);
    sim.faults.expireTokens();
    sim.store.appendEvents(2);
    await eventually(
      async () => (await readIds(`${dir.path}/reader.ids`)).length === 7,
      30_000,
      "after expiry",
    );
    daemon.kill("SIGTERM");
    assert.equal(await daemon.exited, 0);
    output += daemon.output();
  }
  for (
    const args of [
      ["state", "show", "-c", config],
      ["state", "show", "--json", "-c", config],
      ["plugins", "list", "--json", "-c", config],
      ["validate", "-c", config],
      ["validate", "--json", "-c", config],
    ]
  ) {
    await using command = spawnSgevents(args, { env });
    // state show exits 3 with no daemon running.
    const expected = args[0] === "state" ? 3 : 0;
    assert.equal(await command.exited, expected, `${args.join(" ")}: ${command.output()}`);
    output += command.output();
  }
  // The daemon's own key wrong: authentication fails again and again, and is logged.
  {
    await using daemon = spawnSgevents(["daemon", "-c", config], {
      env: { SG_SCRIPT_KEY: wrongKey },
    });
    await daemon.waitFor("Cannot", 20_000);
    daemon.kill("SIGTERM");
    await daemon.exited;
    output += daemon.output();
  }
  // Everything the daemon wrote: logs (daemon, per plugin, timing), state and its backup.
  const files = await everything(`${dir.path}/log`) +
    await Deno.readTextFile(`${dir.path}/state.json`) +
    await Deno.readTextFile(`${dir.path}/state.json.bak`);
  assert.match(files, /read event/, "the plugin's log was written");
  assert.match(files, /event=\d+/, "the timing log was written");
  for (const key of [daemonKey, pluginKey, wrongKey]) {
    assert.ok(!output.includes(key), `${key} in command output`);
    assert.ok(!files.includes(key), `${key} in a log or state file`);
  }
});
