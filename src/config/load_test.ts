import assert from "node:assert/strict";
import { join } from "node:path";
import { stringify } from "yaml";
import { redact } from "../log/redact.ts";
import { ConfigError } from "./errors.ts";
import { loadConfig, parseConfig, resolveConfigPath } from "./load.ts";

const minimal = {
  shotgrid: { url: "https://site.example", script_name: "sgevents", script_key: "k3y-value" },
  plugins: { paths: ["./plugins"] },
};

/** Sets `path` (dotted) to `value` in a copy of `base`; `undefined` deletes the key. */
function withValue(base: object, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = path.split(".");
  let node = copy;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  const last = keys.at(-1) ?? "";
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

function problemsOf(text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseConfig(text, { file: "config.yaml", env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `threw ${String(error)}`);
    assert.equal(error.name, "ConfigError");
    assert.equal(error.file, "config.yaml");
    return error.problems;
  }
  assert.fail("parseConfig() accepted the config");
}

const durationHint = "use e.g. 5s, 500ms, 2m";

Deno.test("parseConfig() names the key, the bad value and what is expected", () => {
  const cases: [string, unknown, string][] = [
    [
      "shotgrid.url",
      "ftp://x",
      '"ftp://x" is not an http(s) URL such as https://mysite.shotgrid.autodesk.com',
    ],
    ["shotgrid.url", "not a url", '"not a url" is not an http(s) URL'],
    ["shotgrid.script_name", "", '"" is not a non-empty string'],
    ["shotgrid.script_name", 5, "5 is not a non-empty string"],
    ["shotgrid.proxy", "socks://p", '"socks://p" is not an http(s) URL or null'],
    ["shotgrid.use_session_uuid", "yes", '"yes" is not true or false'],
    ["shotgrid.timeout", "0s", `"0s" is not a duration above 0; ${durationHint}`],
    ["daemon.state_file", "", '"" is not a path'],
    ["daemon.fetch_interval", "5x", `"5x" is not a duration above 0; ${durationHint}`],
    ["daemon.max_event_batch_size", 9000, "9000 is not an integer from 1 to 5000"],
    ["daemon.max_event_batch_size", 0, "0 is not an integer from 1 to 5000"],
    ["daemon.max_event_batch_size", 2.5, "2.5 is not an integer from 1 to 5000"],
    ["daemon.backlog_timeout", "forever", `"forever" is not a duration; ${durationHint}`],
    ["daemon.start_at", "newest", '"newest" is not latest, oldest or an event id'],
    ["daemon.start_at", 0, "0 is not latest, oldest or an event id"],
    ["daemon.max_conn_retries", -1, "-1 is not an integer of at least 0"],
    ["daemon.conn_retry_sleep", [1], `a list is not a duration; ${durationHint}`],
    ["daemon.progress_interval", "1d", `"1d" is not a duration above 0`],
    ["daemon.shutdown_timeout", true, "true is not a duration"],
    ["daemon.ignore_script_users", ["ok", ""], '[1]: "" is not a script name'],
    ["daemon.ignore_script_users", { a: 1 }, "a mapping is not a list of script names"],
    ["daemon.narrow_reads", "sometimes", '"sometimes" is not'],
    ["daemon.read_ahead", 0, "0 is not an integer from 1 to 64"],
    ["daemon.read_ahead", "lots", '"lots" is not an integer from 1 to 64'],
    ["plugins.paths", [], "an empty list is not a non-empty list of plugin folders"],
    ["plugins.paths", ["./ok", 3], "[1]: 3 is not a path"],
    ["plugins.callback_timeout", "-1s", `"-1s" is not a duration above 0`],
    ["plugins.retries", "many", '"many" is not an integer of at least 0'],
    ["plugins.rescan_interval", "soon", '"soon" is not a duration'],
    ["plugins.settings", [1], "a list is not a mapping"],
    ["plugins.order", "by_name", '"by_name" is not one of: per_plugin, strict'],
    [
      "plugins.ordered_groups",
      [["a"]],
      "[0]: a list is not a list of two or more distinct plugin names",
    ],
    ["plugins.ordered_groups", [["a", "a"]], "[0]: a list is not a list of two or more"],
    ["plugins.ordered_groups", { a: 1 }, "a mapping is not a list of plugin name lists"],
    ["plugins.settings.p.enabled", "no", '"no" is not true or false'],
    ["plugins.workers", 0, "0 is not an integer from 1 to 256"],
    ["plugins.settings.p.isolate", "yes please", '"yes please" is not true or false'],
    ["plugins.settings.p.permissions.net", 5, "5 is not true, false or a list of strings"],
    ["plugins.settings.p.permissions", "all", '"all" is not a mapping'],
    ["plugins.settings.p.callback_timeout", "x", '"x" is not a duration above 0'],
    ["plugins.settings.p.retries", -2, "-2 is not an integer of at least 0"],
    ["plugins.settings.p.start_at", "first", '"first" is not latest, oldest or an event id'],
    ["plugins.settings.p.projects", [], "an empty list is not a non-empty list of project ids"],
    ["plugins.settings.p.projects", [122, "demo"], '[1]: "demo" is not a project id'],
    [
      "logging.level",
      "loud",
      '"loud" is not a log level: trace, debug, info, warning, error or fatal',
    ],
    ["logging.dir", 5, "5 is not a path"],
    ["logging.per_plugin", 1, "1 is not true or false"],
    ["logging.timing", "on", '"on" is not true or false'],
    ["logging.format", "xml", '"xml" is not one of: auto, pretty, plain, json'],
    [
      "logging.levels",
      { "sgevents.engine": "chatty" },
      '["sgevents.engine"]: "chatty" is not a log level',
    ],
    [
      "logging.max_file_size",
      "10XB",
      '"10XB" is not a size above 0; use e.g. 10MB, 512KB or bytes',
    ],
    ["logging.max_files", 0, "0 is not an integer of at least 1"],
    ["email.enabled", "sure", '"sure" is not true or false'],
    ["email.server", "", '"" is not a host name'],
    ["email.port", 99999, "99999 is not an integer from 1 to 65535"],
    ["email.security", "ssl", '"ssl" is not one of: starttls, tls, none'],
    ["email.username", "", '"" is not a non-empty string'],
    ["email.password", 5, "*** is not a non-empty string"],
    ["email.from", "", '"" is not a mail address'],
    ["email.to", ["ops@example.com", "nobody"], '[1]: "nobody" is not a mail address'],
    ["email.subject", "", '"" is not a non-empty string'],
    ["email.rate_limit", 0, "0 is not an integer of at least 1"],
    ["email.rate_window", "0", '"0" is not a duration above 0'],
  ];
  for (const [path, value, expected] of cases) {
    const problems = problemsOf(stringify(withValue(minimal, path, value)));
    const at = `config.yaml: ${path.replace(/\.(?=\[)/, "")}`;
    assert.equal(problems.length, 1, `${path}: ${problems.join("\n")}`);
    assert.ok(
      problems[0]?.startsWith(`${at}${expected.startsWith("[") ? "" : ": "}${expected}`),
      `${path}: got ${problems[0]}\nexpected ${at}: ${expected}`,
    );
  }
});

Deno.test("parseConfig() refuses a plugin in two ordered groups, and groups beside order: strict", () => {
  const base = minimal;
  const twice = withValue(base, "plugins.ordered_groups", [["a", "b"], ["c", "a"]]);
  assert.deepEqual(problemsOf(stringify(twice)), [
    'config.yaml: plugins.ordered_groups[1]: plugin "a" is already in group [0]; a plugin can be in one group only',
  ]);
  const both = withValue(twice, "plugins.order", "strict");
  assert.deepEqual(problemsOf(stringify(withValue(both, "plugins.ordered_groups", [["a", "b"]]))), [
    "config.yaml: plugins.ordered_groups: set with order: strict, which already orders every plugin; keep one",
  ]);
  const fine = parseConfig(stringify(withValue(base, "plugins.ordered_groups", [["a", "b"]])), {
    file: "config.yaml",
    env: {},
  });
  assert.deepEqual(fine.plugins.orderedGroups, [["a", "b"]]);
});

Deno.test("parseConfig() refuses unknown keys everywhere and suggests the right one", () => {
  const cases: [string, string][] = [
    [
      "extra",
      "config.yaml: extra: unknown key; expected one of: shotgrid, daemon, plugins, logging, email, http",
    ],
    [
      "daemon.fetch_intervall",
      'config.yaml: daemon.fetch_intervall: unknown key; did you mean "fetch_interval"?',
    ],
    ["shotgrid.proxy_server", "config.yaml: shotgrid.proxy_server: unknown key;"],
    [
      "daemon.fetchInterval",
      'config.yaml: daemon.fetchInterval: unknown key; did you mean "fetch_interval"?',
    ],
    [
      "plugins.settings.p.permisions",
      'config.yaml: plugins.settings.p.permisions: unknown key; did you mean "permissions"?',
    ],
    [
      "plugins.settings.p.permissions.red",
      'config.yaml: plugins.settings.p.permissions.red: unknown key; did you mean "read"?',
    ],
    ["email.useTLS", "config.yaml: email.useTLS: unknown key; expected one of: enabled, server"],
  ];
  for (const [path, expected] of cases) {
    const problems = problemsOf(stringify(withValue(minimal, path, 1)));
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.ok(problems[0]?.startsWith(expected), `got ${problems[0]}`);
  }
});

Deno.test("parseConfig() reports missing required keys and collects every problem", () => {
  const problems = problemsOf("shotgrid: {}\nplugins: {}\ndaemon: { fetch_interval: 5x }\n");
  assert.deepEqual(problems, [
    "config.yaml: shotgrid.url: missing; expected an http(s) URL such as https://mysite.shotgrid.autodesk.com",
    "config.yaml: shotgrid.script_name: missing; expected a non-empty string",
    `config.yaml: daemon.fetch_interval: "5x" is not a duration above 0; ${durationHint}`,
    "config.yaml: plugins.paths: missing; expected a non-empty list of plugin folders",
    "config.yaml: shotgrid.script_key: missing; set script_key or script_key_file",
  ]);
  // A missing section reports the required keys inside it.
  assert.deepEqual(problemsOf("daemon: {}\n"), [
    "config.yaml: shotgrid.url: missing; expected an http(s) URL such as https://mysite.shotgrid.autodesk.com",
    "config.yaml: shotgrid.script_name: missing; expected a non-empty string",
    "config.yaml: plugins.paths: missing; expected a non-empty list of plugin folders",
    "config.yaml: shotgrid.script_key: missing; set script_key or script_key_file",
  ]);
});

Deno.test("parseConfig() checks keys that depend on each other", () => {
  const both = withValue(minimal, "shotgrid.script_key_file", "/k");
  assert.deepEqual(
    problemsOf(stringify(both)).at(-1),
    "config.yaml: shotgrid: script_key and script_key_file are both set; keep one",
  );
  const mail = withValue(withValue(minimal, "email.enabled", true), "email.password", "p4ss");
  const mailBoth = withValue(mail, "email.password_file", "/missing-file");
  assert.deepEqual(problemsOf(stringify(mailBoth)).slice(-2), [
    "config.yaml: email: password and password_file are both set; keep one",
    "config.yaml: email.to: missing; expected at least one address when email.enabled is true",
  ]);
  assert.deepEqual(problemsOf(stringify(withValue(minimal, "logging.timing", true))), [
    "config.yaml: logging.timing: true needs logging.dir, where timing.log is written",
  ]);
});

Deno.test("parseConfig() reports YAML syntax errors and files that are not mappings", () => {
  assert.match(
    problemsOf("a: [1, 2\n")[0] ?? "",
    /^config\.yaml: line \d+ column \d+: cannot parse YAML: /,
  );
  assert.match(
    problemsOf("a: 1\na: 2\n")[0] ?? "",
    /line 2 column 1: cannot parse YAML: Map keys must be unique/,
  );
  assert.match(problemsOf("")[0] ?? "", /^config\.yaml: the file is empty/);
  assert.match(problemsOf("- a\n- b\n")[0] ?? "", /^config\.yaml: the file is not a mapping/);
});

Deno.test("parseConfig() substitutes ${VAR} with defaults and reports a missing one", () => {
  const text = stringify({
    shotgrid: {
      url: "https://${SITE}",
      script_name: "${NAME:-sgevents}",
      script_key: "${SG_SCRIPT_KEY}",
    },
    daemon: { fetch_interval: "${FETCH:-2s}", max_event_batch_size: "${BATCH}" },
    plugins: { paths: ["$${literal}"] },
    email: { enabled: "${MAIL:-false}" },
  });
  const config = parseConfig(text, {
    file: "/etc/sgevents/config.yaml",
    env: { SITE: "sg.example", SG_SCRIPT_KEY: "env-k3y", BATCH: "100" },
  });
  assert.equal(config.shotgrid.url, "https://sg.example");
  assert.equal(config.shotgrid.scriptName, "sgevents");
  assert.equal(config.shotgrid.scriptKey, "env-k3y");
  assert.equal(config.daemon.fetchIntervalMs, 2000);
  assert.equal(config.daemon.maxEventBatchSize, 100);
  assert.deepEqual(config.plugins.paths, ["/etc/sgevents/${literal}"]);
  assert.equal(config.email.enabled, false);
  assert.deepEqual(problemsOf(text, { SITE: "x.example", BATCH: "1" }), [
    'config.yaml: shotgrid.script_key: environment variable "SG_SCRIPT_KEY" is not set; set it or write ${SG_SCRIPT_KEY:-default}',
  ]);
});

Deno.test("parseConfig() applies every default", () => {
  const config = parseConfig(stringify(minimal), { file: "/srv/sg/config.yaml", env: {} });
  assert.deepEqual(config, {
    source: "/srv/sg/config.yaml",
    shotgrid: {
      url: "https://site.example",
      scriptName: "sgevents",
      scriptKey: "k3y-value",
      proxy: null,
      useSessionUuid: false,
      timeoutMs: 30_000,
    },
    daemon: {
      stateFile: "/srv/sg/var/state.json",
      fetchIntervalMs: 5000,
      maxEventBatchSize: 500,
      backlogTimeoutMs: 300_000,
      startAt: "latest",
      maxConnRetries: 5,
      connRetrySleepMs: 60_000,
      progressIntervalMs: 30_000,
      shutdownTimeoutMs: 10_000,
      ignoreScriptUsers: [],
      narrowReads: true,
      stateUrl: null,
      statePassword: null,
      name: "default",
      leaseTimeoutMs: 10_000,
      readAhead: 4,
    },
    plugins: {
      paths: ["/srv/sg/plugins"],
      callbackTimeoutMs: 60_000,
      retries: 3,
      rescanIntervalMs: 30_000,
      workers: null,
      settings: {},
      order: "per_plugin",
      orderedGroups: [],
    },
    logging: {
      level: "info",
      dir: null,
      perPlugin: true,
      timing: false,
      format: "auto",
      levels: {},
      maxFileBytes: 10 * 1024 * 1024,
      maxFiles: 5,
    },
    email: {
      enabled: false,
      server: "localhost",
      port: 25,
      security: "none",
      username: null,
      password: null,
      from: "sgevents@localhost",
      to: [],
      subject: "sgevents: {plugin} error",
      rateLimit: 10,
      rateWindowMs: 3_600_000,
    },
    http: null,
  });
});

Deno.test("parseConfig() resolves plugin settings and relative paths from the config folder", () => {
  const text = stringify({
    ...minimal,
    daemon: { state_file: "state/s.json", start_at: 1234 },
    plugins: {
      paths: ["./plugins", "/abs/plugins", "../shared"],
      workers: 3,
      settings: {
        notify: {
          enabled: false,
          isolate: true,
          permissions: { net: true, read: ["data", "/mnt/x"], write: false, env: ["HOME"] },
          callback_timeout: "5m",
          retries: 0,
          start_at: "oldest",
          projects: [122, 130],
        },
        bare: null,
      },
    },
    logging: { dir: "logs", levels: { "sgevents.engine": "DEBUG", "sgevents.plugin.x": "warn" } },
    email: { username: "mailer", password: "pw", to: "a@x.example, b@x.example" },
  });
  const config = parseConfig(text, { file: "/srv/sg/conf/config.yaml", env: {} });
  assert.equal(config.daemon.stateFile, "/srv/sg/conf/state/s.json");
  assert.equal(config.daemon.startAt, 1234);
  assert.equal(config.plugins.workers, 3);
  assert.deepEqual(config.plugins.paths, [
    "/srv/sg/conf/plugins",
    "/abs/plugins",
    "/srv/sg/shared",
  ]);
  assert.deepEqual(config.plugins.settings, {
    notify: {
      enabled: false,
      isolate: true,
      permissions: {
        net: true,
        read: ["/srv/sg/conf/data", "/mnt/x"],
        write: false,
        env: ["HOME"],
      },
      callbackTimeoutMs: 300_000,
      retries: 0,
      startAt: "oldest",
      projects: [122, 130],
    },
    bare: {
      enabled: true,
      isolate: false,
      permissions: null,
      callbackTimeoutMs: null,
      retries: null,
      startAt: null,
      projects: null,
    },
  });
  assert.equal(config.logging.dir, "/srv/sg/conf/logs");
  assert.deepEqual(config.logging.levels, {
    "sgevents.engine": "debug",
    "sgevents.plugin.x": "warning",
  });
  assert.deepEqual(config.email.to, ["a@x.example", "b@x.example"]);
  assert.equal(config.email.security, "starttls");
});

Deno.test("loadConfig() reads key files relative to the config folder, trimmed and redacted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sgevents-config-" });
  try {
    await Deno.mkdir(join(dir, "secrets"));
    await Deno.writeTextFile(join(dir, "secrets", "key"), "  file-k3y-abcdef\n");
    await Deno.writeTextFile(join(dir, "secrets", "smtp"), "smtp-pw-abcdef\n");
    await Deno.writeTextFile(join(dir, "secrets", "empty"), "\n");
    const write = (shotgrid: object, email: object) =>
      Deno.writeTextFile(
        join(dir, "config.yaml"),
        stringify({
          ...minimal,
          shotgrid: { ...minimal.shotgrid, script_key: undefined, ...shotgrid },
          email,
        }),
      );
    await write({ script_key_file: "secrets/key" }, { password_file: "./secrets/smtp" });
    const config = await loadConfig(join(dir, "config.yaml"), { env: {} });
    assert.equal(config.shotgrid.scriptKey, "file-k3y-abcdef");
    assert.equal(config.email.password, "smtp-pw-abcdef");
    assert.equal(redact("key file-k3y-abcdef and smtp-pw-abcdef"), "key *** and ***");

    await write({ script_key_file: "secrets/missing" }, { password_file: "secrets/empty" });
    const error = await loadConfig(join(dir, "config.yaml"), { env: {} }).catch((e) => e);
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      `${join(dir, "config.yaml")}: shotgrid.script_key_file: cannot read "${
        join(dir, "secrets", "missing")
      }": no such file`,
      `${join(dir, "config.yaml")}: email.password_file: "${
        join(dir, "secrets", "empty")
      }" is empty; expected the secret in it`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseConfig() never shows the script key or password in its problems", () => {
  const key = "leaky-k3y-123456";
  const text = stringify({
    shotgrid: { url: key, script_name: key, script_key: key, timeout: key },
    plugins: { paths: [key] },
    email: { password: key, to: [key] },
  });
  const problems = problemsOf(text);
  assert.ok(problems.length >= 3);
  for (const line of problems) assert.ok(!line.includes(key), line);
});

Deno.test("loadConfig() reports a missing file with how to name one", async () => {
  const error = await loadConfig("/nonexistent/sgevents.yaml").catch((e) => e);
  assert.ok(error instanceof ConfigError);
  assert.equal(
    error.message,
    "/nonexistent/sgevents.yaml: cannot read the config file: no such file; give one with -c/--config or SGEVENTS_CONFIG",
  );
});

Deno.test("resolveConfigPath() prefers the flag, then SGEVENTS_CONFIG, then config.yaml", () => {
  assert.equal(resolveConfigPath("a.yaml", { SGEVENTS_CONFIG: "b.yaml" }), "a.yaml");
  assert.equal(resolveConfigPath(undefined, { SGEVENTS_CONFIG: "b.yaml" }), "b.yaml");
  assert.equal(resolveConfigPath(undefined, { SGEVENTS_CONFIG: "" }), "config.yaml");
  assert.equal(resolveConfigPath(undefined, {}), "config.yaml");
});

Deno.test("loadConfig() accepts the repository's config.yaml", async () => {
  const path = new URL("../../config.yaml", import.meta.url).pathname;
  const config = await loadConfig(path, { env: {} });
  assert.equal(config.shotgrid.url, "http://127.0.0.1:8421");
  assert.equal(config.shotgrid.scriptName, "sgevents");
  assert.equal(config.shotgrid.scriptKey, "sim-key");
  assert.equal(config.daemon.fetchIntervalMs, 1000);
  assert.equal(config.daemon.stateFile, new URL("../../var/state.json", import.meta.url).pathname);
  assert.deepEqual(config.plugins.paths, [new URL("../../plugins", import.meta.url).pathname]);
  assert.equal(config.logging.dir, new URL("../../var/log", import.meta.url).pathname);
  const withKey = await loadConfig(path, { env: { SG_SCRIPT_KEY: "real" } });
  assert.equal(withKey.shotgrid.scriptKey, "real");
});

/** A config whose aliases expand to 10^6 values (a "billion laughs" bomb). */
const aliasBomb = [
  "shotgrid: {url: https://site.example, script_name: s, script_key: k}",
  "plugins: {paths: [./plugins]}",
  'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]",
  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]",
  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]",
  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]",
  "f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]",
  "",
].join("\n");

Deno.test("parseConfig() refuses a YAML alias bomb in one line naming the file", () => {
  const error = (() => {
    try {
      parseConfig(aliasBomb, { file: "bomb.yaml", env: {} });
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof ConfigError, String(error));
  assert.equal(error.problems.length, 1);
  assert.match(error.problems[0]!, /^bomb\.yaml: cannot read YAML: Excessive alias count/);
  assert.ok(!error.message.includes("\n    at "), "no stack");
});

Deno.test("loadConfig() refuses a file that is not UTF-8, naming the byte", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "config.yaml");
    const text = stringify(minimal) + "# caf\u00e9 \ufffd is fine in UTF-8\n";
    await Deno.writeTextFile(file, text);
    await loadConfig(file, { env: {} });
    // The same file saved as Latin-1: "é" is the single byte 0xe9.
    const latin1 = Uint8Array.from(`${stringify(minimal)}# caf\u00e9\n`, (c) => c.charCodeAt(0));
    await Deno.writeFile(file, latin1);
    const error = await loadConfig(file, { env: {} }).catch((e) => e);
    assert.ok(error instanceof ConfigError, String(error));
    const offset = latin1.indexOf(0xe9);
    const line = stringify(minimal).split("\n").length;
    assert.equal(
      error.problems[0],
      `${file}: byte ${offset} (line ${line} column 6): the file is not valid UTF-8 (byte 0xe9); save it as UTF-8`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
