/**
 * End-to-end: the daemon's HTTP server (a subprocess of main.ts) against the simulator:
 * readiness, metrics checked against what the plugins saw, the API's resume, and the
 * webhook waking a poller whose fetch_interval is an hour.
 */
import assert from "node:assert/strict";
import { signBody } from "../src/http/auth.ts";
import { startSimulator } from "../src/sim/mod.ts";
import { flaggedPlugin, listeningUrl, metric, writeHttpConfig } from "./http_helpers.ts";
import { eventually, readIds, recorderPlugin, spawnSgevents, tempDir } from "./helpers.ts";

const token = "operator-token-123";
const secret = "webhook-secret-456";

Deno.test("daemon HTTP server reports readiness, metrics and lag, resumes through the API, and wakes on a signed webhook", async (t) => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 20, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, recorderPlugin(`${dir.path}/a.ids`));
  const flag = `${dir.path}/fail`;
  await Deno.writeTextFile(flag, "");
  await Deno.writeTextFile(`${dir.path}/plugins/b.ts`, flaggedPlugin(`${dir.path}/b.ids`, flag));
  await Deno.writeTextFile(`${dir.path}/plugins/broken.ts`, "export const x = ;");
  await Deno.writeTextFile(`${dir.path}/token`, token + "\n");
  await Deno.writeTextFile(`${dir.path}/secret`, secret + "\n");
  const config = await writeHttpConfig({
    url: sim.url,
    dir: dir.path,
    // An hour: only a webhook makes a caught-up lane read again within the test.
    daemon: { fetch_interval: "1h" },
  }, { listen: "127.0.0.1:0", token_file: "./token", webhook_secret_file: "./secret" });
  await using daemon = spawnSgevents(["daemon", "-c", config]);
  await daemon.waitFor("HTTP listening on");
  const url = listeningUrl(daemon.output());
  const getJson = async (path: string) => {
    const response = await fetch(url + path);
    return { status: response.status, json: await response.json() };
  };

  await t.step("GET /healthz is 200 while the engine runs", async () => {
    assert.deepEqual(await getJson("/healthz"), { status: 200, json: { status: "ok" } });
  });

  await t.step("the API shows a caught up, b paused at event 1, broken failed", async () => {
    await eventually(async () => (await readIds(`${dir.path}/a.ids`)).length === 20);
    await eventually(
      async () => {
        const { json } = await getJson("/api/plugins");
        const a = json.plugins.find((p: { name: string }) => p.name === "a");
        const b = json.plugins.find((p: { name: string }) => p.name === "b");
        return a?.cursor === 20 && a.lagEvents === 0 && a.lagSeconds === 0 && b?.state === "paused";
      },
      20_000,
      "a caught up and b paused",
    );
    const { json } = await getJson("/api/plugins");
    const byName = Object.fromEntries(json.plugins.map((p: { name: string }) => [p.name, p]));
    assert.equal(json.head, 20);
    assert.equal(byName.b.cursor, 0);
    assert.equal(byName.b.lagEvents, 20);
    assert.ok(byName.b.lagSeconds > 0, "b's next event has an age");
    assert.equal(byName.b.lastErrorEvent, 1);
    assert.match(byName.b.lastError, /flagged plugin refuses event 1/);
    assert.equal(byName.broken.state, "failed");
  });

  await t.step("GET /readyz is 503 naming the plugin that failed to load", async () => {
    const { status, json } = await getJson("/readyz");
    assert.equal(status, 503);
    assert.equal(json.ready, false);
    assert.deepEqual(json.reasons, ["plugin(s) failed to load: broken"]);
  });

  await t.step("GET /metrics counts what the plugins saw", async () => {
    const text = await (await fetch(url + "/metrics")).text();
    const delivered = (await readIds(`${dir.path}/a.ids`)).length;
    assert.equal(metric(text, 'sgevents_events_delivered_total{plugin="a"}'), delivered);
    assert.equal(metric(text, 'sgevents_plugin_lag_events{plugin="a"}'), 0);
    assert.equal(metric(text, 'sgevents_plugin_lag_seconds{plugin="a"}'), 0);
    assert.equal(metric(text, 'sgevents_plugin_lag_events{plugin="b"}'), 20);
    assert.equal(metric(text, 'sgevents_plugin_state{plugin="b",state="paused"}'), 1);
    assert.equal(metric(text, 'sgevents_plugin_state{plugin="b",state="running"}'), 0);
    assert.equal(metric(text, 'sgevents_plugin_state{plugin="broken",state="failed"}'), 1);
    assert.equal(metric(text, 'sgevents_callback_failures_total{plugin="b"}'), 1);
    assert.equal(metric(text, 'sgevents_callback_seconds_count{plugin="a"}'), delivered);
    assert.equal(metric(text, "sgevents_head_event_id"), 20);
    assert.equal(metric(text, 'sgevents_backlog_ids{plugin="a"}'), 0);
    assert.ok(metric(text, 'sgevents_site_requests_total{kind="search",status="200"}')! > 0);
    assert.ok(metric(text, "sgevents_state_save_seconds_count")! > 0);
    assert.ok(metric(text, 'sgevents_site_request_seconds_count{kind="search"}')! > 0);
    assert.ok(!text.includes(token) && !text.includes(secret));
  });

  await t.step("POST resume without the token is 401 and changes nothing", async () => {
    const response = await fetch(`${url}/api/plugins/b/resume`, { method: "POST" });
    assert.equal(response.status, 401);
    await response.body?.cancel();
    assert.equal((await getJson("/api/plugins/b")).json.state, "paused");
  });

  await t.step("POST resume with the token is applied and b delivers everything", async () => {
    await Deno.remove(flag);
    const response = await fetch(`${url}/api/plugins/b/resume`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    const answer = await response.json();
    assert.equal(response.status, 200, JSON.stringify(answer));
    assert.equal(answer.applied, true);
    await eventually(async () => (await readIds(`${dir.path}/b.ids`)).length === 20);
    await eventually(async () => (await getJson("/api/plugins/b")).json.lagEvents === 0);
  });

  await t.step(
    "POST /webhook with a bad signature is 401 and logged without the body",
    async () => {
      const body = JSON.stringify({ data: { marker: "body-must-not-be-logged" } });
      const response = await fetch(`${url}/webhook`, {
        method: "POST",
        body,
        headers: { "x-sg-signature": signBody(body, "wrong-secret") },
      });
      assert.equal(response.status, 401);
      await response.body?.cancel();
      await daemon.waitFor("Refused a webhook delivery");
      assert.ok(!daemon.output().includes("body-must-not-be-logged"));
    },
  );

  await t.step("a signed webhook makes caught-up lanes read now, not in an hour", async () => {
    const last = sim.store.appendEvents(3);
    const body = JSON.stringify({ data: { id: 1, event_log_entry_id: last } });
    const response = await fetch(`${url}/webhook`, {
      method: "POST",
      body,
      headers: { "x-sg-signature": signBody(body, secret), "content-type": "application/json" },
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
    for (const name of ["a", "b"]) {
      await eventually(
        async () => (await readIds(`${dir.path}/${name}.ids`)).includes(last),
        20_000,
        `${name} got event ${last}`,
      );
    }
    const ids = await readIds(`${dir.path}/a.ids`);
    assert.equal(new Set(ids).size, ids.length, "nothing delivered twice");
  });

  await t.step("no answer or log line holds a secret", async () => {
    for (const path of ["/api/plugins", "/api/failed", "/", "/readyz"]) {
      const text = await (await fetch(url + path)).text();
      assert.ok(!text.includes(token) && !text.includes(secret), path);
    }
    assert.ok(!daemon.output().includes(token) && !daemon.output().includes(secret));
  });

  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0);
});
