import assert from "node:assert/strict";
import type { Config, PluginSettings } from "../config/types.ts";
import { seededRandom } from "../sim/synth.ts";
import { narrowingFilters, planNarrowing, settledAgeMs, SettledHorizon } from "./narrowing.ts";
import {
  MemoryLog,
  RecordingHost,
  runOnce,
  runWhile,
  testConfig,
  until,
  virtualTime,
} from "./test_fakes.ts";

const version = "Shotgun_Version_New";
const note = "Shotgun_Note_New";
const hour = 3_600_000;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function host(name: string, eventTypes: readonly string[] | null): RecordingHost {
  const h = new RecordingHost(name, `/${name}.ts`, "1");
  h.eventTypes = eventTypes;
  return h;
}

function withSettings(config: Config, settings: Record<string, Partial<PluginSettings>>): Config {
  const full: Record<string, PluginSettings> = {};
  for (const [name, s] of Object.entries(settings)) {
    full[name] = {
      enabled: true,
      permissions: null,
      callbackTimeoutMs: null,
      retries: null,
      startAt: null,
      projects: null,
      ...s,
    };
  }
  return { ...config, plugins: { ...config.plugins, settings: full } };
}

Deno.test("planNarrowing() reads the union of what plugins want, and everything when one wants all", () => {
  const a = { name: "a", eventTypes: [version], projects: [2] };
  const b = { name: "b", eventTypes: [note, version], projects: [1] };
  assert.deepEqual(planNarrowing([a, b]).narrowing, {
    eventTypes: [note, version],
    projects: [1, 2],
  });
  const any = { name: "any", eventTypes: null, projects: null };
  const plan = planNarrowing([a, any]);
  assert.equal(plan.narrowing, null);
  assert.equal(plan.key, "");
  assert.deepEqual(plan.anyType, ["any"]);
  // Types still narrow when only projects cannot.
  assert.deepEqual(planNarrowing([a, { ...b, projects: null }]).narrowing, {
    eventTypes: [note, version],
    projects: null,
  });
  assert.equal(planNarrowing([]).narrowing, null);
});

Deno.test("narrowingFilters() selects exact types, wildcard types and projects", () => {
  assert.deepEqual(narrowingFilters({ eventTypes: [note, version], projects: null }), [
    ["event_type", "in", [note, version]],
  ]);
  assert.deepEqual(
    narrowingFilters({ eventTypes: [version, "Shotgun_*_Change", "Toolkit_*"], projects: [7] }),
    [
      {
        filter_operator: "any",
        filters: [
          ["event_type", "in", [version]],
          {
            filter_operator: "all",
            filters: [["event_type", "starts_with", "Shotgun_"], [
              "event_type",
              "ends_with",
              "_Change",
            ]],
          },
          ["event_type", "starts_with", "Toolkit_"],
        ],
      },
      ["project", "in", [{ type: "Project", id: 7 }]],
    ],
  );
  assert.deepEqual(narrowingFilters({ eventTypes: ["**"], projects: [7] }), [
    ["project", "in", [{ type: "Project", id: 7 }]],
  ]);
  // Wanting no type at all selects nothing (no request is needed).
  assert.equal(narrowingFilters({ eventTypes: [], projects: null }), null);
});

function horizonOver(
  log: MemoryLog,
  clock: () => number,
  onError: (error: unknown) => void = (error) => {
    throw error;
  },
): SettledHorizon {
  return new SettledHorizon(log, {
    signal: new AbortController().signal,
    clock,
    settledAgeMs: settledAgeMs(60_000),
    reuseMs: 30_000,
    onError,
  });
}

Deno.test("SettledHorizon stops before the first recent event, at a settled one", async () => {
  const now = 10 * hour;
  const log = new MemoryLog(() => now);
  log.add(5, { createdAt: now - hour });
  log.add(1, { createdAt: now - hour, hidden: true });
  log.add(5);
  // An event with an old created_at after recent ones (a backfill) does not count.
  log.add(1, { createdAt: now - hour });
  const horizon = horizonOver(log, () => now);
  const signal = new AbortController().signal;
  // Id 6 is missing right before the first recent event (7): the horizon is 5, not 6 or 12.
  assert.equal(await horizon.get(0, 10_000, signal), 5);
  // Within its block only: the lookups never look past it.
  assert.equal(await horizonOver(log, () => now).get(0, 3, signal), 3);
});

Deno.test("SettledHorizon never ends on an event committed between its two lookups", async () => {
  const now = 10 * hour;
  const log = new MemoryLog(() => now);
  log.add(98, { createdAt: now - hour });
  const [pending] = log.add(1, { hidden: true });
  const [committing] = log.add(1, { hidden: true });
  log.add(1);
  // The first lookup finds 101 recent; then 100 commits, with 99 still missing below it.
  log.beforeLookup = (kind) => {
    if (kind === "last") log.commit(committing!);
  };
  assert.equal(await horizonOver(log, () => now).get(0, 10_000, new AbortController().signal), 98);
  assert.ok(log.hidden.has(pending!));
});

Deno.test("SettledHorizon shares lookups along a block and refreshes them in the background", async () => {
  let now = 10 * hour;
  const log = new MemoryLog(() => now);
  log.add(50, { createdAt: now - hour });
  log.add(5);
  let release = Promise.withResolvers<void>();
  let lookups = 0;
  log.beforeLookup = async (kind) => {
    if (kind === "first") lookups++;
    await release.promise;
  };
  const horizon = horizonOver(log, () => now);
  const signal = new AbortController().signal;
  // Lanes at the same cursor share a lookup; a lane elsewhere does not wait for it.
  const first = horizon.get(0, 10_000, signal);
  const second = horizon.get(0, 10_000, signal);
  const elsewhere = horizon.get(10, 10_000, signal);
  assert.equal(lookups, 2);
  release.resolve();
  assert.deepEqual(await Promise.all([first, second, elsewhere]), [50, 50, 50]);
  // Lanes further on in the block use the answers.
  assert.equal(await horizon.get(20, 10_000, signal), 50);
  assert.equal(lookups, 2);
  // Once old, the answer is still served while a fresh one is looked up.
  release = Promise.withResolvers<void>();
  now += 30_000;
  assert.equal(await horizon.get(20, 10_000, signal), 50);
  assert.equal(await horizon.get(30, 10_000, signal), 50);
  assert.equal(lookups, 3);
  release.resolve();
  // A lane below every answer waits for its own lookup.
  assert.equal(await horizonOver(log, () => now).get(0, 10, signal), 10);
});

Deno.test("SettledHorizon answers 'not narrowed' when a lookup fails, once per reuse period", async () => {
  let now = 10 * hour;
  const log = new MemoryLog(() => now);
  log.add(50, { createdAt: now - hour });
  log.beforeLookup = () => {
    throw new Error("API read() EventLogEntry.created_at: bad filter");
  };
  const errors: unknown[] = [];
  const horizon = horizonOver(log, () => now, (error) => errors.push(error));
  const signal = new AbortController().signal;
  assert.equal(await horizon.get(0, 10_000, signal), 0);
  assert.equal(await horizon.get(0, 10_000, signal), 0);
  assert.equal(errors.length, 1);
  now += 30_000;
  await horizon.get(0, 10_000, signal);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(errors.length, 2);
});

Deno.test("Engine reads a lagging plugin's settled events narrowed, and recent ones whole", async () => {
  await withDir(async (dir) => {
    const log = new MemoryLog();
    const old = Date.now() - hour;
    const wanted: number[] = [];
    for (let i = 0; i < 400; i++) {
      wanted.push(...log.add(1, { createdAt: old, type: i % 10 === 0 ? version : note }));
    }
    wanted.length = 0;
    for (let i = 0; i < 400; i++) if (i % 10 === 0) wanted.push(i + 1);
    for (let i = 0; i < 30; i++) {
      const [id] = log.add(1, { type: i % 10 === 0 ? version : note });
      if (i % 10 === 0) wanted.push(id!);
    }
    const a = host("a", [version]);
    await runOnce(testConfig(`${dir}/state.json`), log, new Map([["a", a]]));
    assert.deepEqual(a.seen, wanted);
    // One narrowed read of the 400 settled events (40 wanted fit one page of 50), and an
    // empty one that shows nothing wanted is left up to the horizon.
    assert.deepEqual(log.narrowedReads, [[0, 400], [391, 400]]);
    // The horizon (2), two narrowed pages, one whole page of the 30 recent ones: not 9 pages.
    assert.equal(log.requests, 5);
  });
});

Deno.test("Engine still delivers a late commit above the settled horizon once", async () => {
  await withDir(async (dir) => {
    const log = new MemoryLog();
    log.add(100, { createdAt: Date.now() - hour, type: version });
    log.add(5, { type: version });
    const [late] = log.add(1, { hidden: true, type: version });
    log.add(5, { type: version });
    const a = host("a", [version]);
    const hosts = new Map([["a", a]]);
    const config = testConfig(`${dir}/state.json`);
    const first = await runOnce(config, log, hosts);
    assert.deepEqual(log.narrowedReads, [[0, 100], [50, 100]]);
    assert.deepEqual([...first.plugins.get("a")!.backlog.keys()], [late]);
    log.commit(late!);
    log.add(2, { type: version });
    await runOnce(config, log, hosts);
    const all = Array.from({ length: 113 }, (_, i) => i + 1).filter((id) => id !== late);
    assert.deepEqual(a.seen, [...all.slice(0, 110), late, ...all.slice(110)]);
  });
});

Deno.test("Engine delivers the same events with narrow_reads on and off (random logs)", async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const seen: number[][][] = [];
    const requests: number[] = [];
    for (const narrowReads of [false, true]) {
      await withDir(async (dir) => {
        const random = seededRandom(seed);
        // Time passes only as the engine waits: backlog lookups (counted below) then do not
        // depend on how busy the machine is (this test failed under load with a real clock).
        const time = virtualTime();
        const log = new MemoryLog(time.clock);
        const hidden: number[] = [];
        const add = (createdAt?: number) => {
          const r = random();
          const type = r < 0.05 ? version : r < 0.1 ? note : "Shotgun_Task_Change";
          const [id] = log.add(1, {
            hidden: random() < 0.03,
            type,
            ...(createdAt === undefined ? {} : { createdAt }),
          });
          if (log.hidden.has(id!)) hidden.push(id!);
        };
        // Old events, then recent ones: created_at grows with the id, as on a site.
        const old = time.clock() - hour;
        for (let i = 0; i < 600; i++) add(old + i);
        for (let i = 0; i < 60; i++) add();
        const hosts = new Map([["a", host("a", [version])], ["b", host("b", [version, note])]]);
        const config = testConfig(`${dir}/state.json`, { narrowReads });
        await runOnce(config, log, hosts, time);
        for (const id of hidden) if (random() < 0.5) log.commit(id);
        for (let i = 0; i < 60; i++) add();
        await runOnce(config, log, hosts, time);
        seen.push([...hosts.values()].map((h) => h.seen));
        requests.push(log.requests);
      });
    }
    assert.deepEqual(seen[1], seen[0], `seed ${seed}`);
    assert.ok(requests[1]! < requests[0]!, `seed ${seed}: ${requests[1]} >= ${requests[0]}`);
  }
});

Deno.test("Engine shares narrowed reads between plugins and skips them when one wants every type", async (t) => {
  await t.step("two plugins: one narrowed read for both", async () => {
    await withDir(async (dir) => {
      const log = new MemoryLog();
      for (let i = 0; i < 100; i++) {
        log.add(1, { createdAt: Date.now() - hour, type: [version, note, "X"][i % 3]! });
      }
      const a = host("a", [version]);
      const b = host("b", [note]);
      await runOnce(testConfig(`${dir}/state.json`), log, new Map([["a", a], ["b", b]]));
      assert.equal(a.seen.length, 34);
      assert.equal(b.seen.length, 33);
      // The 50th event of either type is id 74: the second page goes on from there.
      assert.deepEqual(log.narrowedReads, [[0, 100], [74, 100]]);
    });
  });
  await t.step("a plugin wanting every type: no narrowed read", async () => {
    await withDir(async (dir) => {
      const log = new MemoryLog();
      log.add(100, { createdAt: Date.now() - hour });
      const a = host("a", [version]);
      const all = host("all", null);
      await runOnce(testConfig(`${dir}/state.json`), log, new Map([["a", a], ["all", all]]));
      assert.equal(all.seen.length, 100);
      assert.deepEqual(log.narrowedReads, []);
    });
  });
});

Deno.test("Engine gives a plugin limited to projects only their events, from every kind of read", async () => {
  await withDir(async (dir) => {
    const log = new MemoryLog();
    const old = Date.now() - hour;
    for (let i = 0; i < 60; i++) log.add(1, { createdAt: old, project: (i % 3) + 1 });
    log.add(3, { project: 1 });
    const [late] = log.add(1, { hidden: true, project: 1 });
    const [lateOther] = log.add(1, { hidden: true, project: 2 });
    log.add(3, { project: 2 });
    const a = host("a", null);
    const hosts = new Map([["a", a]]);
    const config = withSettings(testConfig(`${dir}/state.json`), { a: { projects: [1, 3] } });
    await runOnce(config, log, hosts);
    const expected = Array.from({ length: 60 }, (_, i) => i + 1).filter((id) => id % 3 !== 2);
    expected.push(61, 62, 63);
    assert.deepEqual(a.seen, expected);
    assert.deepEqual(log.narrowedReads, [[0, 60]]);
    log.commit(late!);
    log.commit(lateOther!);
    const store = await runOnce(config, log, hosts);
    assert.deepEqual(a.seen, [...expected, late]);
    assert.equal(store.plugins.get("a")!.backlog.size, 0);
  });
});

Deno.test("Engine does not narrow past young gaps when an old created_at follows them", async () => {
  await withDir(async (dir) => {
    const log = new MemoryLog();
    log.add(100, { createdAt: Date.now() - hour, type: version });
    log.add(5, { type: version });
    const [late] = log.add(1, { hidden: true, type: version });
    log.add(4, { type: version });
    log.add(1, { createdAt: Date.now() - hour, type: version });
    const a = host("a", [version]);
    const config = testConfig(`${dir}/state.json`);
    const store = await runOnce(config, log, new Map([["a", a]]));
    assert.deepEqual(log.narrowedReads, [[0, 100], [50, 100]]);
    assert.deepEqual([...store.plugins.get("a")!.backlog.keys()], [late]);
    log.commit(late!);
    await runOnce(config, log, new Map([["a", a]]));
    assert.deepEqual(a.seen.at(-1), late);
    assert.equal(a.seen.length, 111);
  });
});

Deno.test("Engine narrows in blocks of ids, so no request spans more than 200 pages' worth", async () => {
  await withDir(async (dir) => {
    const log = new MemoryLog();
    log.add(25_000, { createdAt: Date.now() - hour });
    const [wanted] = log.add(1, { createdAt: Date.now() - hour, type: version });
    const a = host("a", [version]);
    await runOnce(testConfig(`${dir}/state.json`), log, new Map([["a", a]]));
    assert.deepEqual(a.seen, [wanted]);
    // Batches of 50: blocks of 10,000 ids.
    assert.deepEqual(log.narrowedReads, [[0, 10_000], [10_000, 20_000], [20_000, 25_001]]);
  });
});

Deno.test("Engine does not let a plugin slow to load hold the others back for long", async () => {
  await withDir(async (dir) => {
    const log = new MemoryLog();
    log.add(20);
    const a = host("a", null);
    const slow = Promise.withResolvers<RecordingHost>();
    await runWhile(testConfig(`${dir}/state.json`), {
      log,
      startHost: (p) => p.name === "a" ? Promise.resolve(a) : slow.promise,
      plugins: ["a", "b"],
      startTogetherMs: 50,
      onStop: () => slow.resolve(host("b", null)),
    }, () => until(() => a.seen.length === 20));
    assert.equal(a.seen.length, 20);
  });
});

Deno.test("Engine does not make a lane at the head wait for another lane's horizon lookup", async () => {
  await withDir(async (dir) => {
    const log = new MemoryLog();
    log.add(100, { createdAt: Date.now() - hour, type: version });
    const stuck = Promise.withResolvers<void>();
    // Lookups from the oldest event never answer (an overloaded site).
    log.beforeLookup = (_kind, range) => range.after === 0 ? stuck.promise : undefined;
    const a = host("a", [version]);
    const b = host("b", [version]);
    const config = withSettings(testConfig(`${dir}/state.json`, { startAt: "latest" }), {
      a: { startAt: "oldest" },
    });
    await runWhile(config, {
      log,
      startHost: (p) => Promise.resolve(p.name === "a" ? a : b),
      plugins: ["a", "b"],
      onStop: () => stuck.resolve(),
    }, async (store) => {
      await until(() => store.plugins.has("b"));
      const added = log.add(10, { type: version });
      await until(() => b.seen.length === 10);
      assert.deepEqual(b.seen, added);
      assert.deepEqual(a.seen, []);
    });
  });
});

Deno.test("Engine reads whole pages when the site refuses narrowed reads", async (t) => {
  for (const refuse of ["lookups", "narrowed pages"] as const) {
    await t.step(refuse, async () => {
      await withDir(async (dir) => {
        const log = new MemoryLog();
        log.add(100, { createdAt: Date.now() - hour, type: version });
        const refused = new Error("API read() EventLogEntry.event_type: bad filter");
        if (refuse === "lookups") {
          log.beforeLookup = () => {
            throw refused;
          };
        } else {
          const whole = log.after.bind(log);
          log.after = (after, limit, signal, narrow) =>
            narrow ? Promise.reject(refused) : whole(after, limit, signal);
        }
        const a = host("a", [version]);
        await runOnce(testConfig(`${dir}/state.json`), log, new Map([["a", a]]));
        assert.equal(a.seen.length, 100);
      });
    });
  }
});
