import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const entry = fileURLToPath(new URL("./testdata/sim_entry.ts", import.meta.url));

async function firstLine(
  stream: ReadableStream<Uint8Array>,
): Promise<{ line: string; text: string; rest: ReadableStream<string> }> {
  const lines = stream.pipeThrough(new TextDecoderStream());
  const reader = lines.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  return { line: text.split("\n")[0]!, text, rest: lines };
}

Deno.test("simCommand() prints the base URL first, serves, and exits 0 on SIGTERM", async () => {
  const dir = await Deno.makeTempDir();
  const schemaFile = `${dir}/schema.json`;
  await Deno.writeTextFile(
    schemaFile,
    JSON.stringify({ entities: { CustomEntity01: { display_name: "Episode" } } }),
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      // What the yaml package reads (the sim task allows the same).
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      entry,
      "--preload",
      "1200",
      "--late-delay",
      "2s",
      "--latency",
      "5ms",
      "--schema",
      schemaFile,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const { line, text, rest } = await firstLine(child.stdout);
    assert.match(line, /^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await (await fetch(`${line}/_sim/health`)).json();
    assert.deepEqual(health, { ok: true, lastEventId: 1200, eventCount: 1200 });
    const token = await fetch(`${line}/api/v1/auth/access_token`, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: "sgevents",
        client_secret: "sim-key",
      }),
    });
    assert.equal(token.status, 200);
    const { access_token: bearer } = await token.json();
    const schema = await fetch(`${line}/api/v1/schema`, {
      headers: { authorization: `Bearer ${bearer}` },
    });
    assert.equal((await schema.json()).data.CustomEntity01.name.value, "Episode");
    // --latency is the site's own speed: set at start, kept when faults are cleared.
    const faults = async (path: string, body: unknown) =>
      await (await fetch(`${line}/_sim/${path}`, {
        method: "POST",
        body: JSON.stringify(body),
      })).json();
    assert.equal((await faults("faults", {})).settings.latencyMs, 5);
    await faults("clear", {});
    assert.equal((await faults("faults", {})).settings.latencyMs, 5);
    child.kill("SIGTERM");
    const status = await child.status;
    assert.equal(status.code, 0);
    const output = await Array.fromAsync(rest);
    assert.match(text + output.join(""), /script: sgevents {2}key: sim-key/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("simCommand() refuses a bad duration with a usage error", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-read", entry, "--late-delay", "soon"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.notEqual(out.code, 0);
  assert.match(new TextDecoder().decode(out.stderr), /--late-delay.*duration/);
});

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** The `sim` task's own command line from deno.json (its permissions), run from the repo root. */
async function runSimTask(...extra: string[]): Promise<Deno.CommandOutput> {
  const config = JSON.parse(await Deno.readTextFile(`${repoRoot}deno.json`));
  const [deno, ...args] = String(config.tasks.sim).split(/\s+/);
  assert.equal(deno, "deno");
  return await new Deno.Command(Deno.execPath(), {
    args: [...args, ...extra],
    cwd: repoRoot,
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("deno task sim --help exits 0 under the task's own permissions and shows the options", async () => {
  const out = await runSimTask("--help");
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(stdout, /--log-script-writes/);
  assert.match(stdout, /--schema <file>/);
  assert.match(stdout, /jo \/ jo-pass/);
});

Deno.test("deno task sim --schema refuses a bad schema file with one line naming the file and key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/schema.yaml`;
    await Deno.writeTextFile(file, "entities:\n  Shot:\n    fields:\n      vendor: text\n");
    const out = await runSimTask("--port", "0", "--schema", file);
    assert.equal(out.code, 2);
    assert.equal(
      new TextDecoder().decode(out.stderr).trim(),
      `${file}: entities.Shot.fields.vendor: custom fields are named sg_*`,
    );
    assert.equal(new TextDecoder().decode(out.stdout), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
