import assert from "node:assert/strict";
import { stringify } from "yaml";
import { redact } from "../log/redact.ts";
import { ConfigError } from "./errors.ts";
import { parseConfig } from "./load.ts";
import { configSummary, printableConfig } from "../cli/validate.ts";

const base = {
  shotgrid: { url: "https://site.example", script_name: "sgevents", script_key: "k3y-value" },
  plugins: { paths: ["./plugins"] },
};

function parse(daemon: Record<string, unknown>, env: Record<string, string> = {}) {
  return parseConfig(stringify({ ...base, daemon }), {
    file: "config.yaml",
    env,
    readFile: (path) => {
      if (path.endsWith("pg.pass")) return "from-file-pw\n";
      throw new Deno.errors.NotFound(path);
    },
  });
}

function problems(daemon: Record<string, unknown>): readonly string[] {
  try {
    parse(daemon);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail("accepted");
}

Deno.test("parseConfig() reads daemon.state_url, name and lease_timeout, with defaults", () => {
  const file = parse({});
  assert.equal(file.daemon.stateUrl, null);
  assert.equal(file.daemon.name, "default");
  assert.equal(file.daemon.leaseTimeoutMs, 10_000);
  const pg = parse({
    state_url: "postgres://sg@db.example:5432/sgevents",
    state_password_file: "./pg.pass",
    name: "studio-a",
    lease_timeout: "4s",
  });
  assert.equal(pg.daemon.stateUrl, "postgres://sg@db.example:5432/sgevents");
  assert.equal(pg.daemon.statePassword, "from-file-pw");
  assert.equal(pg.daemon.name, "studio-a");
  assert.equal(pg.daemon.leaseTimeoutMs, 4000);
});

Deno.test("parseConfig() refuses state_file and state_url together, naming both keys", () => {
  assert.deepEqual(
    problems({ state_file: "./state.json", state_url: "postgres://sg@db/sgevents" }),
    [
      "config.yaml: daemon: state_file and state_url are both set; keep one (state_url: PostgreSQL, state_file: a JSON file)",
    ],
  );
});

Deno.test("parseConfig() refuses a state_url that is not a postgres URL, and a bad name", () => {
  const lines = problems({ state_url: "mysql://db/x", name: "two words" });
  assert.ok(lines.some((l) => l.includes("daemon.state_url") && l.includes("postgres://")));
  assert.ok(lines.some((l) => l.includes("daemon.name")));
});

Deno.test("parseConfig() keeps a state_url password from ${VAR} out of every message", () => {
  const config = parse({ state_url: "postgres://sg:${PGPW}@db/sgevents" }, { PGPW: "s3cr3t-pw" });
  assert.ok(config.daemon.stateUrl?.includes("s3cr3t-pw"));
  assert.equal(
    redact("connecting to postgres://sg:s3cr3t-pw@db"),
    "connecting to postgres://sg:***@db",
  );
});

Deno.test("configSummary() and printableConfig() show the PostgreSQL state without its password", () => {
  const config = parse({ state_url: "postgres://sg:${PGPW}@db:5432/sgevents", name: "a" }, {
    PGPW: "s3cr3t-pw",
  });
  const line = configSummary(config).find((l) => l.includes("state:"))!;
  assert.equal(line, '  state:        postgres://sg@db:5432/sgevents as daemon "a" (lease 10 s)');
  const printable = JSON.stringify(printableConfig(config));
  assert.ok(!printable.includes("s3cr3t-pw"), printable);
  assert.ok(printable.includes("postgres://sg:***@db:5432/sgevents"));
  const fromFile = printableConfig(parse({
    state_url: "postgres://sg@db/sgevents",
    state_password_file: "./pg.pass",
  }));
  assert.equal(fromFile.daemon.statePassword, "***");
});
