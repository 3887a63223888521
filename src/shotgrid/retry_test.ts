import assert from "node:assert/strict";
import { ShotGridError } from "./errors.ts";
import { isRetriableStatus, parseRetryAfter, withRetries } from "./retry.ts";

Deno.test("isRetriableStatus() retries 429/502/503/504 always and 500 only for reads", () => {
  for (const status of [429, 502, 503, 504]) {
    assert.equal(isRetriableStatus(status, false), true, String(status));
  }
  assert.equal(isRetriableStatus(500, true), true);
  assert.equal(isRetriableStatus(500, false), false);
  for (const status of [400, 401, 403, 404, 406, 415]) {
    assert.equal(isRetriableStatus(status, true), false, String(status));
  }
});

Deno.test("parseRetryAfter() reads seconds and HTTP dates", () => {
  const now = Date.parse("2026-01-21T19:47:33Z");
  assert.equal(parseRetryAfter("7", now), 7000);
  assert.equal(parseRetryAfter("Wed, 21 Jan 2026 19:47:43 GMT", now), 10_000);
  assert.equal(parseRetryAfter("Wed, 21 Jan 2026 19:47:00 GMT", now), 0);
  assert.equal(parseRetryAfter("99999", now), 600_000);
  assert.equal(parseRetryAfter(null, now), null);
  assert.equal(parseRetryAfter("soon", now), null);
});

function retriable(retryAfterMs: number | null = null): ShotGridError {
  return new ShotGridError("Cannot x: 503", { status: 503, retriable: true, retryAfterMs });
}

Deno.test("withRetries() stops after `retries` retries with the last error", async () => {
  const waits: number[] = [];
  let tries = 0;
  await assert.rejects(
    withRetries(() => {
      tries++;
      return Promise.reject(retriable());
    }, {
      retries: 3,
      backoff: { random: () => 0, initialMs: 100 },
      sleep: (ms) => (waits.push(ms), Promise.resolve()),
    }),
    { name: "ShotGridError", status: 503 },
  );
  assert.equal(tries, 4);
  assert.deepEqual(waits, [50, 100, 200]);
});

Deno.test("withRetries() waits what Retry-After asked for", async () => {
  const waits: number[] = [];
  let tries = 0;
  const result = await withRetries(() => {
    tries++;
    return tries < 2 ? Promise.reject(retriable(4000)) : Promise.resolve("ok");
  }, { retries: 3, sleep: (ms) => (waits.push(ms), Promise.resolve()) });
  assert.equal(result, "ok");
  assert.deepEqual(waits, [4000]);
});

Deno.test("withRetries() never retries non-retriable errors or programmer bugs", async () => {
  for (const error of [new ShotGridError("Cannot x: 400"), new TypeError("bug")]) {
    let tries = 0;
    await assert.rejects(
      withRetries(() => {
        tries++;
        return Promise.reject(error);
      }, { retries: 3, sleep: () => Promise.resolve() }),
      (e) => e === error,
    );
    assert.equal(tries, 1);
  }
});

Deno.test("withRetries() rejects with the abort reason during a backoff wait", async () => {
  const controller = new AbortController();
  const reason = new DOMException("stop", "AbortError");
  let tries = 0;
  await assert.rejects(
    withRetries(() => {
      tries++;
      return Promise.reject(retriable());
    }, {
      retries: 3,
      backoff: { initialMs: 60_000 },
      signal: controller.signal,
      sleep: (ms, signal) => {
        queueMicrotask(() => controller.abort(reason));
        return new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, ms);
          signal?.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(signal.reason);
          });
        });
      },
    }),
    (e) => e === reason,
  );
  assert.equal(tries, 1);
});
