/**
 * End-to-end high availability: real daemon subprocesses sharing a real PostgreSQL state
 * (SGEVENTS_TEST_PG_URL, started by .ci/run), against the simulator over HTTP.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import { connect } from "../src/state/postgres_connection.ts";
import { readStateFile, StateStore } from "../src/state/state_store.ts";
import { needsPostgres, testPostgresUrl, uniqueName } from "../src/state/postgres_testing.ts";
import {
  audit,
  type DaemonProcess,
  eventually,
  root,
  spawnSgevents,
  tempDir,
  writeConfig,
} from "./helpers.ts";

const pg = needsPostgres();
const url = testPostgresUrl ?? "postgres://nobody@127.0.0.1:1/none";
const batch = 10;

/** A plugin recording `<pid> <event id>` per delivery, so each daemon's share is known. */
function pidRecorder(out: string): string {
  return `
export function registerCallbacks(reg) {
  reg.registerCallback("sgevents", "sim-key", record, null, null, true);
}
function record(sg, logger, event) {
  Deno.writeTextFileSync(${
    JSON.stringify(out)
  }, Deno.pid + " " + event.id + "\\n", { append: true });
}
`;
}

async function deliveries(file: string): Promise<{ pid: number; id: number }[]> {
  try {
    return (await Deno.readTextFile(file)).split("\n").filter((l) => l !== "").map((line) => {
      const [pid, id] = line.split(" ").map(Number);
      return { pid: pid!, id: id! };
    });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** One member's config folder (its own log folder), the plugins and the name shared. */
async function member(
  root: string,
  label: string,
  options: { simUrl: string; name: string },
): Promise<string> {
  const dir = `${root}/${label}`;
  await Deno.mkdir(dir, { recursive: true });
  return await writeConfig({
    url: options.simUrl,
    dir,
    pluginPaths: [`${root}/plugins`],
    daemon: {
      state_url: url,
      name: options.name,
      lease_timeout: "1500ms",
      max_event_batch_size: batch,
      backlog_timeout: "30s",
    },
  });
}

async function stop(daemon: DaemonProcess): Promise<void> {
  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0, daemon.output());
}

Deno.test({
  name:
    "daemon on a PostgreSQL state: a standby takes over after the leader's SIGKILL with every id delivered, and the restarted old leader waits as a standby",
  ...pg,
  fn: async () => {
    await using dir = await tempDir();
    await using sim = await startSimulator({ port: 0, preload: 30, quiet: true });
    await Deno.mkdir(`${dir.path}/plugins`);
    const out = `${dir.path}/a.ids`;
    await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, pidRecorder(out));
    const name = uniqueName("failover");
    const first = await member(dir.path, "one", { simUrl: sim.url, name });
    const second = await member(dir.path, "two", { simUrl: sim.url, name });

    await using leader = spawnSgevents(["daemon", "-c", first]);
    await leader.waitFor(`Leading daemon ${name}`);
    await using standby = spawnSgevents(["daemon", "-c", second]);
    await standby.waitFor(`Standby for daemon ${name}`);
    await eventually(async () => (await deliveries(out)).length >= 30, 30_000, "preload");
    // The standby polls nothing: every delivery so far is the leader's.
    assert.ok((await deliveries(out)).every((d) => d.pid !== standby.child.pid));

    // A transaction still open across the failover: its ids commit late.
    const tx = sim.store.begin();
    tx.create("Shot", { code: "late_shot" });
    const late = tx.ids;
    let newest = sim.store.appendEvents(25);
    leader.kill("SIGKILL");
    await leader.exited;
    newest = sim.store.appendEvents(15);
    await standby.waitFor(`Leading daemon ${name}`, 30_000);
    tx.commit();
    newest = sim.store.appendEvents(10);
    const expected = range(1, newest);
    await eventually(
      async () => {
        const ids = new Set((await deliveries(out)).map((d) => d.id));
        return expected.every((id) => ids.has(id));
      },
      30_000,
      "every id after the failover",
    );
    const all = await deliveries(out);
    const { missing, duplicates } = audit(expected, all.map((d) => d.id));
    assert.deepEqual(missing, []);
    assert.ok(late.every((id) => expected.includes(id)));
    // Repeats: at most the one batch the killed leader had in flight.
    assert.ok(duplicates.length <= batch, `repeated ${duplicates.length}: ${duplicates}`);
    // The late ids and what followed the kill came from the new leader.
    const byStandby = new Set(all.filter((d) => d.pid === standby.child.pid).map((d) => d.id));
    assert.ok(late.every((id) => byStandby.has(id)), "late ids delivered by the new leader");
    assert.ok(byStandby.has(newest));

    await using again = spawnSgevents(["daemon", "-c", first]);
    await again.waitFor(`Standby for daemon ${name}`);
    await stop(again);
    await stop(standby);
  },
});

Deno.test({
  name:
    "daemon on a PostgreSQL state: a leader whose lock connection is cut stops delivering, and the standby delivers what follows",
  ...pg,
  fn: async () => {
    await using dir = await tempDir();
    await using sim = await startSimulator({ port: 0, preload: 10, quiet: true });
    await Deno.mkdir(`${dir.path}/plugins`);
    const out = `${dir.path}/a.ids`;
    await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, pidRecorder(out));
    const name = uniqueName("fencing");
    const first = await member(dir.path, "one", { simUrl: sim.url, name });
    const second = await member(dir.path, "two", { simUrl: sim.url, name });
    const admin = connect(url, { applicationName: "sgevents test admin" });
    try {
      await using leader = spawnSgevents(["daemon", "-c", first]);
      await leader.waitFor(`Leading daemon ${name}`);
      await using standby = spawnSgevents(["daemon", "-c", second]);
      await standby.waitFor(`Standby for daemon ${name}`);
      await eventually(async () => (await deliveries(out)).length >= 10, 30_000, "preload");

      const cut = await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name = ${
        `sgevents ${name}: pid ${leader.child.pid} on ${Deno.hostname()}`.slice(0, 63)
      }`;
      assert.equal(cut.length, 1, "the leader's lock connection was found");
      await leader.waitFor(`No longer leading daemon ${name}`, 30_000);
      await standby.waitFor(`Leading daemon ${name}`, 30_000);
      // Made after the old leader stopped: only the new leader may deliver them.
      const from = sim.store.appendEvents(1);
      const newest = sim.store.appendEvents(19);
      await eventually(
        async () => {
          const ids = new Set((await deliveries(out)).map((d) => d.id));
          return range(1, newest).every((id) => ids.has(id));
        },
        30_000,
        "every id after the cut",
      );
      const late = (await deliveries(out)).filter((d) => d.id >= from);
      assert.deepEqual(late.filter((d) => d.pid === leader.child.pid), []);
      assert.ok(late.every((d) => d.pid === standby.child.pid));
      // The old leader went back to waiting, not away.
      await leader.waitFor(`Standby for daemon ${name}`);
      await stop(leader);
      await stop(standby);
    } finally {
      await admin.end({ timeout: 1 });
    }
  },
});

async function sgevents(args: string[]): Promise<{ code: number; out: string }> {
  await using run = spawnSgevents(args);
  const code = await run.exited;
  return { code, out: run.output() };
}

Deno.test({
  name:
    "sgevents state import, skip, show and export move a state between the JSON file and PostgreSQL",
  ...pg,
  fn: async () => {
    await using dir = await tempDir();
    await using sim = await startSimulator({ port: 0, preload: 5, quiet: true });
    await Deno.mkdir(`${dir.path}/plugins`);
    for (const plugin of ["a", "b"]) {
      await Deno.writeTextFile(`${dir.path}/plugins/${plugin}.ts`, pidRecorder("/dev/null"));
    }
    const original = `${dir.path}/original.json`;
    {
      await using store = await StateStore.open(original, {
        site: sim.url,
        backlogTimeoutMs: 60_000,
      });
      store.place("a", 40).advance(42, { waiting: [41] });
      store.place("b", 7);
    }
    const name = uniqueName("transfer");
    const config = await member(dir.path, "one", { simUrl: sim.url, name });

    const imported = await sgevents(["state", "import", original, "-c", config]);
    assert.equal(imported.code, 0, imported.out);
    assert.match(imported.out, /Imported 2 plugin state\(s\)/);
    const skipped = await sgevents(["state", "skip", "b", "--to", "3", "--force", "-c", config]);
    assert.equal(skipped.code, 0, skipped.out);
    assert.match(skipped.out, /\(applied\)/);
    const shown = await sgevents(["state", "show", "--json", "--offline", "-c", config]);
    const report = JSON.parse(shown.out);
    assert.equal(report.daemon, null);
    assert.deepEqual(report.standbys, []);
    assert.deepEqual(
      report.plugins.map((p: { plugin: string; cursor: number; backlog: number }) => [
        p.plugin,
        p.cursor,
        p.backlog,
      ]),
      [["a", 42, 1], ["b", 3, 0]],
    );

    const exported = `${dir.path}/exported.json`;
    const out = await sgevents(["state", "export", exported, "-c", config]);
    assert.equal(out.code, 0, out.out);
    const back = (await readStateFile(exported))!;
    assert.deepEqual([...back.plugins.get("a")!.backlog.keys()], [41]);
    assert.equal(back.plugins.get("a")!.cursor, 42);
    assert.equal(back.plugins.get("b")!.cursor, 3);
    assert.equal(back.site, sim.url);

    // And back into a JSON state file (a daemon without state_url).
    await Deno.mkdir(`${dir.path}/file`);
    const fileConfig = await writeConfig({
      url: sim.url,
      dir: `${dir.path}/file`,
      pluginPaths: [`${dir.path}/plugins`],
    });
    const toFile = await sgevents(["state", "import", exported, "-c", fileConfig]);
    assert.equal(toFile.code, 0, toFile.out);
    const file = (await readStateFile(`${dir.path}/file/state.json`))!;
    assert.deepEqual(
      [...file.plugins].map(([plugin, p]) => [plugin, p.cursor, [...p.backlog.keys()]]),
      [["a", 42, [41]], ["b", 3, []]],
    );
  },
});

Deno.test({
  name:
    "sgevents state show names the leader and the standbys, and state skip reaches the leader through the database",
  ...pg,
  fn: async () => {
    await using dir = await tempDir();
    await using sim = await startSimulator({ port: 0, preload: 5, quiet: true });
    await Deno.mkdir(`${dir.path}/plugins`);
    await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, pidRecorder(`${dir.path}/a.ids`));
    const name = uniqueName("operate");
    const first = await member(dir.path, "one", { simUrl: sim.url, name });
    const second = await member(dir.path, "two", { simUrl: sim.url, name });
    await using leader = spawnSgevents(["daemon", "-c", first]);
    await leader.waitFor(`Leading daemon ${name}`);
    await using standby = spawnSgevents(["daemon", "-c", second]);
    await standby.waitFor(`Standby for daemon ${name}`);
    await eventually(async () => (await deliveries(`${dir.path}/a.ids`)).length >= 5);

    const shown = await sgevents(["state", "show", "--json", "--offline", "-c", second]);
    const report = JSON.parse(shown.out);
    assert.match(report.daemon, new RegExp(`^pid ${leader.child.pid} on `));
    assert.deepEqual(report.standbys, [`pid ${standby.child.pid} on ${Deno.hostname()}`]);

    const listed = await sgevents(["plugins", "list", "-c", second]);
    assert.match(listed.out, new RegExp(`Leader: pid ${leader.child.pid} on `));
    assert.match(listed.out, new RegExp(`Standbys: pid ${standby.child.pid} on `));

    const newest = sim.store.appendEvents(30);
    const skipped = await sgevents(["state", "skip", "a", "-c", second]);
    assert.equal(skipped.code, 0, skipped.out);
    assert.match(skipped.out, /handed to the running daemon/);
    await eventually(async () => {
      const view = await sgevents(["state", "show", "--json", "--offline", "-c", first]);
      return JSON.parse(view.out).plugins[0].cursor >= newest;
    });
    await stop(standby);
    await stop(leader);
  },
});

/** A private cluster (scripts/test_postgres.sh), for an outage no other test sees. */
async function privateCluster(): Promise<
  { url: string; down(): Promise<void>; up(): Promise<void> } & AsyncDisposable
> {
  const script = `${root}scripts/test_postgres.sh`;
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(script, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(
        `${script} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    return text;
  };
  const env = await run("start");
  const value = (key: string) => new RegExp(`${key}=(\\S+)`).exec(env)![1]!;
  const dir = value("SGEVENTS_TEST_PG_DIR");
  return {
    url: value("SGEVENTS_TEST_PG_URL"),
    down: async () => void await run("down", dir),
    up: async () => void await run("up", dir),
    [Symbol.asyncDispose]: async () => void await run("stop", dir),
  };
}

Deno.test({
  name:
    "daemon on a PostgreSQL state stops delivering while the database is down and leads again, nothing lost, when it is back",
  ...pg,
  fn: async () => {
    await using cluster = await privateCluster();
    await using dir = await tempDir();
    await using sim = await startSimulator({ port: 0, preload: 10, quiet: true });
    await Deno.mkdir(`${dir.path}/plugins`);
    const out = `${dir.path}/a.ids`;
    await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, pidRecorder(out));
    const name = uniqueName("outage");
    const config = await writeConfig({
      url: sim.url,
      dir: dir.path,
      daemon: {
        state_url: cluster.url,
        name,
        lease_timeout: "1500ms",
        max_event_batch_size: batch,
      },
    });
    await using daemon = spawnSgevents(["daemon", "-c", config]);
    await daemon.waitFor(`Leading daemon ${name}`);
    await eventually(async () => (await deliveries(out)).length >= 10, 30_000, "preload");

    await cluster.down();
    await daemon.waitFor(`No longer leading daemon ${name}`, 30_000);
    await daemon.waitFor("Cannot reach the state database", 30_000);
    // Made while the daemon cannot lead: nothing may deliver them until the database is back.
    const from = sim.store.appendEvents(1);
    const newest = sim.store.appendEvents(14);
    assert.deepEqual((await deliveries(out)).filter((d) => d.id >= from), []);

    await cluster.up();
    await daemon.waitFor("State database reachable again", 30_000);
    await eventually(
      async () => {
        const ids = new Set((await deliveries(out)).map((d) => d.id));
        return range(1, newest).every((id) => ids.has(id));
      },
      30_000,
      "every id after the outage",
    );
    const { missing, duplicates } = audit(
      range(1, newest),
      (await deliveries(out)).map((d) => d.id),
    );
    assert.deepEqual(missing, []);
    assert.ok(duplicates.length <= batch, `repeated ${duplicates.length}`);
    assert.equal(
      daemon.output().match(/Cannot reach the state database/g)?.length,
      1,
      "logged once",
    );
    await stop(daemon);
  },
});

Deno.test({
  name:
    "the leader's HTTP API sends actions through the database's requests table, and its metrics count the group",
  ...pg,
  fn: async () => {
    await using dir = await tempDir();
    await using sim = await startSimulator({ port: 0, preload: 5, quiet: true });
    await Deno.mkdir(`${dir.path}/plugins`);
    await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, pidRecorder(`${dir.path}/a.ids`));
    await Deno.writeTextFile(`${dir.path}/token`, "t0ken-for-ha-test\n");
    const name = uniqueName("http");
    const file = await member(dir.path, "one", { simUrl: sim.url, name });
    const config = JSON.parse(await Deno.readTextFile(file));
    config.http = { listen: "127.0.0.1:0", token_file: `${dir.path}/token` };
    await Deno.writeTextFile(file, JSON.stringify(config));
    await using leader = spawnSgevents(["daemon", "-c", file]);
    await leader.waitFor("HTTP listening on");
    const api = /HTTP listening on "?(http:\/\/127\.0\.0\.1:\d+)/.exec(leader.output())![1]!;
    await eventually(async () => (await deliveries(`${dir.path}/a.ids`)).length >= 5);
    const response = await fetch(`${api}/api/plugins/a/skip`, {
      method: "POST",
      headers: { authorization: "Bearer t0ken-for-ha-test" },
      body: JSON.stringify({ to: "latest" }),
    });
    const answer = await response.json();
    assert.equal(response.status, 200, JSON.stringify(answer));
    assert.equal(answer.applied, true, JSON.stringify(answer));
    const admin = connect(url, { applicationName: "sgevents test admin" });
    try {
      const rows = await admin`SELECT body FROM sgevents_request WHERE daemon = ${name}`;
      assert.equal(rows.length, 1);
    } finally {
      await admin.end({ timeout: 1 });
    }
    // The leader's metrics name its epoch and count the group.
    await using standby = spawnSgevents([
      "daemon",
      "-c",
      await member(dir.path, "two", { simUrl: sim.url, name }),
    ]);
    await standby.waitFor(`Standby for daemon ${name}`);
    const text = await (await fetch(`${api}/metrics`)).text();
    const me = `pid ${leader.child.pid} on ${Deno.hostname()}`;
    assert.match(text, new RegExp(`sgevents_leader_epoch\\{daemon="${name}",member="${me}"\\} 1`));
    assert.match(text, new RegExp(`sgevents_group_members\\{daemon="${name}",role="leader"\\} 1`));
    assert.match(text, new RegExp(`sgevents_group_members\\{daemon="${name}",role="standby"\\} 1`));
    await stop(standby);
    await stop(leader);
  },
});
