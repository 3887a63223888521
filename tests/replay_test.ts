/**
 * The operator's run-time tools over the real CLI and daemon against the simulator (issue
 * 11): replay of a range beside the lane (resumed after a hard kill), pause and resume,
 * the failed events and their retry, and `state show`'s exit codes and lag in seconds.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import { readStateFile } from "../src/state/state_store.ts";
import {
  eventually,
  readIds,
  recorderPlugin,
  spawnSgevents,
  tempDir,
  writeConfig,
} from "./helpers.ts";
import { listeningUrl, metric, writeHttpConfig } from "./http_helpers.ts";

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

async function run(config: string, ...args: string[]): Promise<{ code: number; output: string }> {
  await using child = spawnSgevents([...args, "-c", config]);
  return { code: await child.exited, output: child.output().trim() };
}

async function pluginState(dir: string, name: string) {
  return (await readStateFile(`${dir}/state.json`))?.plugins.get(name);
}

Deno.test("sgevents replay delivers a range again to one plugin in id order, cursor kept, resumed after a hard kill", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 30, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  const aIds = `${dir.path}/a.ids`;
  await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, recorderPlugin(aIds, { delayMs: 150 }));
  await Deno.writeTextFile(`${dir.path}/plugins/b.ts`, recorderPlugin(`${dir.path}/b.ids`));
  const config = await writeConfig({
    url: sim.url,
    dir: dir.path,
    daemon: { max_event_batch_size: 2 },
  });
  assert.equal((await run(config, "daemon", "--once")).code, 0);
  assert.deepEqual(await readIds(aIds), range(1, 30));

  const above = await run(config, "replay", "a", "--from", "25", "--to", "31");
  assert.equal(above.code, 2);
  assert.match(above.output, /its cursor is at 30, and events after it are not delivered yet/);
  const reversed = await run(config, "replay", "a", "--from", "9", "--to", "3");
  assert.equal(reversed.code, 2);
  assert.match(reversed.output, /--from 9 is above --to 3/);
  const unknown = await run(config, "replay", "nope", "--from", "1", "--to", "3");
  assert.equal(unknown.code, 2);
  assert.match(unknown.output, /Unknown plugin.*"nope"/);

  const dry = await run(config, "replay", "a", "--from", "5", "--to", "12", "--dry-run");
  assert.equal(dry.code, 0, dry.output);
  assert.equal(dry.output, `Would replay 8 event(s) to "a": 5-12`);
  assert.equal((await pluginState(dir.path, "a"))?.replay, null, "a dry run changes nothing");

  // No daemon: the replay is saved, and shown, and starts with the next daemon.
  const started = await run(config, "replay", "a", "--from", "5", "--to", "12");
  assert.equal(started.code, 0, started.output);
  assert.match(started.output, /Replaying events 5 to 12 to "a" \(applied\)/);
  const shown = await run(config, "state", "show", "--json", "--offline");
  assert.equal(shown.code, 3, "no daemon: exit 3");
  const row = JSON.parse(shown.output).plugins.find((p: { plugin: string }) => p.plugin === "a");
  assert.deepEqual([row.replay.from, row.replay.to, row.replay.next], [5, 12, 5]);
  const again = await run(config, "replay", "a", "--from", "1", "--to", "2");
  assert.equal(again.code, 2);
  assert.match(again.output, /one is under way \(events 5 to 12, next 5\)/);

  // Killed mid-replay (each callback takes 150 ms; batches of 2).
  {
    await using daemon = spawnSgevents(["daemon", "-c", config]);
    await eventually(async () => (await readIds(aIds)).length >= 33, 30_000, "replay under way");
    daemon.kill("SIGKILL");
    await daemon.exited;
  }
  const killed = await pluginState(dir.path, "a");
  assert.equal(killed?.cursor, 30, "the cursor did not move");
  const next = killed?.replay?.next ?? 0;
  assert.ok(next > 5 && next <= 12, `the replay was saved part-way (next ${next})`);

  assert.equal((await run(config, "daemon", "--once")).code, 0);
  // The killed run replayed 5..k in order; the next one went on from the saved `next`.
  const replayed = (await readIds(aIds)).slice(30);
  const resumed = range(next, 12);
  const killedRun = replayed.slice(0, replayed.length - resumed.length);
  assert.deepEqual(replayed.slice(killedRun.length), resumed, "resumed from where it was saved");
  assert.deepEqual(killedRun, range(5, 4 + killedRun.length), "in id order before the kill");
  const last = killedRun[killedRun.length - 1] ?? 4;
  assert.ok(last >= next - 1, "nothing skipped");
  assert.ok(last - next + 1 <= 2, "at most one batch delivered twice");
  assert.equal((await pluginState(dir.path, "a"))?.replay, null, "done");
  assert.equal((await pluginState(dir.path, "a"))?.cursor, 30);
  assert.deepEqual(await readIds(`${dir.path}/b.ids`), range(1, 30), "b got nothing again");
});

Deno.test("plugins pause through a running daemon; state show exits 0, 4 paused, 3 stopped, with lag in seconds", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 10, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  const ids = `${dir.path}/a.ids`;
  await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, recorderPlugin(ids));
  const config = await writeConfig({ url: sim.url, dir: dir.path });
  const show = async () => {
    const shown = await run(config, "state", "show", "--json");
    return { code: shown.code, row: JSON.parse(shown.output).plugins[0] };
  };
  await using daemon = spawnSgevents(["daemon", "-c", config]);
  await eventually(async () => (await readIds(ids)).length === 10, 30_000, "caught up");
  await eventually(async () => (await pluginState(dir.path, "a"))?.cursor === 10);
  const running = await show();
  assert.equal(running.code, 0, "running, every plugin active");
  assert.deepEqual([running.row.lag, running.row.lagSeconds], [0, 0]);

  const paused = await run(config, "plugins", "pause", "a");
  assert.equal(paused.code, 0, paused.output);
  assert.match(paused.output, /Paused "a" \(handed to the running daemon\)/);
  const state = await pluginState(dir.path, "a");
  assert.equal(state?.status, "paused");
  assert.equal(state?.paused?.byOperator, true);
  sim.store.appendEvents(3);
  const whilePaused = await show();
  assert.equal(whilePaused.code, 4, "a plugin paused: exit 4");
  assert.equal(whilePaused.row.lag, 3);
  assert.equal(typeof whilePaused.row.lagSeconds, "number");
  assert.ok(whilePaused.row.lagSeconds >= 0);
  assert.equal(whilePaused.row.pausedByOperator, true);
  assert.equal(whilePaused.row.lastError, null, "an operator's pause is not an error");
  const table = await run(config, "state", "show");
  assert.match(table.output, /paused by operator/);

  const resumed = await run(config, "plugins", "resume", "a");
  assert.equal(resumed.code, 0, resumed.output);
  await eventually(async () => (await readIds(ids)).length === 13, 30_000, "resumed");
  assert.deepEqual(await readIds(ids), range(1, 13), "resumed after its cursor, nothing twice");

  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0);
  assert.equal((await run(config, "state", "show", "--offline")).code, 3, "stopped: exit 3");
});

Deno.test("state failed lists skipped events; retry-failed delivers them again and clears them; lastError cleared past it", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 10, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  const ids = `${dir.path}/a.ids`;
  const flag = `${dir.path}/failing`;
  await Deno.writeTextFile(flag, "");
  // Fails on events 4 and 7 while the flag file exists (stopOnError false: skipped).
  await Deno.writeTextFile(
    `${dir.path}/plugins/a.ts`,
    `
export function registerCallbacks(reg) {
  reg.registerCallback("sgevents", "sim-key", record, null, null, false);
}
function record(sg, logger, event) {
  let failing = true;
  try { Deno.statSync(${JSON.stringify(flag)}); } catch { failing = false; }
  if (failing && (event.id === 4 || event.id === 7)) throw new Error("refuses event " + event.id);
  Deno.writeTextFileSync(${JSON.stringify(ids)}, event.id + "\\n", { append: true });
}
`,
  );
  const config = await writeConfig({
    url: sim.url,
    dir: dir.path,
    daemon: { max_event_batch_size: 5 },
    plugins: { retries: 1 },
  });
  assert.equal((await run(config, "daemon", "--once")).code, 0);
  assert.deepEqual(await readIds(ids), [1, 2, 3, 5, 6, 8, 9, 10]);
  const listed = await run(config, "state", "failed", "--json");
  assert.equal(listed.code, 0, listed.output);
  const rows = JSON.parse(listed.output);
  assert.deepEqual(
    rows.map((r: Record<string, unknown>) => [r.plugin, r.eventId, r.attempts, r.error]),
    [["a", 4, 2, "Error: refuses event 4"], ["a", 7, 2, "Error: refuses event 7"]],
  );
  assert.ok(rows.every((r: { at: string }) => !Number.isNaN(Date.parse(r.at))));
  const table = await run(config, "state", "failed");
  assert.match(table.output, /PLUGIN\s+EVENT\s+CALLBACK\s+ATTEMPTS\s+AT\s+ERROR/);
  assert.match(table.output, /a\s+7\s+record\s+2\s+\S+\s+Error: refuses event 7/);
  assert.equal((await pluginState(dir.path, "a"))?.lastError, "Error: refuses event 7");

  // The next batch that moves past it clears LAST ERROR; the failed list keeps the events.
  sim.store.appendEvents(2);
  assert.equal((await run(config, "daemon", "--once")).code, 0);
  assert.equal((await pluginState(dir.path, "a"))?.lastError, null);
  assert.equal((await pluginState(dir.path, "a"))?.failed.length, 2);

  const notFailed = await run(config, "plugins", "retry-failed", "a", "--id", "5");
  assert.equal(notFailed.code, 2);
  assert.match(notFailed.output, /event 5 for plugin "a": it is not in its failed list/);

  // Still failing: a retry records it again, with its new attempts, and keeps it.
  const first = await run(config, "plugins", "retry-failed", "a", "--id", "7");
  assert.equal(first.code, 0, first.output);
  assert.match(first.output, /Retrying event 7 of "a" \(applied\)/);
  assert.equal((await run(config, "daemon", "--once")).code, 0);
  assert.deepEqual((await pluginState(dir.path, "a"))?.failed.map((f) => f.eventId), [4, 7]);
  assert.equal((await pluginState(dir.path, "a"))?.replay, null);

  // Fixed: every failed event is retried through the running daemon, and leaves the list.
  await Deno.remove(flag);
  await using daemon = spawnSgevents(["daemon", "-c", config]);
  await daemon.waitFor("Loaded plugin a");
  const all = await run(config, "plugins", "retry-failed", "a");
  assert.equal(all.code, 0, all.output);
  assert.match(all.output, /\(handed to the running daemon\)/);
  await eventually(
    async () => (await pluginState(dir.path, "a"))?.failed.length === 0,
    30_000,
    "failed list emptied",
  );
  assert.deepEqual((await readIds(ids)).slice(-2), [4, 7], "delivered again in id order");
  assert.equal((await pluginState(dir.path, "a"))?.cursor, 12, "the cursor did not move");
  const none = await run(config, "plugins", "retry-failed", "a");
  assert.equal(none.code, 2);
  assert.match(none.output, /The running daemon refused: .*it has none/);
  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0);
});

Deno.test("the HTTP API's pause, replay and retry-failed are applied by the daemon (200, or 409 when refused)", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 10, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  const ids = `${dir.path}/a.ids`;
  await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, recorderPlugin(ids));
  const token = "operator-token-789";
  await Deno.writeTextFile(`${dir.path}/token`, token + "\n");
  const config = await writeHttpConfig(
    { url: sim.url, dir: dir.path },
    { listen: "127.0.0.1:0", token_file: "./token" },
  );
  await using daemon = spawnSgevents(["daemon", "-c", config]);
  await daemon.waitFor("HTTP listening on");
  const url = listeningUrl(daemon.output());
  const post = async (action: string, body: unknown = {}) => {
    const response = await fetch(`${url}/api/plugins/a/${action}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, json: await response.json() };
  };
  await eventually(async () => (await pluginState(dir.path, "a"))?.cursor === 10, 30_000);

  const above = await post("replay", { from: 5, to: 11 });
  assert.equal(above.status, 409, JSON.stringify(above.json));
  assert.match(above.json.error, /its cursor is at 10/);
  const metrics = async () => await (await fetch(`${url}/metrics`)).text();
  assert.equal(metric(await metrics(), 'sgevents_plugin_replay_next{plugin="a"}'), 0);
  const replay = await post("replay", { from: 8, to: 10 });
  assert.deepEqual([replay.status, replay.json.applied], [200, true]);
  await eventually(async () => (await readIds(ids)).length === 13, 30_000, "replayed");
  assert.deepEqual((await readIds(ids)).slice(10), [8, 9, 10]);
  await eventually(async () => (await pluginState(dir.path, "a"))?.replay === null);
  assert.equal(metric(await metrics(), 'sgevents_plugin_replay_next{plugin="a"}'), 0);

  const none = await post("retry-failed");
  assert.equal(none.status, 409);
  assert.match(none.json.error, /it has none/);

  const pause = await post("pause");
  assert.deepEqual([pause.status, pause.json.applied], [200, true]);
  const plugins = await (await fetch(`${url}/api/plugins`)).json();
  assert.equal(plugins.plugins[0].state, "paused");
  assert.equal(plugins.plugins[0].replay, null);
  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0);
});
