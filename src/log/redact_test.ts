import assert from "node:assert/strict";
import { redact, redactValue, registerSecret, secretForms } from "./redact.ts";

Deno.test("redact() replaces every registered secret, longest first", () => {
  registerSecret("abc-secret");
  registerSecret("abc-secret-longer");
  registerSecret("");
  assert.equal(redact("a abc-secret-longer b abc-secret c"), "a *** b *** c");
  assert.equal(redact("nothing here"), "nothing here");
});

Deno.test("redactValue() copies nested values, errors and cycles with secrets hidden", () => {
  registerSecret("value-secret-1");
  const cause = new Error("inner value-secret-1");
  const error = new TypeError("outer value-secret-1", { cause });
  const cyclic: Record<string, unknown> = { text: "x value-secret-1" };
  cyclic.self = cyclic;
  const date = new Date(0);
  const result = redactValue({ list: ["value-secret-1", 5], error, cyclic, date });
  assert.deepEqual(result.list, ["***", 5]);
  assert.equal(result.error.message, "outer ***");
  assert.equal(result.error.name, "TypeError");
  assert.ok(!result.error.stack?.includes("value-secret-1"));
  assert.equal((result.error.cause as Error).message, "inner ***");
  assert.equal(result.cyclic.text, "x ***");
  assert.equal(result.cyclic.self, result.cyclic);
  assert.equal(result.date, date);
  assert.equal(error.message, "outer value-secret-1", "the original is left alone");
});

Deno.test("redact() hides a registered secret in every encoding and credentials by shape", () => {
  const secret = "k+y/with=signs é 42";
  registerSecret(secret);
  const base64 = btoa(String.fromCharCode(...new TextEncoder().encode(secret)));
  const forms = [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ x: secret }).toString().slice(2),
    encodeURIComponent(secret).toLowerCase(),
    base64,
    base64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, ""),
    JSON.stringify(secret).slice(1, -1),
    JSON.stringify(secret).slice(1, -1).replaceAll("/", "\\/"),
  ];
  for (const form of forms) {
    assert.equal(redact(`before ${form} after`), "before *** after", form);
  }
  // Inside a longer base64 text, at any alignment (e.g. Basic auth of "name:secret").
  for (const prefix of ["", "a", "ab", "sgevents:"]) {
    const encoded = btoa(String.fromCharCode(...new TextEncoder().encode(`${prefix}${secret}!`)));
    assert.ok(!redact(encoded).includes(encoded.slice(4, -4)), `after "${prefix}"`);
  }
  assert.equal(redact("Authorization: Bearer abc.def-ghi_jkl"), "Authorization: ***");
  assert.equal(
    redact('{"authorization":"Basic dXNlcjpwYXNz"}'),
    '{"authorization":"***"}',
  );
  assert.equal(
    redact("sent Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"),
    "sent Bearer ***",
  );
  assert.equal(
    redact('client_secret=abc&x=1 {"access_token":"t0k","password":"pw"}'),
    'client_secret=***&x=1 {"access_token":"***","password":"***"}',
  );
  // Ordinary messages keep their words.
  for (
    const text of [
      "shotgrid.script_key: missing; set script_key or script_key_file",
      "email: password and password_file are both set; keep one",
      "authorization failed for bearer tokens",
    ]
  ) assert.equal(redact(text), text);
});

Deno.test("secretForms() leaves out encoded forms too short to be told from text", () => {
  assert.deepEqual(secretForms("ab"), ["ab"]);
  assert.deepEqual(secretForms(""), []);
  assert.ok(secretForms("a/b+c=d-long-enough").includes("a%2Fb%2Bc%3Dd-long-enough"));
});
