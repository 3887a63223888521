import assert from "node:assert/strict";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { StateStore } from "../state/state_store.ts";
import { Engine } from "./engine.ts";
import type { EngineObserver } from "./observer.ts";
import { MemoryLog, once, RecordingHost, testConfig, until } from "./test_fakes.ts";
import type { DeliveryReport } from "./types.ts";

/** An observer that keeps what it is told. */
class RecordingObserver implements EngineObserver {
  pages: number[][] = [];
  deliveredIds = new Map<string, number[]>();
  seconds: [string, number][] = [];
  failures = new Map<string, number>();
  pageRead(events: readonly ShotGridEvent[]): void {
    this.pages.push(events.map((event) => event.id));
  }
  delivered(plugin: string, events: readonly ShotGridEvent[]): void {
    const ids = this.deliveredIds.get(plugin) ?? [];
    this.deliveredIds.set(plugin, [...ids, ...events.map((event) => event.id)]);
  }
  deliverySeconds(plugin: string, _seconds: number, events: number): void {
    this.seconds.push([plugin, events]);
  }
  callbackFailed(plugin: string, count: number): void {
    this.failures.set(plugin, (this.failures.get(plugin) ?? 0) + count);
  }
}

/** A host whose deliveries wait for `release()` while `hold` is true. */
class GatedHost extends RecordingHost {
  hold = false;
  started = 0;
  #gate = Promise.withResolvers<void>();
  release(): void {
    this.hold = false;
    this.#gate.resolve();
  }
  override async deliver(events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
    this.started++;
    if (this.hold) await this.#gate.promise;
    return await super.deliver(events);
  }
}

async function withEngine(
  hosts: RecordingHost[],
  seen: EngineObserver | undefined,
  fn: (engine: Engine, log: MemoryLog) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const log = new MemoryLog();
    log.add(5);
    // An hour: a caught-up lane reads again within the test only when woken.
    const config = testConfig(`${dir}/state.json`, { fetchIntervalMs: 3_600_000 });
    const store = await StateStore.open(config.daemon.stateFile, {
      site: config.shotgrid.url,
      backlogTimeoutMs: config.daemon.backlogTimeoutMs,
    });
    const engine = new Engine({
      config,
      source: log,
      store,
      startHost: (plugin) => Promise.resolve(hosts.find((host) => host.name === plugin.name)!),
      plugins: once(hosts.map((host) => ({ name: host.name, file: host.file, hash: host.hash }))),
      ...(seen ? { observer: seen } : {}),
    });
    const controller = new AbortController();
    const running = engine.run(controller.signal);
    try {
      await fn(engine, log);
    } finally {
      controller.abort();
      for (const host of hosts) if (host instanceof GatedHost) host.release();
      await running;
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Engine.wake() makes caught-up lanes read now instead of after fetch_interval", async () => {
  const a = new RecordingHost("a", "/a.ts", "1");
  const b = new RecordingHost("b", "/b.ts", "1");
  await withEngine([a, b], undefined, async (engine, log) => {
    await until(() => a.seen.length === 5 && b.seen.length === 5);
    log.add(3);
    engine.wake();
    await until(() => a.seen.length === 8 && b.seen.length === 8);
    assert.deepEqual(a.seen, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(b.seen, [1, 2, 3, 4, 5, 6, 7, 8]);
    log.add(2);
    engine.wake();
    engine.wake();
    await until(() => a.seen.length === 10);
    assert.deepEqual(a.seen.slice(8), [9, 10], "a repeated wake delivers nothing twice");
  });
});

Deno.test("Engine.wake() during a delivery reads again once it is done, without cutting it short", async () => {
  const a = new GatedHost("a", "/a.ts", "1");
  await withEngine([a], undefined, async (engine, log) => {
    await until(() => a.seen.length === 5);
    a.hold = true;
    log.add(1);
    engine.wake();
    await until(() => a.started === 2);
    // Committed while event 6 is being delivered: the page in hand cannot have it.
    log.add(1);
    engine.wake();
    a.release();
    await until(() => a.seen.length === 7);
    assert.deepEqual(a.seen, [1, 2, 3, 4, 5, 6, 7]);
  });
});

Deno.test("Engine tells its observer of pages read, deliveries, their time and failures", async () => {
  const a = new RecordingHost("a", "/a.ts", "1");
  a.stopOnError = false;
  a.failOn.add(3);
  const seen = new RecordingObserver();
  await withEngine([a], seen, async () => {
    await until(() => a.seen.length === 4);
    const delivered = seen.deliveredIds.get("a");
    // Event 3 failed (skipped): its callback did not finish it, but the plugin received it.
    assert.deepEqual(delivered, [1, 2, 3, 4, 5]);
    assert.deepEqual(seen.pages[0], [1, 2, 3, 4, 5]);
    assert.equal(seen.failures.get("a"), 1);
    assert.deepEqual(seen.seconds, [["a", 5]]);
  });
});
