/**
 * The shipped deployment files agree (config, systemd unit, Dockerfile), and the daemon runs
 * with the deploy config's folder layout, re-rooted in a temp dir, against the simulator.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { startSimulator } from "../src/sim/mod.ts";
import {
  daemonV8Flags,
  eventually,
  readIds,
  recorderPlugin,
  root,
  spawnSgevents,
  tempDir,
} from "./helpers.ts";

const deploy = join(root, "deploy");
const read = (name: string) => Deno.readTextFileSync(join(deploy, name));

interface DeployConfig {
  daemon: { state_file: string };
  plugins: { paths: string[] };
  logging: { dir: string };
}

/** `Key=value` lines of a unit file (the last one wins, as systemd reads them). */
function unitValues(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) values.set(match[1]!, match[2]!);
  }
  return values;
}

Deno.test("Every way of running the daemon uses the V8 flags the tests and benchmarks use", () => {
  // The flags live in six places that JSON and a Dockerfile cannot share; this keeps them one.
  const [flags] = daemonV8Flags;
  const tasks = JSON.parse(Deno.readTextFileSync(join(root, "deno.json"))).tasks;
  for (const name of ["daemon", "demo", "sgevents", "compile"]) {
    const v8 = String(tasks[name]).split(" ").filter((arg) => arg.startsWith("--v8-flags="));
    assert.deepEqual(v8, [flags], `deno.json task "${name}"`);
  }
  const entrypoint = /^ENTRYPOINT (.*)$/m.exec(read("Dockerfile"))?.[1];
  assert.ok(entrypoint, "the Dockerfile has an ENTRYPOINT");
  const v8 = (JSON.parse(entrypoint) as string[]).filter((arg) => arg.startsWith("--v8-flags="));
  assert.deepEqual(v8, [flags], "the Dockerfile's ENTRYPOINT");
});

Deno.test("deploy/: the config, the systemd unit and the Dockerfile use the same absolute paths", () => {
  const config = parse(read("config.yaml")) as DeployConfig;
  const unit = unitValues(read("sgevents.service"));
  const dockerfile = read("Dockerfile");
  const stateDir = dirname(config.daemon.state_file);
  const logDir = config.logging.dir;
  for (const path of [config.daemon.state_file, logDir, ...config.plugins.paths]) {
    assert.ok(path.startsWith("/"), `${path} is absolute`);
  }
  // systemd: the config the unit starts with, and the writable folders under ProtectSystem=strict.
  assert.equal(unit.get("ProtectSystem"), "strict");
  const configPath = /--config (\S+)/.exec(unit.get("ExecStart") ?? "")?.[1];
  assert.equal(configPath, "/etc/sgevents/config.yaml");
  const writable = (unit.get("ReadWritePaths") ?? "").split(" ");
  assert.ok(writable.includes(stateDir), `ReadWritePaths has ${stateDir}`);
  assert.ok(writable.includes(logDir), `ReadWritePaths has ${logDir}`);
  assert.equal(`/var/lib/${unit.get("StateDirectory")}`, stateDir);
  assert.equal(`/var/log/${unit.get("LogsDirectory")}`, logDir);
  // Docker: the same config path, the config file itself, and a volume for each writable folder.
  assert.match(dockerfile, new RegExp(`^ENV SGEVENTS_CONFIG=${configPath}$`, "m"));
  assert.match(dockerfile, new RegExp(`^COPY deploy/config\\.yaml ${configPath}$`, "m"));
  const volumes = JSON.parse(/^VOLUME (.*)$/m.exec(dockerfile)?.[1] ?? "[]") as string[];
  assert.deepEqual(volumes.sort(), [logDir, stateDir].sort());
  for (const dir of [stateDir, logDir, ...config.plugins.paths]) {
    assert.ok(dockerfile.includes(dir), `the Dockerfile creates ${dir}`);
  }
});

Deno.test("sgevents daemon runs and stops cleanly with the deploy config's layout in a temp root", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 5, quiet: true });
  // The deploy config with /etc/sgevents, /var/lib/sgevents and /var/log/sgevents under the
  // temp root; only the poll interval is shortened, so new events arrive quickly.
  let text = read("config.yaml");
  for (const prefix of ["/etc/sgevents", "/var/lib/sgevents", "/var/log/sgevents"]) {
    text = text.replaceAll(` ${prefix}`, ` ${dir.path}${prefix}`)
      .replaceAll(`[${prefix}`, `[${dir.path}${prefix}`);
  }
  text = text.replace("fetch_interval: 5s", "fetch_interval: 100ms");
  const configFile = join(dir.path, "etc/sgevents/config.yaml");
  const plugins = join(dir.path, "etc/sgevents/plugins");
  await Deno.mkdir(plugins, { recursive: true });
  await Deno.writeTextFile(configFile, text);
  const out = join(dir.path, "delivered.ids");
  await Deno.writeTextFile(join(plugins, "recorder.ts"), recorderPlugin(out));

  await using daemon = spawnSgevents(["daemon", "--config", configFile], {
    env: { SG_URL: sim.url, SG_SCRIPT_KEY: "sim-key" },
  });
  await daemon.waitFor(/Plugin recorder starts after event 5 \(start_at: latest\)/);
  const last = sim.store.appendEvents(3);
  await eventually(async () => (await readIds(out)).includes(last), 20_000, "new events");
  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0, daemon.output());
  assert.deepEqual(await readIds(out), [6, 7, 8]);

  const state = JSON.parse(await Deno.readTextFile(join(dir.path, "var/lib/sgevents/state.json")));
  assert.ok(JSON.stringify(state).includes(`"recorder"`));
  const log = await Deno.readTextFile(join(dir.path, "var/log/sgevents/sgevents.log"));
  assert.match(log, /Stopped; state saved to .*\/var\/lib\/sgevents\/state\.json/);
  assert.doesNotMatch(daemon.output(), /\[ERR\]|Unexpected error/);
});
