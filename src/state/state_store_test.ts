import assert from "node:assert/strict";
import { StateFileError } from "./state_file.ts";
import { readStateFile, StateSaveError, StateStore, writeFileAtomic } from "./state_store.ts";
import { StateLock, StateLockedError } from "./lock.ts";
import { unwritable } from "../../tests/unwritable.ts";

const site = "http://127.0.0.1:8421";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("StateStore.checkpoint() round-trips cursors, backlogs and status", () =>
  withDir(async (dir) => {
    const file = `${dir}/state.json`;
    {
      await using store = await StateStore.open(file, {
        site,
        clock: () => 0,
        backlogTimeoutMs: 1_000,
      });
      assert.equal(store.existed, false);
      const cursor = store.place("notify", 38);
      cursor.advance(41, { waiting: [39] });
      cursor.pause({ eventId: 42, callback: "cb", error: "boom", fromBacklog: false });
      await store.checkpoint();
    }
    await using again = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 });
    assert.equal(again.existed, true);
    const p = again.plugins.get("notify")!;
    assert.equal(p.cursor, 41);
    assert.deepEqual([...p.backlog], [[39, 1_000]]);
    assert.equal(p.paused?.eventId, 42);
  }));

Deno.test("StateStore.checkpoint() coalesces concurrent requests into few writes", () =>
  withDir(async (dir) => {
    await using store = await StateStore.open(`${dir}/state.json`, {
      site,
      backlogTimeoutMs: 60_000,
    });
    const before = store.writes;
    await Promise.all(Array.from({ length: 50 }, () => store.checkpoint()));
    const writes = store.writes - before;
    assert.ok(writes <= 2, `expected at most 2 writes, got ${writes}`);
  }));

Deno.test("StateStore.open() refuses a second holder and takes over after the holder exits", () =>
  withDir(async (dir) => {
    const file = `${dir}/state.json`;
    const first = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 });
    await assert.rejects(
      () => StateStore.open(file, { site, backlogTimeoutMs: 60_000 }),
      StateLockedError,
    );
    await first.close();
    // A lock left by a killed process: the kernel released it with the process.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const f = await Deno.open(${
          JSON.stringify(file + ".lock")
        }, {read: true, write: true, create: true}); await f.lock(true); console.log("locked"); setInterval(() => {}, 1000);`,
      ],
      stdout: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    await reader.read();
    await assert.rejects(
      () => StateStore.open(file, { site, backlogTimeoutMs: 60_000 }),
      StateLockedError,
    );
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
    await using store = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 });
    assert.equal(store.existed, true);
  }));

Deno.test("StateStore.open() refuses empty, truncated, corrupt and foreign files and keeps them", () =>
  withDir(async (dir) => {
    const cases: [string, string, RegExp][] = [
      ["empty", "", /is empty/],
      ["truncated", '{"format":"sgevents-state","version":1,"plu', /not valid JSON/],
      ["corrupt", "\u0000\u0001garbage", /not valid JSON/],
      ["foreign", '{"hello":"world"}', /not an sgevents state file/],
      ["pickle", "(dp0\nS'x'\n", /not valid JSON/],
      ["newer", '{"format":"sgevents-state","version":99}', /newer than this sgevents/],
      [
        "bad cursor",
        '{"format":"sgevents-state","version":1,"site":null,"applied":[],"plugins":{"a":{"cursor":"x","backlog":[],"status":"active","paused":null,"failed":[],"processed":0}}}',
        /plugins\.a\.cursor/,
      ],
    ];
    for (const [name, content, pattern] of cases) {
      const file = `${dir}/${name.replace(" ", "_")}.json`;
      await Deno.writeTextFile(file, content);
      const error = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 }).then(
        () => null,
        (e) => e,
      );
      assert.ok(error instanceof StateFileError, `${name}: ${error}`);
      assert.match(error.message, pattern, name);
      assert.ok(error.message.includes(file), `${name}: message names the file`);
      assert.match(error.message, /\.bak|skip|upgrade/, `${name}: message says how to recover`);
      assert.equal(await Deno.readTextFile(file), content, `${name}: file untouched`);
    }
  }));

Deno.test("StateStore.open() refuses a state file written for another site", () =>
  withDir(async (dir) => {
    const file = `${dir}/state.json`;
    {
      await using _store = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 });
    }
    await assert.rejects(
      () => StateStore.open(file, { site: "https://other.example", backlogTimeoutMs: 60_000 }),
      /belongs to site/,
    );
  }));

Deno.test("writeFileAtomic() keeps the previous copy as .bak", () =>
  withDir(async (dir) => {
    const file = `${dir}/s.json`;
    await writeFileAtomic(file, "one");
    await writeFileAtomic(file, "two");
    assert.equal(await Deno.readTextFile(file), "two");
    assert.equal(await Deno.readTextFile(`${file}.bak`), "one");
  }));

Deno.test("readStateFile() refuses a missing file whose backup exists", () =>
  withDir(async (dir) => {
    const file = `${dir}/s.json`;
    await Deno.writeTextFile(`${file}.bak`, "{}");
    await assert.rejects(() => readStateFile(file), /missing but its backup/);
  }));

Deno.test("StateStore survives SIGKILL during writes: the file always parses", () =>
  withDir(async (dir) => {
    const file = `${dir}/state.json`;
    const writer = `
      import { StateStore } from ${
      JSON.stringify(new URL("./state_store.ts", import.meta.url).href)
    };
      const store = await StateStore.open(${JSON.stringify(file)}, { site: "${site}" });
      for (let i = 0; i < 200; i++) if (!store.cursor("p" + i)) store.place("p" + i, 0);
      await store.checkpoint();
      console.log("ready");
      for (let n = 1;; n++) { for (const name of store.names) store.cursor(name).rewind(n); await store.checkpoint(); }
    `;
    for (let round = 0; round < 5; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", writer],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.getReader();
      await reader.read();
      await new Promise((r) => setTimeout(r, 30 + round * 17));
      child.kill("SIGKILL");
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel();
      const doc = await readStateFile(file);
      assert.ok(doc, "state file exists");
      assert.equal(doc.plugins.size, 200);
    }
  }));

Deno.test("StateStore.open() refuses a second holder after the lock file was deleted", () =>
  withDir(async (dir) => {
    const file = `${dir}/state.json`;
    await using first = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 });
    await Deno.remove(`${file}.lock`);
    const error = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 }).then(
      () => null,
      (e) => e,
    );
    assert.ok(error instanceof StateLockedError, String(error));
    assert.match(error.message, /another sgevents process holds it/);
    assert.notEqual(await StateLock.holder(file), null, "holder() still sees the daemon");
    // The first holder keeps saving (it still holds the state file itself).
    first.acknowledge([], 7);
    await first.checkpoint();
    await first.checkpoint();
    const other = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 }).then(
      () => null,
      (e) => e,
    );
    assert.ok(other instanceof StateLockedError, `after saves: ${other}`);
  }));

Deno.test("StateStore.checkpoint() stops when another process replaced the state file", () =>
  withDir(async (dir) => {
    const file = `${dir}/state.json`;
    const store = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 });
    await Deno.writeTextFile(`${dir}/other.json`, await Deno.readTextFile(file));
    await Deno.rename(`${dir}/other.json`, file);
    const error = await store.close().then(() => null, (e) => e);
    assert.ok(error instanceof StateSaveError, String(error));
    assert.match(error.message, /state file ".*state\.json": it was replaced by another process/);
    assert.equal(error.retriable, false, "writing on would overwrite the other process's save");
  }));

Deno.test("StateStore.checkpoint() never follows or overwrites a planted temp file or link", () =>
  withDir(async (dir) => {
    const file = `${dir}/state.json`;
    const victim = `${dir}/victim.txt`;
    await Deno.writeTextFile(victim, "precious");
    await Deno.symlink(victim, `${file}.tmp`);
    await Deno.symlink(victim, `${file}.bak.tmp`);
    await using store = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 });
    store.acknowledge([], 3);
    await store.checkpoint();
    await store.checkpoint();
    assert.equal(await Deno.readTextFile(victim), "precious");
    assert.ok((await Deno.lstat(`${file}.tmp`)).isSymlink, "the planted link is left alone");
    assert.ok((await Deno.lstat(`${file}.bak.tmp`)).isSymlink);
    assert.ok((await Deno.lstat(file)).isFile);
    assert.equal((await readStateFile(file))?.requestsOffset, 3);
    const left = [];
    for await (const entry of Deno.readDir(dir)) left.push(entry.name);
    assert.deepEqual(
      left.sort(),
      [
        "state.json",
        "state.json.bak",
        "state.json.bak.tmp",
        "state.json.lock",
        "state.json.tmp",
        "victim.txt",
      ],
      "no temp file left behind",
    );
  }));

Deno.test("StateStore.open() refuses a symlinked state file or lock file, naming it", () =>
  withDir(async (dir) => {
    const real = `${dir}/real.json`;
    {
      await using _store = await StateStore.open(real, { site, backlogTimeoutMs: 60_000 });
    }
    const before = await Deno.readTextFile(real);
    const file = `${dir}/state.json`;
    await Deno.symlink(real, file);
    const error = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 }).then(
      () => null,
      (e) => e,
    );
    assert.ok(error instanceof StateFileError, String(error));
    assert.match(
      error.message,
      /state file ".*state\.json": it is a symbolic link to ".*real\.json"/,
    );
    assert.match(error.message, /daemon\.state_file/);
    assert.ok((await Deno.lstat(file)).isSymlink, "the link is kept");
    assert.equal(await Deno.readTextFile(real), before);
    const other = `${dir}/other.json`;
    await Deno.symlink(`${dir}/victim`, `${other}.lock`);
    await assert.rejects(
      () => StateStore.open(other, { site, backlogTimeoutMs: 60_000 }),
      StateFileError,
      "its lock file",
    );
    await assert.rejects(() => Deno.lstat(`${dir}/victim`), Deno.errors.NotFound);
  }));

Deno.test("StateStore.checkpoint() retries a save the folder refuses, then names the file", () =>
  withDir(async (dir) => {
    const file = `${dir}/state.json`;
    const waits: number[] = [];
    const store = await StateStore.open(file, {
      site,
      backlogTimeoutMs: 60_000,
      saveRetryDelaysMs: [5, 10],
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
    });
    {
      await using _locked = await unwritable(dir);
      const error = await store.close().then(() => null, (e) => e);
      assert.ok(error instanceof StateSaveError, String(error));
      assert.match(
        error.message,
        /^Cannot save state file ".*state\.json": cannot create ".*state\.json\.tmp-\d+-[0-9a-f]+": .*\(os error \d+\)/,
      );
      assert.ok(!error.message.includes("\n"), "one line");
      assert.equal(error.retriable, true);
      assert.deepEqual(waits, [5, 10]);
    }
    // The lock was released all the same.
    await using _again = await StateStore.open(file, { site, backlogTimeoutMs: 60_000 });
  }));
