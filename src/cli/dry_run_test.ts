import assert from "node:assert/strict";
import { startSimulator } from "../sim/mod.ts";
import { getToken } from "../sim/testing.ts";
import { startDryRunProxy } from "./dry_run.ts";

Deno.test("startDryRunProxy() forwards reads and records batch and upload writes", async () => {
  await using sim = await startSimulator({ port: 0, quiet: true });
  const shot = sim.store.create("Shot", { code: "sh010" });
  await using proxy = await startDryRunProxy(sim.url);
  // The token grant and a search go to the site.
  const token = await getToken({ ...sim, url: proxy.url });
  const auth = { authorization: `Bearer ${token}` };
  const search = await fetch(`${proxy.url}/api/v1/entity/shots/_search`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/vnd+shotgun.api3_array+json" },
    body: JSON.stringify({ filters: [["id", "is", shot.id]], fields: ["code"] }),
  });
  assert.equal(search.status, 200);
  assert.equal((await search.json()).data[0].attributes.code, "sh010");

  const batch = await fetch(`${proxy.url}/api/v1/entity/_batch`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({
      requests: [
        { request_type: "create", entity: "Shot", data: { code: "b" } },
        { request_type: "update", entity: "Shot", record_id: shot.id, data: { code: "c" } },
        { request_type: "delete", entity: "Shot", record_id: shot.id },
      ],
    }),
  });
  const answered = (await batch.json()).data;
  assert.deepEqual(answered.map((r: { id?: number } | boolean) => r === true ? true : r), [
    { type: "Shot", id: -1, attributes: { code: "b" }, relationships: {}, links: {} },
    { type: "Shot", id: shot.id, attributes: { code: "c" }, relationships: {}, links: {} },
    true,
  ]);

  const start = await fetch(
    `${proxy.url}/api/v1/entity/shots/${shot.id}/image/_upload?filename=t.png`,
    {
      headers: auth,
    },
  );
  const links = (await start.json()).links;
  const put = await fetch(links.upload, { method: "PUT", body: new Uint8Array(10) });
  await put.body?.cancel();
  assert.equal(put.status, 200);
  assert.deepEqual(proxy.writes.map((w) => `${w.method} ${w.path}`), [
    "POST /api/v1/entity/_batch",
    `GET /api/v1/entity/shots/${shot.id}/image/_upload?filename=t.png`,
    "PUT /_sgevents_dry_run/upload",
  ]);
  assert.deepEqual(proxy.writes[2]?.body, { bytes: 10, contentType: null });
  assert.equal(sim.store.get("Shot", shot.id)?.code, "sh010");
});
