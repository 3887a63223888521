import assert from "node:assert/strict";
import { ended, slot, type WorkerMessage } from "./protocol.ts";
import { event, inThreadTenant } from "./test_helpers.ts";

/** A tenant in this thread, as worker_main.ts makes one, with what it posts. */
async function tenantWith(
  callbackBody: string,
  options: { async?: boolean; stopOnError?: boolean; callbackTimeoutMs?: number } = {},
) {
  const posted: WorkerMessage[] = [];
  const source = `
    export function registerCallbacks(reg) {
      reg.registerCallback("script", "key", ${
    options.async ? "async " : ""
  }function onEvent(sg, logger, event) {
        ${callbackBody}
      }, null, {}, ${options.stopOnError ?? true});
    }`;
  const url = `data:text/javascript,${encodeURIComponent(source)}`;
  const { tenant, control } = await inThreadTenant(url, {
    ...(options.callbackTimeoutMs !== undefined
      ? { callbackTimeoutMs: options.callbackTimeoutMs }
      : {}),
    post: (message) => posted.push(message),
    running: () => {},
  });
  assert.equal(posted.shift()?.kind, "loaded");
  return { tenant, control, posted };
}

Deno.test("Tenant runs no callback once its host has given the Worker up, even mid-batch", async () => {
  const { tenant, control, posted } = await tenantWith(`
    globalThis.seen.push(event.id);
    // The host gives the Worker up while this callback runs (a timeout on a thread that
    // is slow, not stuck): Deno's terminate() lets the synchronous batch run on.
    if (event.id === 2) Atomics.store(globalThis.ints, ${slot.stop}, ${ended});
  `);
  const scope = globalThis as unknown as { seen: number[]; ints: Int32Array };
  scope.seen = [];
  scope.ints = control.ints;
  await tenant.deliver(1, [1, 2, 3, 4, 5].map((id) => event(id)), { resume: null, timing: false });
  assert.deepEqual(scope.seen, [1, 2], "events 3 to 5 are the next Worker's");
  const done = posted.find((m) => m.kind === "done");
  assert.ok(done && done.kind === "done");
  assert.equal(done.done, 2);
  assert.equal(done.stopped, true);
});

Deno.test("Tenant: a timed-out callback settling later does not mark another event's callback done", async () => {
  const { tenant, control } = await tenantWith(
    `
    if (event.id === 1) return new Promise((resolve) => { globalThis.late = resolve; });
    // Event 1's attempt timed out; it settles now, while this callback runs on event 2.
    globalThis.late();
    await new Promise((resolve) => setTimeout(resolve, 0));
    globalThis.nextDuring = Atomics.load(globalThis.ints, ${slot.next});
  `,
    { async: true, stopOnError: false, callbackTimeoutMs: 50 },
  );
  const scope = globalThis as unknown as { ints: Int32Array; nextDuring?: number };
  scope.ints = control.ints;
  await tenant.deliver(1, [event(1), event(2)], { resume: null, timing: false });
  // Were the Worker ended now (a co-tenant's crash), event 2 must resume at this callback.
  assert.equal(scope.nextDuring, 0);
});
