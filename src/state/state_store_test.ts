import assert from "node:assert/strict";
import { StateFileError } from "./state_file.ts";
import { readStateFile, StateStore, writeFileAtomic } from "./state_store.ts";
import { StateLockedError } from "./lock.ts";

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
    await Promise.all(Array.from({ length: 50 }, () => store.checkpoint()));
    assert.ok(store.writes <= 2, `expected at most 2 writes, got ${store.writes}`);
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
