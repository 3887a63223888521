import assert from "node:assert/strict";
import { confValue, envReference, MigrationError, parseConf } from "./conf.ts";

const text = `[DEFAULT]
root = /studio

[daemon]
pidFile: %(root)s/run/daemon.pid
LogPath = %(SG_ED_LOG_DIR)s/logs
percent: 100%%
paths: a,
  b
; a comment
# another
[shotgun]
server: %(sg_ed_site_url)s
`;

Deno.test("parseConf() interpolates as configparser: section, DEFAULT, then the environment", () => {
  const conf = parseConf(text, {
    file: "d.conf",
    env: { SG_ED_LOG_DIR: "/var/log/sg", SG_ED_SITE_URL: "https://x.shotgrid.autodesk.com" },
  });
  assert.equal(confValue(conf, "daemon", "pidfile"), "/studio/run/daemon.pid");
  assert.equal(confValue(conf, "daemon", "logPath"), "/var/log/sg/logs");
  assert.equal(confValue(conf, "daemon", "percent"), "100%");
  assert.equal(confValue(conf, "daemon", "paths"), "a,\nb");
  assert.equal(confValue(conf, "shotgun", "server"), "https://x.shotgrid.autodesk.com");
  assert.equal(envReference(conf, "shotgun", "server"), "SG_ED_SITE_URL");
  assert.equal(envReference(conf, "daemon", "logPath"), null);
  assert.equal(conf.sections.get("daemon")?.get("logpath")?.key, "LogPath");
});

Deno.test("confValue() names the file, line and option of a reference it cannot resolve", () => {
  const conf = parseConf("[shotgun]\n\nserver: %(SG_URL)s\nkey: 5%\n", { file: "d.conf", env: {} });
  assert.throws(
    () => confValue(conf, "shotgun", "server"),
    /d\.conf:3: \[shotgun\] server: "%\(SG_URL\)s" is neither an option nor a set environment variable/,
  );
  assert.throws(() => confValue(conf, "shotgun", "key"), /d\.conf:4: .*"%" must be followed/);
  const loop = parseConf("[a]\nx: %(y)s\ny: %(x)s\n", { file: "l.conf", env: {} });
  assert.throws(() => confValue(loop, "a", "x"), /deeper than 10/);
});

Deno.test("parseConf() lists every malformed line", () => {
  assert.throws(
    () => parseConf("orphan: 1\n[a]\nx: 1\nX = 2\njust words\n", { file: "b.conf", env: {} }),
    (error: unknown) => {
      assert.ok(error instanceof MigrationError);
      assert.deepEqual(error.problems, [
        `b.conf:1: option "orphan" comes before any [section]`,
        `b.conf:4: option "X" is set twice in its section`,
        `b.conf:5: cannot parse this line; expected [section], key: value or key = value`,
      ]);
      return true;
    },
  );
});
