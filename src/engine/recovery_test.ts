import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { ShotGridError } from "../shotgrid/errors.ts";
import { withRecovery } from "./recovery.ts";

function recorder(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = {
    warn: (message: string) => lines.push(`warn ${message}`),
    error: (message: string) => lines.push(`error ${message}`),
  } as unknown as Logger;
  return { logger, lines };
}

Deno.test("withRecovery() backs off, reports one error after max_conn_retries, and keeps trying", async () => {
  const { logger, lines } = recorder();
  const waits: number[] = [];
  let calls = 0;
  const result = await withRecovery(() => {
    calls++;
    if (calls < 6) throw new Error("connection reset");
    return Promise.resolve("ok");
  }, {
    signal: new AbortController().signal,
    logger,
    maxConnRetries: 3,
    connRetrySleepMs: 60_000,
    sleep: (ms) => (waits.push(ms), Promise.resolve()),
    backoff: { random: () => 1 },
    action: "read events",
  });
  assert.equal(result, "ok");
  assert.equal(calls, 6);
  assert.deepEqual(waits, [300, 600, 60_000, 60_000, 60_000]);
  assert.deepEqual(lines.map((l) => l.split(" ")[0]), ["warn", "warn", "error", "warn", "warn"]);
});

Deno.test("withRecovery() stops at once when its signal aborts, mid-wait", async () => {
  const { logger } = recorder();
  const controller = new AbortController();
  const started = withRecovery(() => Promise.reject(new Error("down")), {
    signal: controller.signal,
    logger,
    maxConnRetries: 1,
    connRetrySleepMs: 3_600_000,
    sleep: (ms, signal) =>
      new Promise((_, reject) => {
        const timer = setTimeout(() => {}, ms);
        signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(signal.reason);
        });
      }),
    action: "read events",
  });
  setTimeout(() => controller.abort(new DOMException("stop", "AbortError")), 10);
  await assert.rejects(started, { name: "AbortError" });
});

Deno.test("withRecovery() reports a failure that is not retriable at once, then tries it only every conn_retry_sleep", async () => {
  const { logger, lines } = recorder();
  const waits: number[] = [];
  let calls = 0;
  const forbidden = new ShotGridError("Cannot read events: 403 Forbidden", {
    status: 403,
    retriable: false,
  });
  const result = await withRecovery(() => {
    calls++;
    if (calls < 4) throw forbidden;
    return Promise.resolve("ok");
  }, {
    signal: new AbortController().signal,
    logger,
    maxConnRetries: 5,
    connRetrySleepMs: 60_000,
    sleep: (ms) => (waits.push(ms), Promise.resolve()),
    action: "read events",
  });
  assert.equal(result, "ok");
  assert.deepEqual(waits, [60_000, 60_000, 60_000], "no fast backoff for a 403");
  assert.deepEqual(lines.map((l) => l.split(" ")[0]), ["error", "warn", "warn"]);
  assert.match(lines[0]!, /not a passing fault/);
});
