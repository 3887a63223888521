import assert from "node:assert/strict";
import { startSimulator } from "./server.ts";
import { call, getToken } from "./testing.ts";

const form = "application/x-www-form-urlencoded";

async function grant(
  url: string,
  params: Record<string, string>,
  options: { query?: boolean; json?: boolean } = {},
) {
  const body = new URLSearchParams(params);
  const res = options.query ? await fetch(`${url}?${body}`, { method: "POST" }) : await fetch(url, {
    method: "POST",
    headers: { "content-type": options.json ? "application/json" : form },
    body: options.json ? JSON.stringify(params) : body,
  });
  return { status: res.status, json: await res.json() };
}

Deno.test("Authority.grant() issues tokens for each grant type, from a form body or query parameters", async (t) => {
  await using sim = await startSimulator({ quiet: true });
  const url = `${sim.url}/api/v1/auth/access_token`;
  await t.step("client_credentials in a form body", async () => {
    const r = await grant(url, {
      grant_type: "client_credentials",
      client_id: "sgevents",
      client_secret: "sim-key",
    });
    assert.deepEqual(r.status, 200);
    assert.deepEqual(r.json.token_type, "Bearer");
    assert.deepEqual(r.json.expires_in, 600);
    assert.ok(typeof r.json.access_token === "string" && r.json.access_token.length > 20);
    assert.ok(typeof r.json.refresh_token === "string");
  });
  await t.step("client_credentials as query parameters on /api/v1.1/", async () => {
    const r = await grant(`${sim.url}/api/v1.1/auth/access_token`, {
      grant_type: "client_credentials",
      client_id: "sgevents",
      client_secret: "sim-key",
    }, { query: true });
    assert.deepEqual(r.status, 200);
  });
  await t.step("password", async () => {
    const r = await grant(url, { grant_type: "password", username: "jo", password: "jo-pass" });
    assert.deepEqual(r.status, 200);
  });
  await t.step("refresh_token, also spelled refresh", async () => {
    const first = await grant(url, { grant_type: "password", username: "jo", password: "jo-pass" });
    for (const grantType of ["refresh_token", "refresh"]) {
      const r = await grant(url, {
        grant_type: grantType,
        refresh_token: first.json.refresh_token,
      });
      assert.deepEqual(r.status, 200, grantType);
      const me = await call(sim, "/api/v1/entity/shots/1?fields=code", {
        token: r.json.access_token,
      });
      assert.deepEqual(me.status, 200);
    }
  });
  await t.step("a token is opaque per grant", async () => {
    const a = await getToken(sim);
    const b = await getToken(sim);
    assert.ok(a !== b);
  });
});

Deno.test("Authority.grant() refuses bad requests with ShotGrid's codes and messages", async (t) => {
  await using sim = await startSimulator({ quiet: true });
  const url = `${sim.url}/api/v1/auth/access_token`;
  await t.step("a JSON body gets 415", async () => {
    const r = await grant(url, {
      grant_type: "client_credentials",
      client_id: "sgevents",
      client_secret: "sim-key",
    }, {
      json: true,
    });
    assert.deepEqual(r.status, 415);
    assert.deepEqual(r.json.errors[0].code, 103);
  });
  await t.step("a wrong key gets 400 code 102 Can't authenticate", async () => {
    const r = await grant(url, {
      grant_type: "client_credentials",
      client_id: "sgevents",
      client_secret: "nope",
    });
    assert.deepEqual(r.status, 400);
    assert.deepEqual(r.json.errors[0].code, 102);
    assert.match(r.json.errors[0].title, /^Can't authenticate user/);
  });
  await t.step("a wrong password gets 400 code 102", async () => {
    const r = await grant(url, { grant_type: "password", username: "jo", password: "x" });
    assert.deepEqual([r.status, r.json.errors[0].code], [400, 102]);
  });
  await t.step("a missing secret gets Missing or invalid authentication arguments", async () => {
    const r = await grant(url, { grant_type: "client_credentials", client_id: "sgevents" });
    assert.deepEqual(r.status, 400);
    assert.deepEqual(r.json.errors[0].title, "Missing or invalid authentication arguments");
  });
  await t.step("an unknown grant gets 400 code 103 Unsupported grant_type", async () => {
    const r = await grant(url, { grant_type: "magic" });
    assert.deepEqual([r.status, r.json.errors[0].code, r.json.errors[0].title], [
      400,
      103,
      "Unsupported grant_type",
    ]);
  });
  await t.step("an error body has every field", async () => {
    const r = await grant(url, { grant_type: "magic" });
    const e = r.json.errors[0];
    assert.deepEqual(Object.keys(e).sort(), [
      "code",
      "detail",
      "id",
      "meta",
      "source",
      "status",
      "title",
    ]);
    assert.match(e.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(e.status, 400);
  });
});

Deno.test("Authority.check() answers 401 Token Expired once the clock passes the TTL, Token invalid for unknown tokens", async () => {
  let now = Date.UTC(2026, 0, 1);
  await using sim = await startSimulator({ quiet: true, clock: () => now, tokenTtlSeconds: 600 });
  const token = await getToken(sim);
  assert.deepEqual((await call(sim, "/api/v1/entity/shots/1", { token })).status, 200);
  now += 599_000;
  assert.deepEqual((await call(sim, "/api/v1/entity/shots/1", { token })).status, 200);
  now += 1_000;
  const expired = await call(sim, "/api/v1/entity/shots/1", { token });
  assert.deepEqual(expired.status, 401);
  assert.deepEqual(expired.json.errors[0].code, 102);
  assert.deepEqual(expired.json.errors[0].status, 401);
  assert.deepEqual(expired.json.errors[0].title, "Unauthorized");
  assert.deepEqual(expired.json.errors[0].detail, "Token Expired");
  const bogus = await call(sim, "/api/v1/entity/shots/1", { token: "not-a-token" });
  assert.deepEqual([bogus.status, bogus.json.errors[0].detail], [401, "Token invalid"]);
  const none = await call(sim, "/api/v1/entity/shots/1");
  assert.deepEqual([none.status, none.json.errors[0].detail], [401, "Token invalid"]);
  const fresh = await getToken(sim);
  assert.deepEqual((await call(sim, "/api/v1/entity/shots/1", { token: fresh })).status, 200);
});

Deno.test("Authority.grant() with scope sudo_as_login attributes writes to the HumanUser", async () => {
  await using sim = await startSimulator({ quiet: true });
  const body = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: "sgevents",
    client_secret: "sim-key",
    scope: "sudo_as_login:ana",
  });
  const res = await fetch(`${sim.url}/api/v1/auth/access_token`, { method: "POST", body });
  const { access_token: token } = await res.json();
  const r = await call(sim, "/api/v1/entity/shots/2", {
    method: "PUT",
    token,
    body: { sg_status_list: "ip" },
  });
  assert.deepEqual(r.status, 200);
  const event = sim.store.getEvent(sim.store.lastEventId);
  assert.deepEqual(event?.user, { type: "HumanUser", id: 2, name: "Ana Lima" });
});

Deno.test("Authority.grant() records the grant's session_uuid on the events of that token's writes", async () => {
  await using sim = await startSimulator({ quiet: true });
  const url = `${sim.url}/api/v1/auth/access_token`;
  const granted = await grant(url, {
    grant_type: "password",
    username: "jo",
    password: "jo-pass",
    session_uuid: "sess-1",
  });
  assert.equal(granted.status, 200);
  const refreshed = await grant(url, {
    grant_type: "refresh_token",
    refresh_token: granted.json.refresh_token,
  });
  const plain = await grant(url, { grant_type: "password", username: "jo", password: "jo-pass" });
  const write = async (token: string, description: string) => {
    const before = sim.store.lastEventId;
    const r = await call(sim, "/api/v1/entity/shots/1", {
      method: "PUT",
      token,
      body: { description },
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return sim.store.getEvent(before + 1)?.session_uuid;
  };
  assert.equal(await write(granted.json.access_token, "a"), "sess-1");
  assert.equal(await write(refreshed.json.access_token, "b"), "sess-1");
  assert.equal(await write(plain.json.access_token, "c"), null);
  // The made-up header of old is ignored.
  const r = await call(sim, "/api/v1/entity/shots/1", {
    method: "PUT",
    token: plain.json.access_token,
    body: { description: "d" },
    headers: { "x-shotgun-session-uuid": "header" },
  });
  assert.equal(r.status, 200);
  assert.equal(sim.store.getEvent(sim.store.lastEventId)?.session_uuid, null);
});
