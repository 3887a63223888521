/**
 * A site that echoes requests back (a debug proxy, a misconfigured gateway) must not make
 * the script key or the bearer token appear in any error message or log line, in any
 * encoding it travelled in: raw, URL- and form-encoded, base64, base64url, JSON-escaped.
 */
import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { registerSecret } from "../src/log/redact.ts";
import { setupLogging } from "../src/log/setup.ts";
import { ShotGridClient } from "../src/shotgrid/client.ts";

const scriptKey = `SEKRET+k3y/w1th=plus+slash/${crypto.randomUUID().slice(0, 8)}==`;
const token = `tok-${crypto.randomUUID().replaceAll("-", "")}`;

/** Every encoding of a secret this test looks for, computed independently of src/log. */
function encodings(secret: string): Record<string, string> {
  const base64 = btoa(secret);
  return {
    raw: secret,
    uriComponent: encodeURIComponent(secret),
    form: new URLSearchParams({ x: secret }).toString().slice(2),
    formLowerHex: new URLSearchParams({ x: secret }).toString().slice(2)
      .replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    base64,
    base64url: base64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, ""),
    json: JSON.stringify(secret).slice(1, -1),
    basicAuth: btoa(`sgevents:${secret}`).slice(12, 40),
  };
}

function assertClean(text: string, what: string): void {
  for (const [secret, label] of [[scriptKey, "script key"], [token, "token"]] as const) {
    for (const [name, form] of Object.entries(encodings(secret))) {
      assert.ok(!text.includes(form), `${what}: the ${label} appears ${name} (${form}):\n${text}`);
    }
  }
}

/** The echo: the request line, every header and the body, in several encodings. */
async function echo(request: Request): Promise<string> {
  const body = await request.text();
  const headers = [...request.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
  return `${request.method} ${new URL(request.url).pathname}\n${headers}\n\n${body}\n` +
    `json: ${JSON.stringify({ body: Object.fromEntries(new URLSearchParams(body)) })}\n` +
    `basic: Basic ${btoa(`sgevents:${new URLSearchParams(body).get("client_secret") ?? ""}`)}`;
}

type Mode = "auth 400" | "auth 500" | "data 500" | "data 200 not JSON" | "data 200 no data";

Deno.test("ShotGridClient errors and logs never show an echoed key or token, in any encoding", async () => {
  let mode: Mode = "auth 400";
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const text = await echo(request);
      const isAuth = new URL(request.url).pathname.endsWith("/auth/access_token");
      const errorBody = (status: number) =>
        Response.json({ errors: [{ status, title: "Echo", detail: text }] }, { status });
      if (isAuth) {
        if (mode === "auth 400") return errorBody(400);
        if (mode === "auth 500") return new Response(text, { status: 500 });
        return Response.json({ access_token: token, expires_in: 600, token_type: "Bearer" });
      }
      if (mode === "data 500") return errorBody(500);
      if (mode === "data 200 not JSON") return new Response(text, { status: 200 });
      return Response.json({ echo: text, also: { authorization: `Bearer ${token}` } });
    },
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const errors: { mode: Mode; error: Error }[] = [];
  const modes: Mode[] = [
    "auth 400",
    "auth 500",
    "data 500",
    "data 200 not JSON",
    "data 200 no data",
  ];
  for (mode of modes) {
    await using client = new ShotGridClient({
      url,
      scriptName: "sgevents",
      scriptKey,
      retries: 0,
    });
    const error = await client.find("EventLogEntry", [], ["id"]).then(() => null, (e) => e);
    assert.ok(error instanceof Error, `${mode}: the call failed`);
    errors.push({ mode, error });
  }
  // Before any secret is registered: the client's own redaction.
  for (const { mode, error } of errors) {
    const chain = [error, error.cause].map((e) =>
      e instanceof Error ? `${e.message}\n${e.stack}` : String(e)
    );
    assertClean(chain.join("\n"), `${mode} error`);
  }
  const messages = Object.fromEntries(errors.map(({ mode, error }) => [mode, error.message]));
  for (const [mode, message] of Object.entries(messages)) {
    assert.ok(!message.includes("\n"), `${mode}: one line: ${message}`);
  }
  assert.match(
    messages["data 200 not JSON"]!,
    /the response is not JSON \(status 200, body "POST /,
  );
  assert.match(
    messages["data 200 no data"]!,
    /the response has no "data" array of records \(status 200, body "\{/,
  );
  assert.match(messages["auth 400"]!, /400 Echo: POST .*client_secret=\*\*\*/s);

  // With the key registered (as loading the config does), every log line, including a
  // plugin logging the raw echo it received.
  registerSecret(scriptKey);
  const chunks: string[] = [];
  const stream = new WritableStream<Uint8Array>({
    write: (chunk) => void chunks.push(new TextDecoder().decode(chunk)),
  });
  for (const format of ["plain", "json"] as const) {
    await using _logging = await setupLogging({
      level: "debug",
      dir: null,
      perPlugin: false,
      timing: false,
      format,
      levels: {},
      maxFileBytes: 1 << 20,
      maxFiles: 1,
    }, { consoleStream: stream });
    const logger = getLogger(["sgevents", "plugin", "echo"]);
    for (const { mode, error } of errors) {
      logger.error("Call failed ({mode}): {error}", { mode, error });
      logger.warn(`Call failed: ${error.message}`);
    }
    const raw = await echo(
      new Request(`${url}/x`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
        body: new URLSearchParams({ client_secret: scriptKey }),
      }),
    );
    logger.info("The site said {raw}", { raw });
    logger.info(`The site said ${raw}`);
  }
  const logged = chunks.join("");
  assert.match(logged, /Call failed/);
  assertClean(logged, "log");
});
