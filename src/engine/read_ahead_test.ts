import assert from "node:assert/strict";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { seededRandom } from "../sim/synth.ts";
import { type Page, PageSource } from "./page_source.ts";
import { MemoryLog, RecordingHost, runOnce, testConfig, virtualTime } from "./test_fakes.ts";
import type { IdRange } from "./types.ts";

const hour = 3_600_000;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// A MemoryLog whose reads answer a macrotask later, counting how many are in flight at once.
class SlowLog extends MemoryLog {
  inFlight = 0;
  maxInFlight = 0;
  async #slow<T>(read: () => Promise<T>): Promise<T> {
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 0));
      return await read();
    } finally {
      this.inFlight--;
    }
  }
  override after(after: number, limit: number): Promise<ShotGridEvent[]> {
    return this.#slow(() => super.after(after, limit));
  }
  override within(range: IdRange, limit: number): Promise<ShotGridEvent[]> {
    return this.#slow(() => super.within(range, limit));
  }
}

function pageSource(
  log: MemoryLog,
  time: ReturnType<typeof virtualTime>,
  options: { batchSize?: number; readAhead?: number; readAheadSpan?: number } = {},
): PageSource {
  return new PageSource(log, {
    batchSize: options.batchSize ?? 50,
    fetch: (_action, fn) => fn(new AbortController().signal),
    clock: time.clock,
    sleep: time.sleep,
    backlogTimeoutMs: 60_000,
    readAhead: options.readAhead ?? 4,
    ...(options.readAheadSpan === undefined ? {} : { readAheadSpan: options.readAheadSpan }),
  });
}

// Reads pages after `cursor` as a lane does until a short one; returns the pages.
async function readToHead(pages: PageSource, cursor: number): Promise<Page[]> {
  const signal = new AbortController().signal;
  const read: Page[] = [];
  for (;;) {
    const page = await pages.next(cursor, 0, signal);
    read.push(page);
    cursor = page.lastId;
    if (!page.full) return read;
  }
}

Deno.test("PageSource reads ahead concurrently only while behind, one read per poll at the head", async () => {
  const time = virtualTime();
  const log = new SlowLog(time.clock);
  log.add(2000, { createdAt: time.clock() - hour });
  const pages = pageSource(log, time);
  const behind = await readToHead(pages, 0);
  assert.deepEqual(
    behind.flatMap((p) => p.events.map((e) => e.id)),
    Array.from({ length: 2000 }, (_, i) => i + 1),
  );
  assert.equal(log.maxInFlight, 4);
  assert.equal(pages.maxReadAheadInFlight, 4);
  assert.ok(log.rangeReads.length > 30, `${log.rangeReads.length} range reads`);

  // At the head: each poll is one ordinary read, never several at once.
  log.inFlight = 0;
  log.maxInFlight = 0;
  let cursor = behind.at(-1)!.lastId;
  const ranges = log.rangeReads.length;
  for (let poll = 0; poll < 5; poll++) {
    log.add(3);
    const before = log.requests;
    const page = await pages.next(cursor, time.clock() + 1, new AbortController().signal);
    assert.equal(page.events.length, 3);
    assert.equal(page.full, false);
    assert.equal(log.requests - before, 1);
    cursor = page.lastId;
  }
  assert.equal(log.maxInFlight, 1);
  assert.equal(log.rangeReads.length, ranges);
});

Deno.test("PageSource with read_ahead 1 reads one page after another", async () => {
  const time = virtualTime();
  const log = new SlowLog(time.clock);
  log.add(1000, { createdAt: time.clock() - hour });
  const pages = pageSource(log, time, { readAhead: 1 });
  const read = await readToHead(pages, 0);
  assert.equal(read.flatMap((p) => p.events).length, 1000);
  // The page being handed out, and the next one prefetched: never more.
  assert.ok(log.maxInFlight <= 2);
  assert.deepEqual(log.rangeReads, []);
});

Deno.test("PageSource reads the rest of a range that came back full before the next range", async () => {
  const time = virtualTime();
  const old = time.clock() - hour;
  const serialLog = new MemoryLog(time.clock);
  const aheadLog = new MemoryLog(time.clock);
  const random = seededRandom(7);
  for (let i = 0; i < 1500; i++) {
    // Runs of missing ids (rolled back), some wider than a range, all old.
    const hidden = random() < 0.1 || (i > 600 && i < 760);
    serialLog.add(1, { createdAt: old, hidden });
    aheadLog.add(1, { createdAt: old, hidden });
  }
  const serial = await readToHead(pageSource(serialLog, time, { readAhead: 1 }), 0);
  const ahead = await readToHead(
    pageSource(aheadLog, time, { batchSize: 20, readAheadSpan: 100 }),
    0,
  );
  const ids = (pages: Page[]) => pages.flatMap((p) => p.events.map((e) => e.id));
  assert.deepEqual(ids(ahead), ids(serial));
  // Ranges of 100 ids with 90 events each need two requests of 20... five: the second starts
  // where the first ended, inside the same range.
  const continued = aheadLog.rangeReads.filter(([after]) => after % 100 !== 0);
  assert.ok(continued.length > 20, `${continued.length} continued reads`);
  assert.ok(ahead.every((p) => p.events.length <= 20));
});

Deno.test("PageSource reads an ordinary page rather than pass over a young gap between ranges", async () => {
  const time = virtualTime();
  const log = new MemoryLog(time.clock);
  log.add(75, { createdAt: time.clock() - hour });
  // 76..100 end the second range of 50 ids and are young: 101.. must not be handed out over them.
  const young = log.add(25, { hidden: true });
  log.add(200);
  const pages = pageSource(log, time);
  const signal = new AbortController().signal;
  const first = await pages.next(0, 0, signal);
  assert.equal(first.lastId, 50);
  const second = await pages.next(50, 0, signal);
  assert.equal(second.lastId, 75);
  // The ranges ahead hold 101..; the lane still reads "after 75" itself, now.
  log.commit(young[0]!);
  const requests = log.requests - log.rangeReads.length;
  const third = await pages.next(75, 0, signal);
  assert.equal(third.events[0]!.id, young[0]);
  assert.equal(third.after, 75);
  // One ordinary read (besides the ranges it starts ahead of its end).
  assert.equal(log.requests - log.rangeReads.length - requests, 1);
});

Deno.test("Engine delivers the same events with read_ahead 1 and 4 (random logs)", async () => {
  for (let seed = 1; seed <= 10; seed++) {
    const seen: number[][][] = [];
    const ranges: number[] = [];
    for (const readAhead of [1, 4]) {
      await withDir(async (dir) => {
        const random = seededRandom(seed);
        const time = virtualTime();
        const log = new MemoryLog(time.clock);
        const hidden: number[] = [];
        const add = (createdAt?: number) => {
          const [id] = log.add(1, {
            hidden: random() < 0.05,
            ...(createdAt === undefined ? {} : { createdAt }),
          });
          if (log.hidden.has(id!)) hidden.push(id!);
        };
        // Old events (their gaps never happened), then young ones (their gaps wait), with
        // runs of missing ids here and there.
        const old = time.clock() - hour;
        for (let i = 0; i < 900; i++) {
          if (random() < 0.01) { for (let j = 0; j < 60; j++) log.add(1, { hidden: true }); }
          add(old + i);
        }
        for (let i = 0; i < 120; i++) add();
        const hosts = new Map([
          ["a", new RecordingHost("a", "/a.ts", "1")],
          ["b", new RecordingHost("b", "/b.ts", "1")],
        ]);
        const config = testConfig(`${dir}/state.json`, { narrowReads: false, readAhead });
        await runOnce(config, log, hosts, time);
        for (const id of hidden) if (random() < 0.5) log.commit(id);
        for (let i = 0; i < 120; i++) add();
        await runOnce(config, log, hosts, time);
        seen.push([...hosts.values()].map((h) => h.seen));
        ranges.push(log.rangeReads.length);
      });
    }
    assert.deepEqual(seen[1], seen[0], `seed ${seed}`);
    assert.equal(ranges[0], 0);
    assert.ok(ranges[1]! > 10, `seed ${seed}: ${ranges[1]} range reads`);
  }
});

Deno.test("Engine with read-ahead delivers ids that commit late during the run once, as serial reads do", async () => {
  for (let seed = 1; seed <= 10; seed++) {
    const seen: number[][] = [];
    for (const readAhead of [1, 4]) {
      await withDir(async (dir) => {
        const random = seededRandom(seed);
        const time = virtualTime();
        const log = new MemoryLog(time.clock);
        const old = time.clock() - hour;
        // Old ids that never commit, then young ones of which some commit while it reads.
        for (let i = 0; i < 600; i++) log.add(1, { createdAt: old + i, hidden: random() < 0.03 });
        const late: number[] = [];
        for (let i = 0; i < 400; i++) {
          const [id] = log.add(1, { hidden: random() < 0.05 });
          if (log.hidden.has(id!) && random() < 0.7) late.push(id!);
        }
        let reads = 0;
        log.beforeRead = () => {
          reads++;
          // A few ids commit at each of the first reads.
          for (const id of late.splice(0, 3)) log.commit(id);
        };
        const a = new RecordingHost("a", "/a.ts", "1");
        const config = testConfig(`${dir}/state.json`, { narrowReads: false, readAhead });
        await runOnce(config, log, new Map([["a", a]]), time);
        assert.equal(late.length, 0, `seed ${seed}: ${reads} reads`);
        assert.equal(new Set(a.seen).size, a.seen.length, `seed ${seed}: an id delivered twice`);
        seen.push([...a.seen].sort((x, y) => x - y));
      });
    }
    assert.deepEqual(seen[1], seen[0], `seed ${seed}`);
  }
});
