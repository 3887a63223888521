/**
 * ShotGridClient against the simulator over real HTTP. A recording `fetch` wraps the
 * real one so tests can count requests and read the headers that were sent.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../sim/mod.ts";
import { ShotGridClient, type ShotGridClientOptions } from "./client.ts";
import { ShotGridError } from "./errors.ts";

const scriptKey = "sim-key";

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly headers: Headers;
  readonly body: string | null;
  status: number | null;
}

/** A real fetch that remembers what it sent and what came back. */
function recordingFetch(): { fetch: typeof fetch; sent: Sent[]; count(path: RegExp): number } {
  const sent: Sent[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    const entry: Sent = {
      method: init?.method ?? "GET",
      path: new URL(String(input)).pathname,
      headers: new Headers(init?.headers),
      body: typeof init?.body === "string" ? init.body : null,
      status: null,
    };
    sent.push(entry);
    const response = await fetch(input, init);
    entry.status = response.status;
    return response;
  };
  return {
    fetch: wrapped,
    sent,
    count: (path) => sent.filter((s) => path.test(s.path)).length,
  };
}

const authRoute = /\/auth\/access_token$/;
const searchRoute = /\/_search$/;

/** Waits recorded, never slept. */
function instantSleep(): {
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  waits: number[];
} {
  const waits: number[] = [];
  return {
    waits,
    sleep: (ms, signal) => {
      waits.push(ms);
      signal?.throwIfAborted();
      return Promise.resolve();
    },
  };
}

function clientFor(url: string, extra: Partial<ShotGridClientOptions> = {}): ShotGridClient {
  return new ShotGridClient({ url, scriptName: "sgevents", scriptKey, ...extra });
}

/** Every text an error exposes: message, stack and inspection, down the cause chain. */
function errorTexts(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 10; depth++) {
    parts.push(Deno.inspect(e, { depth: 10 }));
    if (e instanceof Error) {
      parts.push(e.message, e.stack ?? "");
      e = e.cause;
    } else break;
  }
  return parts.join("\n");
}

function assertNoSecret(error: unknown, secret: string): void {
  assert.ok(!errorTexts(error).includes(secret), `secret leaked in ${errorTexts(error)}`);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

Deno.test("ShotGridClient.find() pages until a short page", async () => {
  await using sim = await startSimulator({ port: 0 });
  sim.store.appendEvents(1203);
  const rec = recordingFetch();
  await using sg = clientFor(sim.url, { fetch: rec.fetch });
  const events = await sg.find("EventLogEntry", [], ["id"], { pageSize: 500 });
  assert.equal(events.length, 1203);
  assert.equal(rec.count(searchRoute), 3);
  const ids = events.map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  assert.equal(new Set(ids).size, 1203);
});

Deno.test("ShotGridClient.find() stops at the limit and reads single pages", async () => {
  await using sim = await startSimulator({ port: 0 });
  sim.store.appendEvents(1203);
  const rec = recordingFetch();
  await using sg = clientFor(sim.url, { fetch: rec.fetch });
  const all = await sg.find("EventLogEntry", [], ["id"], { pageSize: 5000 });

  const first700 = await sg.find("EventLogEntry", [], ["id"], { limit: 700, pageSize: 500 });
  assert.deepEqual(first700.map((e) => e.id), all.slice(0, 700).map((e) => e.id));

  const before = rec.count(searchRoute);
  const three = await sg.find("EventLogEntry", [], ["id"], { limit: 3 });
  assert.equal(rec.count(searchRoute) - before, 1);
  assert.deepEqual(three.map((e) => e.id), all.slice(0, 3).map((e) => e.id));

  const page2 = await sg.find("EventLogEntry", [], ["id"], { limit: 10, page: 2 });
  assert.deepEqual(page2.map((e) => e.id), all.slice(10, 20).map((e) => e.id));

  const newest = await sg.findOne("EventLogEntry", [], ["id"], {
    order: [{ field_name: "id", direction: "desc" }],
  });
  assert.equal(newest?.id, all.at(-1)?.id);
});

Deno.test("ShotGridClient.find() sends both filter forms", async (t) => {
  await using sim = await startSimulator({ port: 0 });
  sim.store.appendEvents(50);
  await using sg = clientFor(sim.url);
  const all = await sg.find("EventLogEntry", [], ["id"]);
  const [a, b, c] = [all[3]!.id, all[7]!.id, all[20]!.id];

  await t.step("array form (ANDed conditions)", async () => {
    const found = await sg.find("EventLogEntry", [["id", "greater_than", a], [
      "id",
      "less_than",
      c,
    ]]);
    assert.deepEqual(
      found.map((e) => e.id),
      all.filter((e) => e.id > a && e.id < c).map((e) => e.id),
    );
  });
  await t.step("Python filter_operator form", async () => {
    const found = await sg.find("EventLogEntry", {
      filter_operator: "any",
      filters: [["id", "is", a], {
        filter_operator: "all",
        filters: [["id", "greater_than", b], ["id", "less_than", c]],
      }],
    });
    assert.deepEqual(
      found.map((e) => e.id),
      all.filter((e) => e.id === a || (e.id > b && e.id < c)).map((e) => e.id),
    );
  });
  await t.step("REST logical_operator form", async () => {
    const found = await sg.find("EventLogEntry", {
      logical_operator: "or",
      conditions: [["id", "is", a], ["id", "is", c]],
    });
    assert.deepEqual(found.map((e) => e.id), [a, c]);
  });
});

Deno.test("ShotGridClient.find() returns flat records with links and decoded meta", async () => {
  await using sim = await startSimulator({ port: 0, logScriptWrites: true });
  await using sg = clientFor(sim.url);
  const project = await sg.create("Project", { name: "demo" });
  const shot = await sg.create("Shot", {
    code: "sh010",
    project: { type: "Project", id: project.id },
  });
  await sg.update("Shot", shot.id, { sg_status_list: "ip" });
  const [change] = await sg.find(
    "EventLogEntry",
    [["event_type", "is", "Shotgun_Shot_Change"], ["attribute_name", "is", "sg_status_list"]],
    ["*"],
    { order: [{ field_name: "id", direction: "desc" }], limit: 1 },
  );
  assert.ok(change);
  assert.equal(change.type, "EventLogEntry");
  assert.equal(typeof change.id, "number");
  assert.deepEqual(change.entity, { type: "Shot", id: shot.id, name: "sh010" });
  assert.deepEqual(
    { type: (change.project as { type: string }).type, id: (change.project as { id: number }).id },
    { type: "Project", id: project.id },
  );
  const user = change.user as { type: string; id: number } | null;
  assert.ok(user === null || (typeof user.type === "string" && typeof user.id === "number"));
  const meta = change.meta as Record<string, unknown>;
  assert.equal(meta.type, "attribute_change");
  assert.equal(meta.new_value, "ip");
  assert.equal(meta.entity_id, shot.id);
});

Deno.test("ShotGridClient create/update/delete/revive round-trip a record", async () => {
  await using sim = await startSimulator({ port: 0 });
  const rec = recordingFetch();
  await using sg = clientFor(sim.url, { fetch: rec.fetch });
  const project = await sg.create("Project", { name: "crud" });
  const shot = await sg.create("Shot", {
    code: "sh020",
    project: { type: "Project", id: project.id },
  }, {
    returnFields: ["code", "project"],
  });
  assert.equal(shot.type, "Shot");
  assert.equal(shot.code, "sh020");

  const updated = await sg.update("Shot", shot.id, { code: "sh021" });
  assert.equal(updated.id, shot.id);
  assert.equal(updated.code, "sh021");
  assert.equal((await sg.findById("Shot", shot.id, ["code"]))?.code, "sh021");

  assert.equal(await sg.delete("Shot", shot.id), true);
  assert.equal(await sg.findById("Shot", shot.id), null);
  assert.deepEqual(await sg.find("Shot", [["id", "is", shot.id]]), []);
  assert.equal(await sg.delete("Shot", shot.id), false);

  assert.equal(await sg.revive("Shot", shot.id), true);
  assert.equal((await sg.findById("Shot", shot.id, ["code"]))?.code, "sh021");

  // The simulator does not search retired records; check what the client asks for.
  await sg.find("Shot", [["id", "is", shot.id]], ["code"], { retiredOnly: true });
  const body = JSON.parse(rec.sent.at(-1)?.body ?? "null");
  assert.deepEqual(body.options, { return_only: "retired" });
  assert.deepEqual(body.filters, [["id", "is", shot.id]]);
  assert.equal(body.fields, "code");
});

Deno.test("ShotGridClient.findById() returns null for an unknown id", async () => {
  await using sim = await startSimulator({ port: 0 });
  await using sg = clientFor(sim.url);
  assert.equal(await sg.findById("Shot", 987654), null);
});

Deno.test("ShotGridClient.withSessionUuid() writes with a token granted for that session", async () => {
  await using sim = await startSimulator({ port: 0, logScriptWrites: true });
  const rec = recordingFetch();
  await using sg = clientFor(sim.url, { fetch: rec.fetch });
  const uuid = "6f1c8a9e-0000-4000-8000-000000000001";
  const scoped = sg.withSessionUuid(uuid);
  assert.equal(scoped.sessionUuid, uuid);
  const project = await scoped.create("Project", { name: "uuid" });
  await scoped.find("Project", [["id", "is", project.id]]);
  const plain = await sg.create("Project", { name: "no-session" });
  const events = await sg.find(
    "EventLogEntry",
    [["event_type", "is", "Shotgun_Project_New"]],
    ["session_uuid", "meta"],
  );
  const sessionOf = (id: number) =>
    events.find((e) => (e.meta as { entity_id?: number }).entity_id === id)?.session_uuid;
  assert.equal(sessionOf(project.id), uuid);
  assert.equal(sessionOf(plain.id), null);
  // The session travels in the grant, never in a made-up header.
  const grants = rec.sent.filter((s) => authRoute.test(s.path));
  assert.deepEqual(
    grants.map((g) => new URLSearchParams(g.body ?? "").get("session_uuid")).sort(),
    [null, uuid].sort(),
  );
  for (const s of rec.sent) assert.equal(s.headers.get("X-Shotgun-Session-Uuid"), null);
  // The view's read used the client's own token: two grants in all, not three.
  assert.equal(rec.count(authRoute), 2);
});

Deno.test("ShotGridClient keeps at most maxSessionTokens session tokens, least recently used out", async () => {
  await using sim = await startSimulator({ port: 0, logScriptWrites: true });
  const rec = recordingFetch();
  await using sg = clientFor(sim.url, { fetch: rec.fetch, maxSessionTokens: 2 });
  const write = (uuid: string) => sg.withSessionUuid(uuid).update("Shot", 1, { description: uuid });
  await write("a");
  await write("b");
  await write("a"); // a is now the most recently used
  assert.equal(rec.count(authRoute), 2);
  await write("c"); // drops b
  assert.equal(rec.count(authRoute), 3);
  await write("a");
  assert.equal(rec.count(authRoute), 3);
  await write("b"); // b was dropped: a new grant
  assert.equal(rec.count(authRoute), 4);
  assert.throws(() => clientFor(sim.url, { maxSessionTokens: 0 }), RangeError);
});

Deno.test("ShotGridClient authenticates with a password grant", async () => {
  await using sim = await startSimulator({ port: 0 });
  await using sg = new ShotGridClient({ url: sim.url, login: "jo", password: "jo-pass" });
  assert.ok(Array.isArray(await sg.find("EventLogEntry", [], ["id"], { limit: 1 })));
});

Deno.test("ShotGridClient shares one token request between concurrent calls", async () => {
  await using sim = await startSimulator({ port: 0 });
  const rec = recordingFetch();
  await using sg = clientFor(sim.url, { fetch: rec.fetch });
  await Promise.all(
    Array.from({ length: 5 }, () => sg.find("EventLogEntry", [], ["id"], { limit: 1 })),
  );
  assert.equal(rec.count(authRoute), 1);
  assert.equal(rec.count(searchRoute), 5);
});

Deno.test("ShotGridClient renews its token before expiry, by its clock", async () => {
  let now = Date.parse("2026-01-21T12:00:00Z");
  const clock = () => now;
  await using sim = await startSimulator({ port: 0, clock, tokenTtlSeconds: 600 });
  const rec = recordingFetch();
  await using sg = clientFor(sim.url, { fetch: rec.fetch, clock });
  await sg.find("EventLogEntry", [], ["id"], { limit: 1 });
  now += 500_000; // 100 s before expiry: still good
  await sg.find("EventLogEntry", [], ["id"], { limit: 1 });
  assert.equal(rec.count(authRoute), 1);
  now += 30_000; // 70 s before expiry: renew now
  await sg.find("EventLogEntry", [], ["id"], { limit: 1 });
  assert.equal(rec.count(authRoute), 2);
  assert.equal(rec.sent.filter((s) => s.status === 401).length, 0);
});

Deno.test("ShotGridClient re-authenticates once on a 401 and repeats the call", async () => {
  await using sim = await startSimulator({ port: 0 });
  const rec = recordingFetch();
  const { sleep, waits } = instantSleep();
  await using sg = clientFor(sim.url, { fetch: rec.fetch, sleep });
  await sg.find("EventLogEntry", [], ["id"], { limit: 1 });
  sim.faults.expireTokens();
  await sg.find("EventLogEntry", [], ["id"], { limit: 1 });
  assert.equal(rec.count(authRoute), 2);
  assert.equal(rec.sent.filter((s) => s.status === 401).length, 1);
  assert.deepEqual(waits, []);
});

/** A tiny local server for the failures the simulator does not produce. */
function localServer(handler: (request: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("ShotGridClient does not retry bad credentials and never shows the key", async (t) => {
  await using sim = await startSimulator({ port: 0 });
  await t.step("script key", async () => {
    const rec = recordingFetch();
    const { sleep, waits } = instantSleep();
    const wrongKey = "not-the-key-4242";
    await using sg = clientFor(sim.url, { scriptKey: wrongKey, fetch: rec.fetch, sleep });
    const error = await rejection(sg.find("EventLogEntry", [], ["id"]));
    assert.ok(error instanceof ShotGridError, String(error));
    assert.equal(error.status, 400);
    assert.equal(error.code, 102);
    assert.equal(error.retriable, false);
    assert.match(
      error.message,
      /^Cannot search EventLogEntry: cannot authenticate script "sgevents"/,
    );
    assert.equal(rec.count(authRoute), 1);
    assert.deepEqual(waits, []);
    assertNoSecret(error, wrongKey);
  });
  await t.step("password", async () => {
    const wrongPassword = "jo-wrong-pass-77";
    await using sg = new ShotGridClient({ url: sim.url, login: "jo", password: wrongPassword });
    const error = await rejection(sg.findById("Shot", 1));
    assert.ok(error instanceof ShotGridError);
    assert.match(error.message, /^Cannot read Shot 1: cannot authenticate user "jo"/);
    assertNoSecret(error, wrongPassword);
  });
});

Deno.test("ShotGridClient fails with a 401 when a fresh token is refused too", async () => {
  let auths = 0;
  let calls = 0;
  await using server = localServer(async (request) => {
    await request.text();
    if (new URL(request.url).pathname.endsWith("/access_token")) {
      auths++;
      return Response.json({ token_type: "Bearer", access_token: `t${auths}`, expires_in: 600 });
    }
    calls++;
    return Response.json({
      errors: [{ code: 102, status: 401, title: "Unauthorized", detail: "Token invalid" }],
    }, { status: 401 });
  });
  const { sleep, waits } = instantSleep();
  await using sg = clientFor(server.url, { sleep });
  const error = await rejection(sg.find("EventLogEntry", [], ["id"]));
  assert.ok(error instanceof ShotGridError);
  assert.equal(error.status, 401);
  assert.equal(error.code, 102);
  assert.equal(
    error.message,
    "Cannot search EventLogEntry: 401 Unauthorized: Token invalid (code 102)",
  );
  assert.equal(auths, 2);
  assert.equal(calls, 2);
  assert.deepEqual(waits, []);
  assertNoSecret(error, scriptKey);
});

Deno.test("ShotGridClient reports a bad request with the action, status and code", async () => {
  await using sim = await startSimulator({ port: 0 });
  const rec = recordingFetch();
  await using sg = clientFor(sim.url, { fetch: rec.fetch, sleep: instantSleep().sleep });
  const error = await rejection(sg.find("EventLogEntry", [["foo", "is", 1]], ["id"]));
  assert.ok(error instanceof ShotGridError);
  assert.equal(error.name, "ShotGridError");
  assert.equal(error.status, 400);
  assert.equal(error.code, 103);
  assert.equal(error.retriable, false);
  assert.match(error.message, /^Cannot search EventLogEntry: 400 .*foo.* \(code 103\)$/);
  assert.equal(rec.count(searchRoute), 1);
  assertNoSecret(error, scriptKey);
});

Deno.test("ShotGridClient retries 502, 503 and 504 a bounded number of times", async (t) => {
  await using sim = await startSimulator({ port: 0 });
  for (const status of [502, 503, 504] as const) {
    await t.step(String(status), async () => {
      const rec = recordingFetch();
      const { sleep, waits } = instantSleep();
      await using sg = clientFor(sim.url, { fetch: rec.fetch, sleep, retries: 3 });
      await sg.findById("Shot", 1); // token first, so only the search meets the fault
      sim.faults.set({ errorRate: 1, errorStatus: status });
      const before = rec.sent.length;
      const error = await rejection(sg.find("EventLogEntry", [], ["id"]));
      sim.faults.clear();
      assert.ok(error instanceof ShotGridError);
      assert.equal(error.status, status);
      assert.equal(error.retriable, true);
      assert.equal(rec.sent.length - before, 4);
      assert.equal(waits.length, 3);
      assertNoSecret(error, scriptKey);
      assert.ok(Array.isArray(await sg.find("EventLogEntry", [], ["id"], { limit: 1 })));
    });
  }
});

Deno.test("ShotGridClient retries a 500 on reads but not on writes", async () => {
  await using sim = await startSimulator({ port: 0 });
  const rec = recordingFetch();
  const { sleep } = instantSleep();
  await using sg = clientFor(sim.url, { fetch: rec.fetch, sleep, retries: 2 });
  await sg.findById("Shot", 1);
  sim.faults.set({ errorRate: 1, errorStatus: 500 });
  let before = rec.sent.length;
  const read = await rejection(sg.find("Shot", [], ["id"]));
  assert.ok(read instanceof ShotGridError && read.retriable && read.status === 500);
  assert.equal(rec.sent.length - before, 3);
  before = rec.sent.length;
  const write = await rejection(sg.create("Project", { name: "x" }));
  assert.ok(write instanceof ShotGridError && !write.retriable && write.status === 500);
  assert.match(write.message, /^Cannot create Project: 500 /);
  assert.equal(rec.sent.length - before, 1);
  sim.faults.clear();
});

Deno.test("ShotGridClient honours Retry-After on a 429", async () => {
  await using sim = await startSimulator({ port: 0 });
  const { sleep, waits } = instantSleep();
  await using sg = clientFor(sim.url, { sleep });
  await sg.findById("Shot", 1);
  sim.faults.set({ rateLimit: { every: 1, retryAfterSeconds: 7 } });
  const error = await rejection(sg.find("EventLogEntry", [], ["id"], { limit: 1 }));
  sim.faults.clear();
  assert.ok(error instanceof ShotGridError);
  assert.equal(error.status, 429);
  assert.equal(error.retriable, true);
  assert.deepEqual(waits, [7000, 7000, 7000]);
});

Deno.test("ShotGridClient honours an HTTP-date Retry-After", async () => {
  const now = Date.parse("2026-01-21T12:00:00Z");
  let tries = 0;
  await using server = localServer(async (request) => {
    await request.text();
    if (new URL(request.url).pathname.endsWith("/access_token")) {
      return Response.json({ access_token: "t", expires_in: 600 });
    }
    if (++tries === 1) {
      return new Response("slow down", {
        status: 429,
        headers: { "Retry-After": new Date(now + 12_000).toUTCString() },
      });
    }
    return Response.json({ data: [] });
  });
  const { sleep, waits } = instantSleep();
  await using sg = clientFor(server.url, { sleep, clock: () => now });
  assert.deepEqual(await sg.find("EventLogEntry", []), []);
  assert.deepEqual(waits, [12_000]);
});

Deno.test("ShotGridClient retries reset connections and timeouts", async (t) => {
  await using sim = await startSimulator({ port: 0 });
  await t.step("connection reset", async () => {
    const rec = recordingFetch();
    const { sleep, waits } = instantSleep();
    await using sg = clientFor(sim.url, { fetch: rec.fetch, sleep });
    await sg.findById("Shot", 1);
    sim.faults.set({ resetRate: 1 });
    const before = rec.sent.length;
    const error = await rejection(sg.find("EventLogEntry", [], ["id"]));
    sim.faults.clear();
    assert.ok(error instanceof ShotGridError, String(error));
    assert.equal(error.status, null);
    assert.equal(error.retriable, true);
    assert.match(error.message, /^Cannot search EventLogEntry: network error: /);
    assert.equal(rec.sent.length - before, 4);
    assert.equal(waits.length, 3);
    assertNoSecret(error, scriptKey);
  });
  await t.step("timeout", async () => {
    const rec = recordingFetch();
    const { sleep, waits } = instantSleep();
    await using sg = clientFor(sim.url, { fetch: rec.fetch, sleep, timeoutMs: 50, retries: 2 });
    await sg.findById("Shot", 1);
    sim.faults.set({ latencyMs: 1000 });
    const before = rec.sent.length;
    const error = await rejection(sg.find("EventLogEntry", [], ["id"]));
    sim.faults.clear();
    assert.ok(error instanceof ShotGridError, String(error));
    assert.equal(error.retriable, true);
    assert.equal(error.message, "Cannot search EventLogEntry: no response within 50 ms");
    assert.equal(rec.sent.length - before, 3);
    assert.equal(waits.length, 2);
    assertNoSecret(error, scriptKey);
  });
});

Deno.test("ShotGridClient stops promptly when aborted during a backoff wait", async () => {
  await using sim = await startSimulator({ port: 0 });
  const rec = recordingFetch();
  const controller = new AbortController();
  const reason = new DOMException("shutting down", "AbortError");
  const { sleep: realSleep } = await import("../util/abort.ts");
  await using sg = clientFor(sim.url, {
    fetch: rec.fetch,
    backoff: { initialMs: 60_000 },
    // The first backoff wait is a minute long; abort as soon as it starts.
    sleep: (ms, signal) => {
      queueMicrotask(() => controller.abort(reason));
      return realSleep(ms, signal);
    },
  });
  await sg.findById("Shot", 1);
  sim.faults.set({ errorRate: 1, errorStatus: 503 });
  const before = rec.sent.length;
  const error = await rejection(
    sg.find("EventLogEntry", [], ["id"], { signal: controller.signal }),
  );
  sim.faults.clear();
  assert.equal(error, reason);
  assert.equal(rec.sent.length - before, 1);
});

Deno.test("ShotGridClient stops promptly when aborted during a request", async () => {
  await using sim = await startSimulator({ port: 0 });
  const { sleep, waits } = instantSleep();
  await using sg = clientFor(sim.url, { sleep });
  await sg.findById("Shot", 1);
  sim.faults.set({ latencyMs: 2000 });
  const controller = new AbortController();
  const reason = new Error("stop now");
  const pending = rejection(sg.update("Shot", 1, { code: "x" }, { signal: controller.signal }));
  setTimeout(() => controller.abort(reason), 20);
  assert.equal(await pending, reason);
  assert.deepEqual(waits, []);
  sim.faults.clear();
  // An already-aborted signal never reaches the network.
  const error = await rejection(sg.findById("Shot", 1, [], { signal: AbortSignal.abort(reason) }));
  assert.equal(error, reason);
});

Deno.test("ShotGridClient rejects bad options and arguments with TypeError/RangeError", async () => {
  assert.throws(() => new ShotGridClient({ url: "not a url", scriptName: "a", scriptKey: "b" }), {
    name: "TypeError",
  });
  assert.throws(() => new ShotGridClient({ url: "https://x.test", scriptName: "a" }), {
    name: "TypeError",
    message: /scriptName and scriptKey/,
  });
  assert.throws(() => new ShotGridClient({ url: "https://x.test" }), { name: "TypeError" });
  await using sg = clientFor("https://x.test");
  await assert.rejects(sg.find("Shot", [], [], { pageSize: 0 }), { name: "RangeError" });
  await assert.rejects(sg.find("Bad Type!", []), { name: "TypeError" });
  await assert.rejects(sg.findById("Shot", -1), { name: "TypeError" });
});

Deno.test("ShotGridClient retries a failing token request and never shows the key", async (t) => {
  await using sim = await startSimulator({ port: 0 });
  for (const fault of [{ errorRate: 1, errorStatus: 503 as const }, { resetRate: 1 }]) {
    await t.step(JSON.stringify(fault), async () => {
      const rec = recordingFetch();
      const { sleep, waits } = instantSleep();
      await using sg = clientFor(sim.url, { fetch: rec.fetch, sleep });
      sim.faults.set(fault);
      const error = await rejection(sg.find("EventLogEntry", [], ["id"]));
      sim.faults.clear();
      assert.ok(error instanceof ShotGridError, String(error));
      assert.equal(error.retriable, true);
      assert.match(
        error.message,
        /^Cannot search EventLogEntry: cannot authenticate script "sgevents" at /,
      );
      assert.equal(rec.count(authRoute), 4);
      assert.equal(rec.count(searchRoute), 0);
      assert.equal(waits.length, 3);
      assertNoSecret(error, scriptKey);
      // The failure is not cached: the next call authenticates and succeeds.
      assert.ok(Array.isArray(await sg.find("EventLogEntry", [], ["id"], { limit: 1 })));
    });
  }
});

Deno.test("ShotGridClient goes through the proxy and keeps credentials out of URLs", async () => {
  await using sim = await startSimulator({ port: 0 });
  const seen: string[] = [];
  // A forward proxy: it receives absolute URLs for a host only it can reach.
  await using proxy = localServer(async (request) => {
    seen.push(request.url);
    const target = new URL(request.url);
    const init: RequestInit = { method: request.method, headers: new Headers(request.headers) };
    if (request.method !== "GET") init.body = await request.text();
    return await fetch(sim.url + target.pathname + target.search, init);
  });
  await using sg = clientFor("http://site.invalid", { proxy: proxy.url });
  const events = await sg.find("EventLogEntry", [], ["id"], { limit: 1 });
  assert.ok(Array.isArray(events));
  assert.ok(seen.some((u) => u === "http://site.invalid/api/v1/auth/access_token"), String(seen));
  assert.ok(seen.some((u) => u.endsWith("/api/v1/entity/EventLogEntry/_search")), String(seen));
  assert.ok(seen.every((u) => !u.includes(scriptKey)));
});
