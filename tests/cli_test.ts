/**
 * The command line as users see it: help and error text (snapshots), exit codes, and the
 * plugins commands.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import { recorderPlugin, spawnSgevents, tempDir, writeConfig } from "./helpers.ts";
import { assertSnapshot } from "./snapshot.ts";

async function run(
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; out: string }> {
  await using p = spawnSgevents(args, env ? { env } : {});
  const code = await p.exited;
  return { code, out: p.output() };
}

Deno.test("sgevents --help on every level matches its snapshot", async () => {
  const commands = [
    [],
    ["daemon"],
    ["state"],
    ["state", "show"],
    ["state", "skip"],
    ["state", "forget"],
    ["state", "failed"],
    ["plugins"],
    ["plugins", "list"],
    ["plugins", "check"],
    ["plugins", "resume"],
    ["plugins", "pause"],
    ["plugins", "retry-failed"],
    ["plugins", "init"],
    ["replay"],
    ["dispatch"],
    ["sim"],
    ["validate"],
    ["version"],
  ];
  const results = await Promise.all(commands.map((c) => run([...c, "--help"])));
  for (const [i, command] of commands.entries()) {
    const { code, out } = results[i]!;
    assert.equal(code, 0, `${command.join(" ")} --help exits 0`);
    await assertSnapshot(`help-${command.join("-") || "sgevents"}`, out);
  }
});

Deno.test("sgevents usage errors exit 2 with one clear line", async () => {
  const cases: [string, string[]][] = [
    ["unknown-command", ["deamon"]],
    ["unknown-option", ["daemon", "--fast"]],
    ["skip-without-plugins", ["state", "skip", "-c", "config.yaml"]],
    ["skip-bad-to", ["state", "skip", "a", "--to", "yesterday", "-c", "config.yaml"]],
    ["missing-config", ["daemon", "-c", "/nonexistent/sgevents.yaml"]],
  ];
  for (const [name, args] of cases) {
    const { code, out } = await run(args);
    assert.equal(code, 2, `${name}: ${out}`);
    assert.ok(!out.includes("    at "), `${name}: no stack trace`);
    await assertSnapshot(`error-${name}`, out);
  }
});

Deno.test("sgevents validate lists every problem of a broken config and exits 2", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/bad.yaml`;
  await Deno.writeTextFile(
    file,
    `shotgrid:
  url: not-a-url
  script_name: sgevents
daemon:
  fetch_interval: 5x
  max_event_batch_size: 0
  start_at: yesterday
  fetch_intervall: 5s
plugins:
  paths: []
`,
  );
  const { code, out } = await run(["validate", "-c", file]);
  assert.equal(code, 2);
  await assertSnapshot("error-validate", out.replaceAll(dir.path, "<dir>"));
});

Deno.test("sgevents state show refuses a corrupt state file with one line and exit 1", async () => {
  await using dir = await tempDir();
  const config = await writeConfig({ url: "http://127.0.0.1:9", dir: dir.path });
  await Deno.mkdir(`${dir.path}/plugins`);
  await Deno.writeTextFile(`${dir.path}/state.json`, '{"format":"sgevents-state","vers');
  const { code, out } = await run(["state", "show", "--offline", "-c", config]);
  assert.equal(code, 1);
  await assertSnapshot("error-corrupt-state", out.replaceAll(dir.path, "<dir>"));
  assert.equal(
    await Deno.readTextFile(`${dir.path}/state.json`),
    '{"format":"sgevents-state","vers',
  );
});

Deno.test("sgevents plugins list, check and resume report plugins and their state", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 12, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  await Deno.writeTextFile(
    `${dir.path}/plugins/flaky.ts`,
    recorderPlugin(`${dir.path}/flaky.ids`, { failOn: [3], matchEvents: { "*": null } }),
  );
  await Deno.writeTextFile(`${dir.path}/plugins/broken.ts`, "export const nothing = 1;\n");
  const config = await writeConfig({ url: sim.url, dir: dir.path });

  const check = await run(["plugins", "check", `${dir.path}/plugins/broken.ts`]);
  assert.equal(check.code, 1);
  assert.match(check.out, /broken: cannot load: .*registerCallbacks/);
  const good = await run(["plugins", "check", "--json", `${dir.path}/plugins/flaky.ts`]);
  assert.equal(good.code, 0, good.out);
  assert.equal(JSON.parse(good.out).callbacks.length, 1);

  // A run that pauses flaky at event 3, then the list shows it.
  const once = await run(["daemon", "--once", "-c", config]);
  assert.equal(once.code, 0, once.out);
  const list = await run(["plugins", "list", "--json", "-c", config]);
  assert.equal(list.code, 0, list.out);
  const rows = JSON.parse(list.out) as {
    name: string;
    status: string;
    worker: string | null;
    lastError: string | null;
  }[];
  const flaky = rows.find((r) => r.name === "flaky")!;
  assert.equal(flaky.status, "paused");
  assert.match(flaky.worker ?? "", /^worker \d+$/);
  assert.match(flaky.lastError ?? "", /recorder refuses event 3/);
  assert.equal(rows.find((r) => r.name === "broken")?.status, "failed");

  // Offline resume (no daemon holds the state): the file is edited under the lock.
  const resume = await run(["plugins", "resume", "flaky", "-c", config]);
  assert.equal(resume.code, 0, resume.out);
  assert.match(resume.out, /Resumed "flaky" \(applied\)/);
  const after = JSON.parse((await run(["state", "show", "--json", "--offline", "-c", config])).out);
  assert.equal(
    after.plugins.find((p: { plugin: string }) => p.plugin === "flaky").status,
    "active",
  );
  const unknown = await run(["plugins", "resume", "nope", "-c", config]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.out, /Unknown plugin\(s\) "nope"/);
});
