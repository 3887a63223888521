/**
 * End-to-end: the real daemon (a subprocess of main.ts) against the simulator over HTTP,
 * with recording plugins in their own Workers.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import { readStateFile } from "../src/state/state_store.ts";
import {
  audit,
  eventually,
  readIds,
  recorderPlugin,
  spawnSgevents,
  tempDir,
  writeConfig,
} from "./helpers.ts";

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

Deno.test("daemon delivers late gaps exactly once and expires ids that never commit", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 20, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  for (const name of ["a", "b"]) {
    await Deno.writeTextFile(
      `${dir.path}/plugins/${name}.ts`,
      recorderPlugin(`${dir.path}/${name}.ids`),
    );
  }
  const config = await writeConfig({
    url: sim.url,
    dir: dir.path,
    daemon: { backlog_timeout: "2s" },
  });
  await using daemon = spawnSgevents(["daemon", "-c", config]);
  await eventually(
    async () => (await readIds(`${dir.path}/b.ids`)).length === 20,
    30_000,
    "preload",
  );

  const tx = sim.store.begin();
  tx.create("Shot", { code: "late_shot" });
  const late = tx.ids;
  const [lost] = sim.store.allocateLostIds(1);
  const after = sim.store.appendEvents(5);
  await eventually(
    async () => (await readIds(`${dir.path}/a.ids`)).includes(after),
    20_000,
    "after",
  );
  await daemon.waitFor(`Adding event id ${late[0]} to backlog`);
  tx.commit();
  for (const name of ["a", "b"]) {
    await eventually(
      async () => {
        const ids = await readIds(`${dir.path}/${name}.ids`);
        return late.every((id) => ids.includes(id));
      },
      20_000,
      `${name}: late ids`,
    );
    await daemon.waitFor(new RegExp(`Processed id ${late[0]} from backlog plugin="${name}"`));
    await daemon.waitFor(
      new RegExp(`Timeout elapsed on backlog event id ${lost} plugin="${name}"`),
      20_000,
    );
  }

  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0);
  const expected = range(1, after).filter((id) => id !== lost);
  for (const name of ["a", "b"]) {
    const ids = await readIds(`${dir.path}/${name}.ids`);
    assert.deepEqual(audit(expected, ids), { missing: [], duplicates: [] }, name);
    // The late ids arrive after the events that followed them, and nothing is repeated.
    assert.ok(ids.indexOf(late[0]!) > ids.indexOf(after), `${name}: late event delivered late`);
  }
  const state = await readStateFile(`${dir.path}/state.json`);
  assert.equal(state?.plugins.get("a")?.cursor, after);
  assert.equal(state?.plugins.get("a")?.backlog.size, 0);
});

Deno.test("daemon keeps its request rate flat while a gap waits", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 10, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  for (const name of ["a", "b", "c"]) {
    await Deno.writeTextFile(
      `${dir.path}/plugins/${name}.ts`,
      recorderPlugin(`${dir.path}/${name}.ids`),
    );
  }
  const config = await writeConfig({
    url: sim.url,
    dir: dir.path,
    daemon: { backlog_timeout: "1m", fetch_interval: "200ms" },
  });
  await using daemon = spawnSgevents(["daemon", "-c", config]);
  sim.store.allocateLostIds(3);
  const last = sim.store.appendEvents(3);
  await eventually(
    async () => (await readIds(`${dir.path}/c.ids`)).includes(last),
    30_000,
    "events",
  );
  await daemon.waitFor("to backlog");
  // Three plugins wait for three ids: per 200 ms poll, one page read and one id lookup
  // at most, whatever the number of plugins or missing ids.
  const before = sim.stats.requests;
  await new Promise((r) => setTimeout(r, 2_000));
  const requests = sim.stats.requests - before;
  assert.ok(requests <= 2 * (2_000 / 200) + 4, `${requests} requests in 2 s`);
  assert.ok(requests >= 4, `${requests} requests in 2 s: the daemon still polls`);
  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0);
});

Deno.test("daemon pauses a throwing plugin at its event, the others go on, and a fix resumes it", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 30, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  await Deno.writeTextFile(
    `${dir.path}/plugins/bad.ts`,
    recorderPlugin(`${dir.path}/bad.ids`, { failOn: [12] }),
  );
  await Deno.writeTextFile(`${dir.path}/plugins/good.ts`, recorderPlugin(`${dir.path}/good.ids`));
  const config = await writeConfig({ url: sim.url, dir: dir.path });
  await using daemon = spawnSgevents(["daemon", "-c", config]);
  await daemon.waitFor("paused at event 12");
  await eventually(
    async () => (await readIds(`${dir.path}/good.ids`)).length === 30,
    20_000,
    "good",
  );
  assert.deepEqual(await readIds(`${dir.path}/bad.ids`), range(1, 11));

  const show = spawnSgevents(["state", "show", "--json", "--offline", "-c", config]);
  assert.equal(await show.exited, 4, `a plugin is paused: exit 4\n${show.output()}`);
  const report = JSON.parse(show.output());
  const bad = report.plugins.find((p: { plugin: string }) => p.plugin === "bad");
  assert.equal(bad.status, "paused");
  assert.equal(bad.pausedAt, 12);
  assert.match(bad.lastError, /recorder refuses event 12/);
  assert.match(report.daemon, /pid/);

  // The fix: the same plugin without the failure. The watcher reloads it and it resumes at 12.
  await Deno.writeTextFile(`${dir.path}/plugins/bad.ts`, recorderPlugin(`${dir.path}/bad.ids`));
  await eventually(
    async () => (await readIds(`${dir.path}/bad.ids`)).length === 30,
    20_000,
    "resume",
  );
  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0);
  assert.deepEqual(audit(range(1, 30), await readIds(`${dir.path}/bad.ids`)), {
    missing: [],
    duplicates: [],
  });
});

Deno.test("daemon refuses to start on a state file another daemon holds", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 1, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  const config = await writeConfig({ url: sim.url, dir: dir.path });
  await using first = spawnSgevents(["daemon", "-c", config]);
  await first.waitFor("starting");
  await using second = spawnSgevents(["daemon", "-c", config]);
  assert.equal(await second.exited, 1);
  assert.match(
    second.output(),
    /Cannot lock state file ".*state\.json": another sgevents process holds it \(sgevents daemon pid \d+/,
  );
  first.kill("SIGTERM");
  assert.equal(await first.exited, 0);
});

Deno.test("state skip hands the change to a running daemon", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 10, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  await Deno.writeTextFile(
    `${dir.path}/plugins/stuck.ts`,
    recorderPlugin(`${dir.path}/stuck.ids`, { failOn: [5] }),
  );
  const config = await writeConfig({ url: sim.url, dir: dir.path });
  await using daemon = spawnSgevents(["daemon", "-c", config]);
  await daemon.waitFor("paused at event 5");
  await using skip = spawnSgevents(["state", "skip", "stuck", "-c", config]);
  assert.equal(await skip.exited, 0, skip.output());
  assert.match(skip.output(), /handed to the running daemon/);
  const last = sim.store.appendEvents(2);
  await eventually(
    async () => (await readIds(`${dir.path}/stuck.ids`)).includes(last),
    20_000,
    "after skip",
  );
  assert.deepEqual(await readIds(`${dir.path}/stuck.ids`), [1, 2, 3, 4, last - 1, last]);
  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0);
});

Deno.test("daemon logs catch-up progress while a plugin works through a backlog", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 400, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  await Deno.writeTextFile(
    `${dir.path}/plugins/slow.ts`,
    recorderPlugin(`${dir.path}/slow.ids`, { delayMs: 5 }),
  );
  const config = await writeConfig({
    url: sim.url,
    dir: dir.path,
    daemon: { progress_interval: "300ms", max_event_batch_size: 50 },
  });
  await using daemon = spawnSgevents(["daemon", "-c", config]);
  await daemon.waitFor(
    /Catching up: plugin slow at event \d+, \d+ ids\/s, \d+ ids behind the newest seen, about \d+ s to go/,
  );
  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0);
  // Stopped mid-backlog: whatever was delivered was delivered once, in order.
  const ids = await readIds(`${dir.path}/slow.ids`);
  assert.deepEqual(ids, range(1, ids.length));
});

Deno.test("daemon --once reads settled events narrowed to what its plugins want", async () => {
  await using dir = await tempDir();
  // 20,000 events 50 ms apart: all but the newest minute are settled (backlog_timeout 2 s).
  await using sim = await startSimulator({ port: 0, preload: 20_000, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  await Deno.writeTextFile(
    `${dir.path}/plugins/logins.ts`,
    recorderPlugin(`${dir.path}/logins.ids`, { matchEvents: { Shotgun_User_Login: null } }),
  );
  await Deno.writeTextFile(
    `${dir.path}/plugins/versions.ts`,
    recorderPlugin(`${dir.path}/versions.ids`, { matchEvents: { "Shotgun_Version_*": null } }),
  );
  const project = sim.store.getEvent(1)!.project!.id;
  const config = await writeConfig({
    url: sim.url,
    dir: dir.path,
    daemon: { backlog_timeout: "2s" },
    plugins: { settings: { versions: { projects: [project] } } },
  });
  const searches = sim.stats.byRoute.search;
  await using daemon = spawnSgevents(["daemon", "--once", "-c", config]);
  assert.equal(await daemon.exited, 0, daemon.output());
  assert.match(
    daemon.output(),
    /Catch-up reads are narrowed to event types Shotgun_User_Login, Shotgun_Version_\*; projects \*/,
  );
  const events = range(1, 20_000).map((id) => sim.store.getEvent(id)!);
  const logins = events.filter((e) => e.event_type === "Shotgun_User_Login");
  const versions = events.filter((e) =>
    e.event_type.startsWith("Shotgun_Version_") && e.project?.id === project
  );
  assert.ok(logins.length > 100 && versions.length > 100);
  assert.deepEqual(await readIds(`${dir.path}/logins.ids`), logins.map((e) => e.id));
  assert.deepEqual(await readIds(`${dir.path}/versions.ids`), versions.map((e) => e.id));
  // Whole pages would take 40 reads; about 14% of the settled events are wanted (6 pages),
  // plus 3 whole pages for the newest minute and a few edge lookups.
  const reads = sim.stats.byRoute.search - searches;
  assert.ok(reads < 20, `${reads} searches`);
});
