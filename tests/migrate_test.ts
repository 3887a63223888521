/**
 * `sgevents migrate` end to end: the real CLI on the committed Python fixtures (written by
 * scripts/fixtures/make_python_state.py), then `validate` and the daemon on its output.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import { readStateFile } from "../src/state/state_store.ts";
import { readIds, recorderPlugin, root, spawnSgevents, tempDir } from "./helpers.ts";
import { assertSnapshot } from "./snapshot.ts";

const fixtures = `${root}tests/fixtures/python_state`;
const conf = `${fixtures}/shotgunEventDaemon.conf`;
const scriptKey = "s3cr3t-fixture-key-9f2c";
const smtpPassword = "smtp-fixture-pass-77e1";
// The backlog deadlines are naive local times; read in New York they are these instants.
const tz = "America/New_York";
const jan15 = Date.UTC(2099, 0, 15, 17, 0, 0, 250);
const jul1 = Date.UTC(2099, 6, 1, 12, 30);

async function run(args: string[], env: Record<string, string>) {
  await using p = spawnSgevents(args, { env: { TZ: tz, ...env } });
  const code = await p.exited;
  return { code, out: p.output() };
}

function envFor(dir: string, url = "http://127.0.0.1:8421") {
  return {
    SG_ED_SITE_URL: url,
    SG_ED_LOG_DIR: `${dir}/log`,
    SG_ED_PLUGIN_PATHS: `${dir}/plugins`,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("sgevents migrate imports every protocol's state into a config validate accepts", async () => {
  const states = [0, 1, 2, 3, 4, 5].map((p) => `state_p${p}.id`).concat(
    "state_py2_p0.id",
    "state_py2_p2.id",
  );
  for (const name of states) {
    await using dir = await tempDir();
    await Deno.mkdir(`${dir.path}/plugins`);
    const env = envFor(dir.path);
    const out = `${dir.path}/out`;
    const migrated = await run(
      ["migrate", "--conf", conf, "--state", `${fixtures}/${name}`, "--out", out],
      env,
    );
    assert.equal(migrated.code, 0, `${name}: ${migrated.out}`);
    assert.ok(!migrated.out.includes(scriptKey) && !migrated.out.includes(smtpPassword), name);
    assert.match(migrated.out, /notify_status +last id 120 -> starts at 121/);
    assert.match(
      migrated.out,
      /assign_task +last id 119 -> starts at 120; .*took the highest, 119 under \/mnt\/old\/plugins/,
    );

    const validated = await run(["validate", "-c", `${out}/config.yaml`], env);
    assert.equal(validated.code, 0, `${name}: ${validated.out}`);

    const state = await readStateFile(`${out}/state.json`);
    assert.equal(state?.site, "http://127.0.0.1:8421", name);
    const cursors = Object.fromEntries(
      [...state!.plugins].map(([plugin, s]) => [plugin, [s.cursor, [...s.backlog]]]),
    );
    assert.deepEqual(cursors, {
      assign_task: [119, [[116, jan15]]],
      big_ids: [3000000000, [[2999999999, jul1]]],
      legacy_counter: [95, []],
      // 118's deadline (2001) has passed: dropped, as the Python daemon would.
      notify_status: [120, [[117, jan15]]],
    }, name);
    for (
      const [file, text] of [["script_key", scriptKey], ["smtp_password", smtpPassword]] as const
    ) {
      assert.equal((await Deno.readTextFile(`${out}/${file}`)).trim(), text);
      assert.equal((await Deno.stat(`${out}/${file}`)).mode! & 0o777, 0o600, file);
    }
    const yaml = await Deno.readTextFile(`${out}/config.yaml`);
    assert.ok(!yaml.includes(scriptKey) && !yaml.includes(smtpPassword));
  }
});

Deno.test("a migrated daemon delivers each plugin's events from right after its old last id", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({
    port: 0,
    preload: 130,
    quiet: true,
    scripts: { sgevents: "sim-key", shotgunEventDaemon: scriptKey },
  });
  await Deno.mkdir(`${dir.path}/plugins`);
  for (const name of ["notify_status", "assign_task", "legacy_counter"]) {
    await Deno.writeTextFile(
      `${dir.path}/plugins/${name}.ts`,
      recorderPlugin(`${dir.path}/${name}.ids`),
    );
  }
  const env = envFor(dir.path, sim.url);
  const out = `${dir.path}/out`;
  const migrated = await run(
    ["migrate", "--conf", conf, "--state", `${fixtures}/state_p5.id`, "--out", out],
    env,
  );
  assert.equal(migrated.code, 0, migrated.out);
  const once = await run(["daemon", "--once", "-c", `${out}/config.yaml`], env);
  assert.equal(once.code, 0, once.out);
  assert.ok(!once.out.includes(scriptKey), "the daemon does not print the key");

  const range = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const delivered = async (name: string) =>
    (await readIds(`${dir.path}/${name}.ids`)).sort((a, b) => a - b);
  // The waiting backlog id comes once, the expired one (118) never, then old last id + 1 on.
  assert.deepEqual(await delivered("notify_status"), [117, ...range(121, 130)]);
  assert.deepEqual(await delivered("assign_task"), [116, ...range(120, 130)]);
  assert.deepEqual(await delivered("legacy_counter"), range(96, 130));
});

Deno.test("sgevents migrate refuses a hostile pickle and writes nothing", async () => {
  const cases: [string, RegExp][] = [
    ["evil_system.id", /evil_system\.id": byte 70: global "posix\.system"/],
    ["evil_eval.id", /evil_eval\.id": byte 48: global "builtins\.eval"/],
    ["evil_object.id", /evil_object\.id": byte 35: global "copy_reg\._reconstructor"/],
    ["evil_build.id", /evil_build\.id": byte 28: opcode BUILD/],
  ];
  for (const [name, message] of cases) {
    await using dir = await tempDir();
    const out = `${dir.path}/out`;
    const result = await run(
      ["migrate", "--conf", conf, "--state", `${fixtures}/${name}`, "--out", out],
      envFor(dir.path),
    );
    assert.equal(result.code, 2, result.out);
    assert.match(result.out, message);
    assert.match(result.out, /refused without running anything; nothing was written/);
    assert.ok(!result.out.includes("    at "), "one line, no stack");
    assert.equal(await exists(out), false, `${name}: nothing written`);
    assert.equal(await exists("/tmp/sgevents-pwned"), false);
  }
});

Deno.test("sgevents migrate --dry-run prints the mapping and plugin positions and writes nothing", async () => {
  await using dir = await tempDir();
  const out = `${dir.path}/out`;
  const result = await run(
    ["migrate", "--conf", conf, "--state", `${fixtures}/state_p2.id`, "--out", out, "--dry-run"],
    envFor(dir.path),
  );
  assert.equal(result.code, 0, result.out);
  assert.match(result.out, /\[daemon\] fetch_interval +-> +daemon\.fetch_interval: 5s/);
  assert.match(result.out, /\[shotgun\] key +-> +shotgrid\.script_key_file: "\.\/script_key"/);
  assert.match(result.out, /\[daemon\] pidFile +-> +\(no equivalent\): sgevents holds an OS lock/);
  assert.match(result.out, /legacy_counter +last id 95 -> starts at 96/);
  assert.match(result.out, /notify_status .*backlog 118 expired: dropped/);
  assert.match(result.out, /Dry run: nothing written\./);
  assert.ok(!result.out.includes(scriptKey) && !result.out.includes(smtpPassword));
  assert.equal(await exists(out), false);
});

Deno.test("sgevents migrate refuses to overwrite files unless --force", async () => {
  await using dir = await tempDir();
  const out = `${dir.path}/out`;
  await Deno.mkdir(out);
  await Deno.writeTextFile(`${out}/config.yaml`, "mine\n");
  const args = ["migrate", "--conf", conf, "--state", `${fixtures}/state_p4.id`, "--out", out];
  const refused = await run(args, envFor(dir.path));
  assert.equal(refused.code, 2);
  assert.match(
    refused.out,
    /Cannot migrate into ".*out": ".*config\.yaml" already exists; .*--force/,
  );
  assert.equal(await Deno.readTextFile(`${out}/config.yaml`), "mine\n");
  assert.equal(await exists(`${out}/state.json`), false);
  const forced = await run([...args, "--force"], envFor(dir.path));
  assert.equal(forced.code, 0, forced.out);
  assert.match(await Deno.readTextFile(`${out}/config.yaml`), /^# sgevents configuration/);
});

Deno.test("sgevents migrate takes the old text id file as every plugin's start", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/plugins`);
  const out = `${dir.path}/out`;
  const env = envFor(dir.path);
  const result = await run(
    ["migrate", "--conf", conf, "--state", `${fixtures}/state_text.id`, "--out", out],
    env,
  );
  assert.equal(result.code, 0, result.out);
  assert.match(await Deno.readTextFile(`${out}/config.yaml`), /start_at: 1000606 /);
  assert.equal(await exists(`${out}/state.json`), false);
  const validated = await run(["validate", "-c", `${out}/config.yaml`], env);
  assert.equal(validated.code, 0, validated.out);
});

Deno.test("sgevents migrate --help matches its snapshot", async () => {
  const { code, out } = await run(["migrate", "--help"], {});
  assert.equal(code, 0);
  await assertSnapshot("help-migrate", out);
});
