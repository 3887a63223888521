import assert from "node:assert/strict";
import { workerPermissions } from "./permissions.ts";

const site = { url: "https://studio.shotgrid.autodesk.com", proxy: "http://proxy.local:3128" };

Deno.test("workerPermissions() inherits without configured permissions", () => {
  assert.equal(workerPermissions(null, site), "inherit");
  assert.equal(workerPermissions(undefined, site), "inherit");
});

Deno.test("workerPermissions() grants exactly what is configured, plus the site and proxy", () => {
  assert.deepEqual(workerPermissions({ read: ["/data"], net: ["mail.local"] }, site), {
    read: ["/data"],
    write: false,
    env: false,
    run: false,
    net: ["mail.local", "studio.shotgrid.autodesk.com", "proxy.local:3128"],
    ffi: false,
    sys: false,
  });
  const open = workerPermissions({ net: true, env: true }, { url: "not a url", proxy: null });
  assert.ok(open !== "inherit");
  assert.equal(open.net, true);
  assert.equal(open.env, true);
  const closed = workerPermissions({}, { url: "not a url", proxy: null });
  assert.ok(closed !== "inherit");
  assert.equal(closed.net, false);
});
