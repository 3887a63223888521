import assert from "node:assert/strict";
import { sleep } from "../util/abort.ts";
import { startSimulator } from "./server.ts";
import { call, getToken, search } from "./testing.ts";

const control = async (url: string, path: string, body?: unknown) => {
  const res = await fetch(`${url}/_sim/${path}`, {
    method: body === undefined ? "GET" : "POST",
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  return { status: res.status, json: await res.json() };
};

Deno.test("FaultController errorRate answers the chosen server error on ShotGrid paths only", async () => {
  await using sim = await startSimulator({ quiet: true, preload: 10 });
  const token = await getToken(sim);
  for (const errorStatus of [500, 502, 503, 504] as const) {
    sim.faults.set({ errorRate: 1, errorStatus });
    const res = await fetch(`${sim.url}/api/v1/entity/shots/1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, errorStatus);
    const text = await res.text();
    if (errorStatus === 500) assert.equal(JSON.parse(text).errors[0].title, "Shotgun Server Error");
    assert.equal(
      (await control(sim.url, "health")).status,
      200,
      "the control API is never faulted",
    );
  }
  sim.faults.clear();
  assert.equal((await search(sim, token, { filters: [] })).status, 200);
  assert.equal(sim.faults.injected.error, 4);
});

Deno.test("FaultController resetRate drops the connection without an HTTP answer", async () => {
  await using sim = await startSimulator({ quiet: true });
  sim.faults.set({ resetRate: 1 });
  await assert.rejects(
    () => fetch(`${sim.url}/api/v1/auth/access_token`, { method: "POST" }),
    TypeError,
  );
  sim.faults.set({ resetRate: 0 });
  const token = await getToken(sim);
  assert.ok(token);
});

Deno.test("FaultController latencyMs delays answers but still answers", async () => {
  await using sim = await startSimulator({ quiet: true });
  sim.faults.set({ latencyMs: 30, latencyJitterMs: 10 });
  const token = await getToken(sim);
  assert.equal((await call(sim, "/api/v1/entity/shots/1", { token })).status, 200);
});

Deno.test("FaultController.outage() fails every request until it ends or is cleared", async (t) => {
  await using sim = await startSimulator({ quiet: true });
  const token = await getToken(sim);
  await t.step("503 by default", async () => {
    sim.faults.outage(60_000);
    const res = await fetch(`${sim.url}/api/v1/entity/shots/1`);
    assert.equal(res.status, 503);
    await res.body?.cancel();
    sim.faults.clear();
    assert.equal((await call(sim, "/api/v1/entity/shots/1", { token })).status, 200);
  });
  await t.step("connection resets in reset mode", async () => {
    sim.faults.set({ outageMode: "reset" });
    sim.faults.outage(60_000);
    await assert.rejects(() => fetch(`${sim.url}/api/v1/entity/shots/1`), TypeError);
    sim.faults.clear();
  });
  await t.step("ends by itself", async () => {
    sim.faults.outage(20);
    let status = 0;
    for (let i = 0; i < 200 && status !== 200; i++) {
      await sleep(10);
      status = (await call(sim, "/api/v1/entity/shots/1", { token })).status;
    }
    assert.equal(status, 200);
  });
});

Deno.test("FaultController rateLimit answers every n-th request with 429 and Retry-After", async () => {
  await using sim = await startSimulator({ quiet: true });
  const token = await getToken(sim);
  sim.faults.set({ rateLimit: { every: 3, retryAfterSeconds: 2 } });
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 6; i++) {
    const r = await call(sim, "/api/v1/entity/shots/1", { token });
    statuses.push(r.status);
    if (r.status === 429) retryAfter = r.headers.get("retry-after");
  }
  assert.deepEqual(statuses, [200, 200, 429, 200, 200, 429]);
  assert.equal(retryAfter, "2");
});

Deno.test("FaultController.expireTokens() makes every current token answer Token Expired", async () => {
  await using sim = await startSimulator({ quiet: true });
  const token = await getToken(sim);
  sim.faults.expireTokens();
  const r = await call(sim, "/api/v1/entity/shots/1", { token });
  assert.equal(r.status, 401);
  assert.equal(r.json.errors[0].detail, "Token Expired");
  assert.equal(
    (await call(sim, "/api/v1/entity/shots/1", { token: await getToken(sim) })).status,
    200,
  );
});

Deno.test("FaultController.set() refuses out-of-range settings", async () => {
  await using sim = await startSimulator({ quiet: true });
  assert.throws(() => sim.faults.set({ errorRate: 2 }), RangeError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => sim.faults.set({ errorStatus: 418 as any }), RangeError);
  assert.throws(() => sim.faults.set({ rateLimit: { every: 0 } }), RangeError);
  assert.equal(sim.faults.settings.errorRate, 0);
});

Deno.test("The /_sim/ control API sets faults, counts requests and appends events", async (t) => {
  await using sim = await startSimulator({ quiet: true, preload: 5 });
  const token = await getToken(sim);
  await t.step("health", async () => {
    const r = await control(sim.url, "health");
    assert.deepEqual(r.json, { ok: true, lastEventId: 5, eventCount: 5 });
  });
  await t.step("stats by route", async () => {
    await search(sim, token, { filters: [] });
    await call(sim, "/api/v1/entity/shots/1", { token });
    const r = await control(sim.url, "stats");
    assert.equal(r.json.requests, 3);
    assert.deepEqual(r.json.byRoute, { auth: 1, search: 1, read: 1, write: 0, other: 0 });
    assert.equal(sim.stats.requests, 3);
    await control(sim.url, "stats/reset", {});
    assert.equal(sim.stats.requests, 0);
  });
  await t.step("faults, outageMs, expireTokens, clear", async () => {
    const set = await control(sim.url, "faults", { errorRate: 1, errorStatus: 502 });
    assert.equal(set.status, 200);
    assert.equal((await call(sim, "/api/v1/entity/shots/1", { token })).status, 502);
    await control(sim.url, "clear", {});
    assert.equal((await call(sim, "/api/v1/entity/shots/1", { token })).status, 200);
    await control(sim.url, "faults", { outageMs: 60_000 });
    const down = await fetch(`${sim.url}/api/v1/entity/shots/1`);
    assert.equal(down.status, 503);
    await down.body?.cancel();
    await control(sim.url, "clear", {});
    await control(sim.url, "faults", { expireTokens: true });
    assert.equal(
      (await call(sim, "/api/v1/entity/shots/1", { token })).json.errors[0].detail,
      "Token Expired",
    );
    assert.equal((await control(sim.url, "faults", { errorRate: 7 })).status, 400);
    assert.equal((await control(sim.url, "faults", { bogus: 1 })).status, 400);
  });
  await t.step("append events", async () => {
    const r = await control(sim.url, "events", { count: 1000 });
    assert.deepEqual(r.json, { lastEventId: 1005, eventCount: 1005 });
    assert.equal(sim.store.getEvent(1005)?.type, "EventLogEntry");
  });
});
