import assert from "node:assert/strict";
import { errorFromResponse, redact, ShotGridError } from "./errors.ts";

Deno.test("errorFromResponse() names the action, status, title and code", () => {
  const error = errorFromResponse("search EventLogEntry", {
    status: 400,
    statusText: "Bad Request",
    text: JSON.stringify({
      errors: [{
        id: "ab12",
        status: 400,
        code: 103,
        title: "API read() EventLogEntry.foo doesn't exist.",
        detail: null,
      }],
    }),
  }, { retriable: false });
  assert.ok(error instanceof ShotGridError);
  assert.equal(error.name, "ShotGridError");
  assert.equal(
    error.message,
    "Cannot search EventLogEntry: 400 API read() EventLogEntry.foo doesn't exist. (code 103)",
  );
  assert.equal(error.status, 400);
  assert.equal(error.code, 103);
  assert.equal(error.retriable, false);
});

Deno.test("errorFromResponse() adds a distinct detail and falls back to the status text", () => {
  const withDetail = errorFromResponse("read Shot 1", {
    status: 401,
    statusText: "Unauthorized",
    text: '{"errors":[{"code":102,"status":401,"title":"Unauthorized","detail":"Token Expired"}]}',
  }, { retriable: false });
  assert.equal(
    withDetail.message,
    "Cannot read Shot 1: 401 Unauthorized: Token Expired (code 102)",
  );
  const html = errorFromResponse("read Shot 1", {
    status: 502,
    statusText: "Bad Gateway",
    text: "<html>oops</html>",
  }, { retriable: true, retryAfterMs: 5 });
  assert.equal(html.message, "Cannot read Shot 1: 502 Bad Gateway");
  assert.equal(html.code, null);
  assert.equal(html.retriable, true);
  assert.equal(html.retryAfterMs, 5);
});

Deno.test("errorFromResponse() redacts secrets echoed by the server", () => {
  const error = errorFromResponse("authenticate", {
    status: 400,
    statusText: "Bad Request",
    text: '{"errors":[{"code":102,"title":"Bad secret hunter2","detail":"got hunter2"}]}',
  }, { retriable: false, secrets: ["hunter2"] });
  assert.ok(!error.message.includes("hunter2"));
  assert.ok(!error.title.includes("hunter2"));
  assert.equal(redact("a hunter2 b", ["", "hunter2"]), "a *** b");
});
