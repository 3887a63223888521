import assert from "node:assert/strict";
import { LeaderLock } from "./leader.ts";
import { openPostgresBackend, sendDatabaseRequest, StateFencedError } from "./postgres_backend.ts";
import { connect } from "./postgres_connection.ts";
import { needsPostgres, testPostgresUrl, uniqueName } from "./postgres_testing.ts";
import { StateFileError } from "./state_file.ts";
import { StateStore } from "./state_store.ts";

const site = "http://127.0.0.1:8421";
const pg = needsPostgres();
const url = testPostgresUrl ?? "postgres://nobody@127.0.0.1:1/none";

function lead(name: string, signal = new AbortController().signal): Promise<LeaderLock> {
  return LeaderLock.acquire(url, { name, leaseTimeoutMs: 600, signal });
}

async function openStore(lock: LeaderLock, name: string): Promise<StateStore> {
  return await StateStore.openBackend(openPostgresBackend(url, { name, epoch: lock.epoch }), {
    site,
    clock: () => 0,
    backlogTimeoutMs: 1_000,
  });
}

Deno.test({
  name: "PostgresBackend round-trips cursors, backlogs, status, forgets and acknowledgements",
  ...pg,
  fn: async () => {
    const name = uniqueName("roundtrip");
    {
      await using lock = await lead(name);
      await using store = await openStore(lock, name);
      assert.equal(store.existed, false);
      const cursor = store.place("notify", 38);
      cursor.advance(41, { waiting: [39] });
      cursor.pause({ eventId: 42, callback: "cb", error: "boom", fromBacklog: false });
      store.place("gone", 5);
      store.noteSiteNewest(45);
      await store.checkpoint();
      store.forget("gone");
      store.acknowledge(["req-1", "req-2 refused"], 7);
      await store.checkpoint({ durable: false });
    }
    await using lock = await lead(name);
    await using again = await openStore(lock, name);
    assert.equal(again.existed, true);
    assert.deepEqual(again.names, ["notify"]);
    const p = again.plugins.get("notify")!;
    assert.equal(p.cursor, 41);
    assert.deepEqual([...p.backlog], [[39, 1_000]]);
    assert.equal(p.paused?.eventId, 42);
    assert.equal(again.siteNewest, 45);
    assert.deepEqual(again.applied, ["req-1", "req-2 refused"]);
    assert.equal(again.requestsOffset, 7);
  },
});

Deno.test({
  name: "StateStore.openBackend() refuses a PostgreSQL state written for another site",
  ...pg,
  fn: async () => {
    const name = uniqueName("site");
    {
      await using lock = await lead(name);
      await using _store = await openStore(lock, name);
    }
    await using lock = await lead(name);
    await assert.rejects(
      StateStore.openBackend(openPostgresBackend(url, { name, epoch: lock.epoch }), {
        site: "http://other.example",
        backlogTimeoutMs: 1_000,
      }),
      /belongs to site "http:\/\/127\.0\.0\.1:8421", not "http:\/\/other\.example"; give each site its own daemon\.name/,
    );
  },
});

Deno.test({
  name: "LeaderLock.acquire() makes one leader; the standby takes over with the next epoch",
  ...pg,
  fn: async () => {
    const name = uniqueName("election");
    const first = await lead(name);
    let standby!: () => void;
    const waiting = new Promise<void>((resolve) => standby = resolve);
    let secondLed = false;
    const second = LeaderLock.acquire(url, {
      name,
      leaseTimeoutMs: 600,
      signal: new AbortController().signal,
      onStandby: () => standby(),
    }).then((lock) => {
      secondLed = true;
      return lock;
    });
    await waiting; // The second found the lock held and waits as a standby.
    assert.equal(secondLed, false);
    await first.release();
    const lock = await second;
    assert.equal(lock.epoch, first.epoch + 1);
    await lock.release();
  },
});

Deno.test({
  name: "PostgresBackend.save() is fenced once another daemon took over after the lock was cut",
  ...pg,
  fn: async () => {
    const name = uniqueName("fence");
    const admin = connect(url, { applicationName: "sgevents test admin" });
    try {
      await using old = await lead(name);
      await using store = await openStore(old, name);
      store.place("notify", 10);
      await store.checkpoint();
      // Cut the old leader's lock connection, as a partition or pg_terminate_backend would.
      await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE application_name LIKE ${`sgevents ${name}: pid%`}`;
      await using next = await lead(name);
      assert.equal(next.epoch, old.epoch + 1);
      store.cursor("notify")!.advance(20);
      await assert.rejects(store.checkpoint(), StateFencedError);
      // The old leader learns it lost the lead by itself (its next check of the lock).
      await new Promise<void>((resolve) => {
        if (old.lost.aborted) resolve();
        old.lost.addEventListener("abort", () => resolve());
      });
      await using reader = await openStore(next, name);
      assert.equal(reader.plugins.get("notify")?.cursor, 10);
      await store.close().catch(() => {});
    } finally {
      await admin.end({ timeout: 1 });
    }
  },
});

Deno.test({
  name: "PostgresBackend.pendingRequests() returns the requests queued for its daemon name only",
  ...pg,
  fn: async () => {
    const name = uniqueName("requests");
    const admin = connect(url, { applicationName: "sgevents test admin" });
    try {
      await using lock = await lead(name);
      await using store = await openStore(lock, name);
      await sendDatabaseRequest(admin, {
        name,
        request: { id: "a", op: "skip", plugins: "all", to: 5 },
      });
      await sendDatabaseRequest(admin, {
        name: uniqueName("other"),
        request: { id: "x", op: "resume", plugins: "all" },
      });
      await admin`INSERT INTO sgevents_request (daemon, body) VALUES (${name}, 'not json')`;
      const pending = await store.pendingRequests();
      assert.deepEqual(pending.requests.map((r) => r.id), ["a"]);
      assert.deepEqual(pending.malformed.map((m) => m.reason), ["it is not JSON"]);
      store.acknowledge(["a"], pending.offset);
      assert.deepEqual((await store.pendingRequests()).requests, []);
    } finally {
      await admin.end({ timeout: 1 });
    }
  },
});

Deno.test({
  name: "LeaderLock.acquire() refuses a database whose schema is newer than this build",
  ...pg,
  fn: async () => {
    const admin = connect(url, { applicationName: "sgevents test admin" });
    const schema = `newer_${crypto.randomUUID().slice(0, 8)}`;
    try {
      // A schema of its own (search_path), so the shared tables stay as they are.
      await admin.unsafe(`CREATE SCHEMA ${schema}`);
      await admin.unsafe(
        `CREATE TABLE ${schema}.sgevents_schema (version integer NOT NULL); INSERT INTO ${schema}.sgevents_schema VALUES (99)`,
      );
      const scoped = `${url}${url.includes("?") ? "&" : "?"}search_path=${schema}`;
      await assert.rejects(
        LeaderLock.acquire(scoped, {
          name: uniqueName("newer"),
          leaseTimeoutMs: 600,
          signal: new AbortController().signal,
        }),
        (error: unknown) =>
          error instanceof StateFileError &&
          /its schema is version 99, newer than this sgevents understands \(1\); upgrade sgevents$/
            .test(error.message),
      );
    } finally {
      await admin.unsafe(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end({ timeout: 1 });
    }
  },
});
