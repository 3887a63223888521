import assert from "node:assert/strict";
import { parseConfig } from "../config/load.ts";
import { parseConf } from "./conf.ts";
import { mapConf } from "./mapping.ts";

const fixture = new URL(
  "../../tests/fixtures/python_state/shotgunEventDaemon.conf",
  import.meta.url,
);
// Real folders: the config loader may check that plugin folders exist.
const plugins = Deno.makeTempDirSync({ prefix: "sgevents-migrate-" });
Deno.mkdirSync(`${plugins}/a`);
Deno.mkdirSync(`${plugins}/b`);
globalThis.addEventListener("unload", () => Deno.removeSync(plugins, { recursive: true }));
const env = {
  SG_ED_SITE_URL: "https://studio.shotgrid.autodesk.com/",
  SG_ED_LOG_DIR: "/var/log/sgevents",
  SG_ED_PLUGIN_PATHS: `${plugins}/a, ${plugins}/b`,
};

Deno.test("mapConf() maps the real-shaped .conf to a config that the config loader accepts", async () => {
  const conf = parseConf(await Deno.readTextFile(fixture), {
    file: "shotgunEventDaemon.conf",
    env,
  });
  const mapping = mapConf(conf, { stateFile: "./state.json" });
  const secrets: Record<string, string> = Object.fromEntries(
    mapping.secrets.map((s) => [s.name, s.text]),
  );
  assert.deepEqual(secrets, {
    script_key: "s3cr3t-fixture-key-9f2c\n",
    smtp_password: "smtp-fixture-pass-77e1\n",
  });
  assert.ok(!mapping.yaml.includes("s3cr3t-fixture-key-9f2c"));
  assert.ok(!mapping.yaml.includes("smtp-fixture-pass-77e1"));
  const printed = JSON.stringify(mapping.options);
  assert.ok(!printed.includes("s3cr3t") && !printed.includes("smtp-fixture-pass"));

  const config = parseConfig(mapping.yaml, {
    file: "/etc/sgevents/config.yaml",
    env,
    readFile: (path) => new Map(Object.entries(secrets)).get(path.split("/").at(-1)!) ?? "",
  });
  assert.equal(config.shotgrid.url, "https://studio.shotgrid.autodesk.com");
  assert.equal(mapping.site, config.shotgrid.url);
  assert.equal(config.shotgrid.scriptName, "shotgunEventDaemon");
  assert.equal(config.shotgrid.scriptKey, "s3cr3t-fixture-key-9f2c");
  assert.equal(config.shotgrid.useSessionUuid, true);
  assert.equal(config.shotgrid.proxy, null);
  assert.equal(config.daemon.stateFile, "/etc/sgevents/state.json");
  assert.equal(config.daemon.fetchIntervalMs, 5000);
  assert.equal(config.daemon.connRetrySleepMs, 60_000);
  assert.equal(config.daemon.maxConnRetries, 5);
  assert.equal(config.daemon.maxEventBatchSize, 500);
  assert.deepEqual(config.plugins.paths, [`${plugins}/a`, `${plugins}/b`]);
  assert.equal(config.logging.dir, "/var/log/sgevents");
  assert.equal(config.logging.perPlugin, true);
  assert.equal(config.logging.level, "info");
  assert.equal(config.logging.timing, true);
  assert.equal(config.email.enabled, true);
  assert.equal(config.email.server, "smtp.example.com");
  assert.equal(config.email.port, 587);
  assert.equal(config.email.security, "starttls");
  assert.equal(config.email.password, "smtp-fixture-pass-77e1");
  assert.deepEqual(config.email.to, ["pipeline@example.com", "oncall@example.com"]);
  assert.equal(config.email.subject, "[SG] {plugin} error");
  // Strings that were one environment reference keep reading the environment.
  assert.match(mapping.yaml, /url: "\$\{SG_ED_SITE_URL\}"/);
  assert.match(mapping.yaml, /dir: "\$\{SG_ED_LOG_DIR\}"/);
  // Every option is accounted for: mapped, or a comment line saying why not.
  assert.match(
    mapping.yaml,
    /# \[daemon\] pidFile "\/var\/log\/shotgunEventDaemon\.pid": no equivalent; .*lock/,
  );
  assert.match(mapping.yaml, /# \[daemon\] logFile "shotgunEventDaemon": no equivalent; /);
  assert.equal(mapping.options.length, 25);
});

Deno.test("mapConf() rounds levels, clamps limits, comments unknown options without their value", () => {
  const conf = parseConf(
    `[daemon]
logging: 25
max_event_batch_size: 9000
fetch_interval: 0
extra_secret: hunter2
[shotgun]
server: https://x.example.com
name: daemon
key: %(SG_KEY)s
proxy_server: user:pw@proxy:3128
[plugins]
paths: /p
[custom]
token: abc
`,
    { file: "c.conf", env: { SG_KEY: "k" } },
  );
  const mapping = mapConf(conf, { stateFile: "./state.json" });
  assert.match(mapping.yaml, /level: info # \[daemon\] logging/);
  assert.match(mapping.yaml, /max_event_batch_size: 5000/);
  assert.match(mapping.yaml, /fetch_interval: 1s/);
  assert.match(mapping.yaml, /script_key: "\$\{SG_KEY\}"/);
  assert.deepEqual(mapping.secrets, []);
  assert.match(mapping.yaml, /proxy: "http:\/\/user:pw@proxy:3128"/);
  const proxy = mapping.options.find((o) => o.from === "[shotgun] proxy_server")!;
  assert.equal(proxy.to, "shotgrid.proxy: http://***@proxy:3128");
  assert.match(
    mapping.yaml,
    /^ {2}# \[daemon\] extra_secret: not mapped; the Python daemon never reads it/m,
  );
  assert.match(mapping.yaml, /^# \[custom\] token: not mapped/m);
  assert.ok(!mapping.yaml.includes("hunter2") && !mapping.yaml.includes("abc"));
  assert.ok(mapping.options.some((o) => o.note === "Python level 25 rounded down to info"));
});

Deno.test("mapConf() lists every missing required option and bad value at once", () => {
  const conf = parseConf(
    "[daemon]\nlogMode: 3\nfetch_interval: soon\n[shotgun]\nserver: ftp://x\n",
    {
      file: "m.conf",
      env: {},
    },
  );
  assert.throws(() => mapConf(conf, { stateFile: "./state.json" }), (error: Error) => {
    const lines = error.message.split("\n").slice(1);
    assert.deepEqual(lines, [
      `m.conf:5: [shotgun] server: "ftp://x" is not an http(s) URL`,
      "m.conf: [shotgun] name: missing; the Python daemon needs it too",
      "m.conf: [shotgun] key: missing; the Python daemon needs it too",
      `m.conf:3: [daemon] fetch_interval: "soon" is not a number of seconds`,
      `m.conf:2: [daemon] logMode: "3" is not 0 or 1`,
      "m.conf: [plugins] paths: missing; the Python daemon needs it too",
    ]);
    return true;
  });
});

Deno.test("mapConf() gives logs a folder when the .conf had only logFile", () => {
  const conf = parseConf(
    `[daemon]\nlogFile: daemon\ntiming_log: on\n[shotgun]\nserver: https://x.example.com\nname: n\nkey: %(K)s\n[plugins]\npaths: ${plugins}\n`,
    { file: "l.conf", env: { K: "k" } },
  );
  const yaml = mapConf(conf, { stateFile: "./state.json" }).yaml;
  const config = parseConfig(yaml, { file: "/etc/sgevents/config.yaml", env: { K: "k" } });
  assert.equal(config.logging.dir, "/etc/sgevents/log");
  assert.equal(config.logging.timing, true);
});
