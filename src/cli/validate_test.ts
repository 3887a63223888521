import assert from "node:assert/strict";
import { join } from "node:path";
import { stringify } from "yaml";
import { ConfigError } from "../config/errors.ts";
import { parseConfig } from "../config/load.ts";
import { configSummary, printableConfig, validateCommand } from "./validate.ts";

const key = "validate-k3y-987654";
const password = "validate-smtp-pw-987654";

function yamlText(overrides: Record<string, unknown> = {}): string {
  return stringify({
    shotgrid: { url: "https://site.example", script_name: "sgevents", script_key: key },
    plugins: { paths: ["./plugins"] },
    email: { enabled: true, to: ["ops@example.com"], username: "mailer", password },
    ...overrides,
  });
}

/** Runs `validate` in-process, collecting what it prints. */
async function runValidate(args: string[]): Promise<string> {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...data: unknown[]) => lines.push(data.join(" "));
  try {
    await validateCommand().exitOverride().parseAsync(args, { from: "user" });
  } finally {
    console.log = original;
  }
  return lines.join("\n");
}

async function withConfigFile(text: string, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sgevents-validate-" });
  try {
    await Deno.writeTextFile(join(dir, "config.yaml"), text);
    await Deno.mkdir(join(dir, "plugins"));
    await fn(join(dir, "config.yaml"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("validateCommand() prints that the config is valid and a summary without secrets", async () => {
  await withConfigFile(yamlText(), async (path) => {
    const dir = path.slice(0, -"/config.yaml".length);
    const output = await runValidate(["-c", path]);
    assert.equal(
      output,
      [
        `${path} is valid`,
        '  site:         https://site.example as script "sgevents"',
        `  plugin paths: ${dir}/plugins`,
        `  state file:   ${dir}/var/state.json`,
        "  logs:         console only, level info",
        "  email:        to ops@example.com via localhost:25 (starttls)",
      ].join("\n"),
    );
  });
});

Deno.test("validateCommand() --json prints the resolved config with secrets as ***", async () => {
  await withConfigFile(yamlText(), async (path) => {
    const output = await runValidate(["-c", path, "--json"]);
    assert.ok(!output.includes(key) && !output.includes(password), output);
    const printed = JSON.parse(output);
    assert.equal(printed.shotgrid.scriptKey, "***");
    assert.equal(printed.email.password, "***");
    assert.equal(printed.daemon.fetchIntervalMs, 5000);
  });
});

Deno.test("validateCommand() throws the ConfigError with every problem", async () => {
  await withConfigFile(
    yamlText({ daemon: { fetch_interval: "5x", max_event_batch_size: 0 } }),
    async (path) => {
      const error = await runValidate(["-c", path]).catch((e) => e);
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        `${path}: daemon.fetch_interval: "5x" is not a duration above 0; use e.g. 5s, 500ms, 2m`,
        `${path}: daemon.max_event_batch_size: 0 is not an integer from 1 to 5000`,
      ]);
    },
  );
});

Deno.test("validateCommand() refuses a plugin folder that does not exist, naming key and path", async () => {
  await withConfigFile(yamlText({ plugins: { paths: ["./plugins", "./nope"] } }), async (path) => {
    const dir = path.slice(0, -"/config.yaml".length);
    await Deno.writeTextFile(join(dir, "file.ts"), "");
    const error = await runValidate(["-c", path]).catch((e) => e);
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      `${path}: plugins.paths[1]: cannot read "${dir}/nope": it does not exist; expected an existing plugin folder`,
    ]);
    await Deno.writeTextFile(path, yamlText({ plugins: { paths: ["./file.ts"] } }));
    const notFolder = await runValidate(["-c", path]).catch((e) => e);
    assert.deepEqual(notFolder.problems, [
      `${path}: plugins.paths[0]: cannot read "${dir}/file.ts": it is not a folder; expected a plugin folder`,
    ]);
  });
});

Deno.test("printableConfig() hides secrets and leaves the rest alone", () => {
  const config = parseConfig(yamlText(), { file: "/x/config.yaml", env: {} });
  const printable = printableConfig(config);
  assert.equal(printable.shotgrid.scriptKey, "***");
  assert.equal(printable.email.password, "***");
  assert.deepEqual({ ...printable, shotgrid: config.shotgrid, email: config.email }, config);
  const noMail = parseConfig(yamlText({ email: {} }), { file: "/x/config.yaml", env: {} });
  assert.equal(printableConfig(noMail).email.password, null);
  assert.match(configSummary(noMail).join("\n"), /email: +off/);
});
