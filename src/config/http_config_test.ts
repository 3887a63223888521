import assert from "node:assert/strict";
import { stringify } from "yaml";
import { redact } from "../log/redact.ts";
import { ConfigError } from "./errors.ts";
import { parseConfig } from "./load.ts";

const minimal = {
  shotgrid: { url: "https://site.example", script_name: "sgevents", script_key: "k3y-value" },
  plugins: { paths: ["./plugins"] },
};

const files: Record<string, string> = {
  "/cfg/token": "tok-en-value\n",
  "/cfg/hook": "hook-secret-value\n",
};
const readFile = (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Deno.errors.NotFound(path);
  return text;
};

function parse(http: unknown) {
  return parseConfig(stringify({ ...minimal, http }), {
    file: "/cfg/config.yaml",
    env: {},
    readFile,
  }).http;
}

function problems(http: unknown): readonly string[] {
  try {
    parse(http);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail("accepted");
}

Deno.test("parseConfig() leaves the HTTP server off without an http section", () => {
  assert.equal(parseConfig(stringify(minimal), { file: "config.yaml", env: {} }).http, null);
});

Deno.test("parseConfig() reads http.listen (port 0 allowed), the token and the webhook secret", () => {
  assert.deepEqual(parse({}), {
    listen: "127.0.0.1:8422",
    hostname: "127.0.0.1",
    port: 8422,
    token: null,
    webhookSecret: null,
  });
  const http = parse({ listen: "[::1]:0", token_file: "token", webhook_secret_file: "./hook" });
  assert.deepEqual(http, {
    listen: "[::1]:0",
    hostname: "::1",
    port: 0,
    token: "tok-en-value",
    webhookSecret: "hook-secret-value",
  });
  // Secrets read from files are redacted from then on.
  assert.equal(redact("tok-en-value and hook-secret-value"), "*** and ***");
});

Deno.test("parseConfig() refuses a non-loopback http.listen without a token, naming the key", () => {
  assert.deepEqual(problems({ listen: "0.0.0.0:8422" }), [
    '/cfg/config.yaml: http.token_file: missing; expected a token file when http.listen "0.0.0.0:8422" is not a loopback address',
  ]);
  assert.equal(parse({ listen: "0.0.0.0:8422", token_file: "token" })?.hostname, "0.0.0.0");
  assert.equal(parse({ listen: "localhost:9000" })?.port, 9000);
});

Deno.test("parseConfig() names bad http values and what is expected", () => {
  for (const listen of ["8422", "host:99999", "a b:1", ":80"]) {
    const [line] = problems({ listen });
    assert.match(
      line!,
      /^\/cfg\/config\.yaml: http\.listen: .* is not an address host:port/,
      listen,
    );
  }
  assert.deepEqual(problems({ token_file: "missing" }), [
    '/cfg/config.yaml: http.token_file: cannot read "/cfg/missing": no such file',
  ]);
  assert.match(
    problems({ port: 1 })[0]!,
    /http\.port: unknown key; expected one of: listen, token_file, webhook_secret_file/,
  );
});
