import assert from "node:assert/strict";
import type { HttpConfig } from "../config/types.ts";
import { newPluginState } from "../state/state_file.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { tempDir } from "../../tests/helpers.ts";
import { signBody } from "./auth.ts";
import { DaemonMetrics } from "./metrics.ts";
import { HttpServer } from "./server.ts";
import type { DaemonStatus, PluginStatus, StatusProvider } from "./status.ts";

const token = "s3cret-token";
const secret = "hook-secret";

/** A status provider over plain values the test changes. */
class FakeStatus implements StatusProvider {
  running = true;
  savedAt: number | null = null;
  plugins: PluginStatus[] = [];
  acks = new Map<string, string | null>();
  status(): DaemonStatus {
    return { running: this.running, plugins: this.plugins, savedAt: this.savedAt };
  }
  acknowledgement(id: string): { error: string | null } | null {
    return this.acks.has(id) ? { error: this.acks.get(id)! } : null;
  }
}

function plugin(name: string, extra: Partial<PluginStatus> = {}): PluginStatus {
  const state = newPluginState(0);
  return {
    name,
    state: "running",
    cursor: state.cursor,
    backlog: 0,
    processed: 0,
    lastError: null,
    lastErrorEvent: null,
    failed: [],
    replay: null,
    ...extra,
  };
}

function event(id: number, createdAt: number): ShotGridEvent {
  return {
    type: "EventLogEntry",
    id,
    event_type: "Shotgun_Shot_Change",
    attribute_name: null,
    meta: null,
    entity: null,
    user: null,
    project: null,
    session_uuid: null,
    created_at: new Date(createdAt).toISOString().replace(/\.\d+Z$/, "Z"),
  };
}

async function withServer(
  config: Partial<HttpConfig>,
  fn: (parts: {
    url: string;
    status: FakeStatus;
    metrics: DaemonMetrics;
    server: HttpServer;
    woken: () => number;
    clock: { now: number };
    stateFile: string;
  }) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir();
  const clock = { now: Date.parse("2026-12-01T12:00:00Z") };
  const status = new FakeStatus();
  const metrics = new DaemonMetrics({ clock: () => clock.now });
  let wakes = 0;
  const stateFile = `${dir.path}/state.json`;
  await using server = HttpServer.start({
    listen: "127.0.0.1:0",
    hostname: "127.0.0.1",
    port: 0,
    token: null,
    webhookSecret: null,
    ...config,
  }, {
    status,
    metrics,
    stateFile,
    wake: () => wakes++,
    clock: () => clock.now,
    ackTimeoutMs: 0,
  });
  await fn({ url: server.url, status, metrics, server, woken: () => wakes, clock, stateFile });
}

async function send(
  url: string,
  init: RequestInit = {},
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; json: any; text: string }> {
  const response = await fetch(url, init);
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch { /* HTML or metrics */ }
  return { status: response.status, json, text };
}

Deno.test("HttpServer /healthz is 200 while the engine runs and 503 once it stopped", async () => {
  await withServer({}, async ({ url, status }) => {
    assert.deepEqual((await send(`${url}/healthz`)).status, 200);
    status.running = false;
    const stopped = await send(`${url}/healthz`);
    assert.equal(stopped.status, 503);
    assert.deepEqual(stopped.json, { status: "stopped" });
  });
});

Deno.test("HttpServer /readyz is 200 only when the site answered and the state was saved recently and no plugin failed", async () => {
  await withServer({}, async ({ url, status, metrics, clock }) => {
    const before = await send(`${url}/readyz`);
    assert.equal(before.status, 503);
    assert.deepEqual(before.json.reasons, [
      "the site has not answered yet",
      "the state has not been saved yet",
    ]);
    metrics.siteRequest("search", 200, 0.01);
    status.savedAt = clock.now;
    assert.deepEqual(await send(`${url}/readyz`).then((r) => [r.status, r.json]), [200, {
      ready: true,
    }]);
    clock.now += 61_000;
    const stale = await send(`${url}/readyz`);
    assert.equal(stale.status, 503);
    assert.deepEqual(stale.json.reasons, [
      "the site has not answered for 61 s",
      "the state was last saved 61 s ago",
    ]);
    metrics.siteRequest("search", 503, 0.01);
    assert.equal(
      (await send(`${url}/readyz`)).json.reasons[0],
      "the site has not answered for 61 s",
    );
    metrics.siteRequest("search", 200, 0.01);
    status.savedAt = clock.now;
    status.plugins = [plugin("ok"), plugin("bad", { state: "failed", lastError: "Cannot load" })];
    const failed = await send(`${url}/readyz`);
    assert.equal(failed.status, 503);
    assert.deepEqual(failed.json.reasons, ["plugin(s) failed to load: bad"]);
  });
});

Deno.test("HttpServer /metrics computes lag at scrape time from the pages read", async () => {
  await withServer({}, async ({ url, status, metrics, clock }) => {
    metrics.pageRead([event(1, clock.now - 30_000), event(2, clock.now - 20_000)]);
    metrics.pageRead([event(3, clock.now - 10_000)]);
    metrics.delivered("a", [event(1, 0), event(2, 0), event(3, 0)]);
    metrics.deliverySeconds("a", 0.3, 3);
    metrics.callbackFailed("b", 1);
    status.plugins = [
      plugin("a", { cursor: 3 }),
      plugin("b", {
        cursor: 1,
        state: "paused",
        backlog: 2,
        replay: { from: 1, to: 1, next: 1, ids: null, at: "2026-12-01T11:00:00Z" },
      }),
    ];
    const { status: code, text } = await send(`${url}/metrics`);
    assert.equal(code, 200);
    const expected = [
      'sgevents_events_delivered_total{plugin="a"} 3',
      'sgevents_callback_failures_total{plugin="b"} 1',
      'sgevents_callback_seconds_count{plugin="a"} 3',
      'sgevents_plugin_lag_events{plugin="a"} 0',
      'sgevents_plugin_lag_events{plugin="b"} 2',
      'sgevents_plugin_lag_seconds{plugin="a"} 0',
      'sgevents_plugin_lag_seconds{plugin="b"} 20',
      'sgevents_backlog_ids{plugin="b"} 2',
      'sgevents_plugin_replay_next{plugin="a"} 0',
      'sgevents_plugin_replay_next{plugin="b"} 1',
      'sgevents_plugin_state{plugin="b",state="paused"} 1',
      'sgevents_plugin_state{plugin="b",state="running"} 0',
      'sgevents_plugin_state{plugin="a",state="running"} 1',
      "sgevents_head_event_id 3",
    ];
    for (const line of expected) assert.ok(text.split("\n").includes(line), line);
    for (const name of ["sgevents_site_request_seconds", "sgevents_state_save_seconds"]) {
      assert.ok(text.includes(`# TYPE ${name} histogram`), name);
    }
    assert.ok(text.includes("# TYPE sgevents_site_requests_total counter"));
  });
});

Deno.test("HttpServer actions need the token, a same-site origin and a configured token", async (t) => {
  await withServer({ token }, async ({ url, status, stateFile }) => {
    status.plugins = [plugin("a", { state: "paused" })];
    const post = (path: string, headers: Record<string, string> = {}, body?: string) =>
      send(`${url}${path}`, { method: "POST", headers, ...(body ? { body } : {}) });
    const auth = { authorization: `Bearer ${token}` };
    await t.step("no token is 401", async () => {
      assert.equal((await post("/api/plugins/a/resume")).status, 401);
    });
    await t.step("a wrong token is 401, and the answer never holds the token", async () => {
      const wrong = await post("/api/plugins/a/resume", { authorization: "Bearer nope" });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.error, "Wrong token");
      assert.ok(!wrong.text.includes(token));
    });
    await t.step("another site's origin is 403 even with the token", async () => {
      const cross = await post("/api/plugins/a/resume", {
        ...auth,
        origin: "https://evil.example",
      });
      assert.equal(cross.status, 403);
      const fetchSite = await post("/api/plugins/a/resume", {
        ...auth,
        "sec-fetch-site": "cross-site",
      });
      assert.equal(fetchSite.status, 403);
    });
    await t.step("nothing was sent so far", async () => {
      await assert.rejects(Deno.stat(`${stateFile}.requests`), Deno.errors.NotFound);
    });
    await t.step("the token from the page's own origin sends the request", async () => {
      const sent = await post("/api/plugins/a/resume", { ...auth, origin: url });
      assert.equal(sent.status, 202);
      const lines = (await Deno.readTextFile(`${stateFile}.requests`)).trim().split("\n");
      const request = JSON.parse(lines.at(-1)!);
      assert.deepEqual({ ...request, id: "" }, { id: "", op: "resume", plugins: ["a"] });
      assert.equal(request.id, sent.json.id);
    });
    await t.step("an acknowledged request is 200, a refused one 409", async () => {
      const original = status.acknowledgement.bind(status);
      status.acknowledgement = (id) => ({ error: null, ...original(id) });
      assert.deepEqual((await post("/api/plugins/a/pause", auth)).json.applied, true);
      status.acknowledgement = () => ({ error: "Unknown plugin(s): a" });
      const refused = await post("/api/plugins/a/skip", auth, JSON.stringify({ to: 5 }));
      assert.equal(refused.status, 409);
      assert.equal(refused.json.error, "Unknown plugin(s): a");
      status.acknowledgement = original;
    });
    await t.step("every action writes its request shape", async () => {
      await Deno.remove(`${stateFile}.requests`);
      await post("/api/plugins/a/skip", auth, JSON.stringify({ to: "latest" }));
      await post("/api/plugins/a/replay", auth, JSON.stringify({ from: 3, to: 9, dryRun: true }));
      await post("/api/plugins/a/retry-failed", auth, JSON.stringify({ id: 4 }));
      await post("/api/plugins/a/pause", auth);
      const requests = (await Deno.readTextFile(`${stateFile}.requests`)).trim().split("\n")
        .map((line) => {
          const { id: _, ...rest } = JSON.parse(line);
          return rest;
        });
      assert.deepEqual(requests, [
        { op: "skip", plugins: ["a"], to: "latest" },
        { op: "replay", plugins: ["a"], from: 3, to: 9, dryRun: true },
        { op: "retry-failed", plugins: ["a"], eventId: 4 },
        { op: "pause", plugins: ["a"] },
      ]);
    });
    await t.step("bad bodies are 400, unknown plugins and actions 404", async () => {
      assert.equal((await post("/api/plugins/a/skip", auth, "{nope")).status, 400);
      assert.equal((await post("/api/plugins/a/skip", auth, '{"to":-1}')).status, 400);
      assert.equal((await post("/api/plugins/a/replay", auth, '{"from":9,"to":3}')).status, 400);
      assert.equal((await post("/api/plugins/zz/resume", auth)).status, 404);
      assert.equal((await post("/api/plugins/a/explode", auth)).status, 404);
    });
  });
});

Deno.test("HttpServer refuses every action when no token is configured, even on loopback", async () => {
  await withServer({}, async ({ url, status }) => {
    status.plugins = [plugin("a")];
    const response = await send(`${url}/api/plugins/a/pause`, {
      method: "POST",
      headers: { authorization: "Bearer anything" },
    });
    assert.equal(response.status, 403);
    assert.match(response.json.error, /http\.token_file/);
  });
});

Deno.test("HttpServer on loopback refuses a Host that is not loopback (DNS rebinding)", async () => {
  await withServer({}, async ({ url }) => {
    const { port } = new URL(url);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
    await conn.write(
      new TextEncoder().encode(
        "GET /api/plugins HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
      ),
    );
    const text = await new Response(conn.readable).text();
    assert.match(text, /^HTTP\/1\.1 403/);
    assert.equal((await send(`${url.replace("127.0.0.1", "localhost")}/healthz`)).status, 200);
  });
});

Deno.test("HttpServer GET /api shows plugins with lag, rate and errors, and failed events", async () => {
  await withServer({}, async ({ url, status, metrics, server, clock }) => {
    metrics.pageRead([event(10, clock.now - 5000)]);
    status.plugins = [plugin("a", {
      cursor: 8,
      processed: 100,
      lastError: "boom",
      lastErrorEvent: 9,
      failed: [{
        eventId: 9,
        callback: "cb",
        error: "boom",
        attempts: 1,
        at: "2026-12-01T11:59:00Z",
      }],
    })];
    server.sample();
    clock.now += 10_000;
    status.plugins = [{ ...status.plugins[0]!, processed: 150 }];
    const list = await send(`${url}/api/plugins`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, {
      head: 10,
      plugins: [{
        name: "a",
        state: "running",
        cursor: 8,
        lagEvents: 2,
        lagSeconds: 15,
        rate: 5,
        backlog: 0,
        processed: 150,
        lastError: "boom",
        lastErrorEvent: 9,
        failed: 1,
        replay: null,
      }],
    });
    const one = await send(`${url}/api/plugins/a`);
    assert.deepEqual(one.json.failedEvents, [{
      plugin: "a",
      eventId: 9,
      callback: "cb",
      error: "boom",
      at: "2026-12-01T11:59:00Z",
    }]);
    assert.equal((await send(`${url}/api/plugins/nope`)).status, 404);
    assert.equal((await send(`${url}/api/failed`)).json.failed.length, 1);
    assert.equal((await send(`${url}/nothing-here`)).status, 404);
  });
});

Deno.test("HttpServer page lists plugins with their lag, errors and action buttons", async () => {
  await withServer({ token }, async ({ url, status }) => {
    status.plugins = [plugin("a<b>", { state: "paused", lastError: "bad <x>", lastErrorEvent: 7 })];
    const page = await send(`${url}/`);
    assert.equal(page.status, 200);
    assert.ok(page.text.includes('data-plugin="a&#60;b&#62;"'), "name escaped");
    assert.ok(page.text.includes("event 7: bad &#60;x&#62;"));
    assert.ok(page.text.includes('data-action="resume"'));
    assert.ok(page.text.includes('id="token"'));
    assert.ok(page.text.includes("new EventSource"), "script embedded");
    assert.ok(!page.text.includes(token));
    const part = await send(`${url}/parts/main`);
    assert.ok(part.text.includes('<table id="plugins">') && !part.text.includes("<script>"));
  });
});

Deno.test("HttpServer /api/events streams delivered events", async () => {
  await withServer({}, async ({ url, metrics }) => {
    const response = await fetch(`${url}/api/events`);
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    // Delivered once the stream listens (its first read starts the handler).
    const first = reader.read();
    while (true) {
      metrics.delivered("a", [event(42, 0)]);
      const raced = await Promise.race([first, new Promise((r) => setTimeout(r, 20, null))]);
      if (raced) {
        const chunk = (raced as ReadableStreamReadResult<string>).value!;
        assert.match(chunk, /event: delivered/);
        assert.match(chunk, /"plugin":"a","id":42,"eventType":"Shotgun_Shot_Change"/);
        break;
      }
    }
    await reader.cancel();
  });
});

Deno.test("HttpServer /webhook wakes the engine only for a delivery signed with the secret", async () => {
  await withServer({ webhookSecret: secret }, async ({ url, woken }) => {
    const body = '{"data":{"id":1}}';
    const post = (headers: Record<string, string>) =>
      send(`${url}/webhook`, { method: "POST", body, headers });
    assert.equal((await post({})).status, 401);
    assert.equal((await post({ "x-sg-signature": "sha1=" + "0".repeat(40) })).status, 401);
    assert.equal((await post({ "x-sg-signature": signBody(body + " ", secret) })).status, 401);
    assert.equal(woken(), 0);
    const ok = await post({ "x-sg-signature": signBody(body, secret) });
    assert.equal(ok.status, 200);
    assert.equal(woken(), 1);
  });
  await withServer({}, async ({ url, woken }) => {
    const off = await send(`${url}/webhook`, { method: "POST", body: "{}" });
    assert.equal(off.status, 404);
    assert.equal(woken(), 0);
  });
});

Deno.test("HttpServer page and API list a hundred plugins, each with its lag chart", async () => {
  await withServer({}, async ({ url, status, server, clock }) => {
    status.plugins = Array.from(
      { length: 100 },
      (_, i) => plugin(`p${String(i).padStart(3, "0")}`, { cursor: i }),
    );
    server.sample();
    clock.now += 10_000;
    server.sample();
    const page = await send(`${url}/`);
    assert.equal(page.text.match(/<tr data-plugin=/g)?.length, 100);
    assert.equal(page.text.match(/<polyline /g)?.length, 100);
    const list = await send(`${url}/api/plugins`);
    assert.deepEqual(list.json.plugins.map((p: { name: string }) => p.name).slice(0, 2), [
      "p000",
      "p001",
    ]);
    assert.equal(list.json.plugins.length, 100);
  });
});
