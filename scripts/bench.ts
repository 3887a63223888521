/**
 * `deno task bench`: how fast the real daemon delivers, against the simulator, with
 * no-op plugins that count what they see. Prints a table and writes `bench/results.json`.
 *
 * Usage: deno task bench [--quick] [--scale 0.1]
 *                        [--only throughput,recording,catchup,narrowing,readahead,slow,latency,gaps,callback]
 *                        [--read-ahead 1,4,8] [--runs 3] [--profile <dir>] [--out bench/results.json]
 *
 * `--quick` scales every size down by 10 (about a minute); the full run takes 5-10 minutes.
 * `--read-ahead` lists the `daemon.read_ahead` values of the `readahead` scenario (a 1M-event
 * catch-up from a site answering in 330 ms; read_ahead 1 alone takes 11+ minutes).
 * `--profile <dir>` adds one 10-plugin throughput run under `--cpu-prof` and prints where
 * the daemon's main thread spends its time.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { machineInfo } from "./bench/harness.ts";
import { gapRequests, latency } from "./bench/live.ts";
import { narrowedCatchUp } from "./bench/narrowing.ts";
import { readAheadCatchUp } from "./bench/read_ahead.ts";
import { summarizeProfiles } from "./bench/profile.ts";
import { slowPlugin, throughput, type ThroughputResult } from "./bench/throughput.ts";
import { recordingRun } from "./bench/recording.ts";
import { callbackCost } from "./bench/callback.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    scale: { type: "string" },
    only: { type: "string" },
    runs: { type: "string" },
    profile: { type: "string" },
    out: { type: "string" },
    "read-ahead": { type: "string" },
  },
});
const scale = values.scale !== undefined ? Number(values.scale) : values.quick ? 0.1 : 1;
if (!(scale > 0 && scale <= 10)) {
  console.error(`Invalid --scale ${values.scale}: expected a number in (0, 10]`);
  Deno.exit(2);
}
const readAheads = (values["read-ahead"] ?? "1,4,8").split(",").map(Number);
if (!readAheads.every((r) => Number.isInteger(r) && r >= 1 && r <= 64)) {
  console.error(`Invalid --read-ahead ${values["read-ahead"]}: expected integers from 1 to 64`);
  Deno.exit(2);
}
const runs = values.runs !== undefined ? Number(values.runs) : 3;
const only = new Set(values.only?.split(",").map((s) => s.trim()) ?? []);
const wanted = (name: string) => only.size === 0 || only.has(name);
const n = (full: number) => Math.max(100, Math.round(full * scale));
const out = values.out ?? fileURLToPath(new URL("../bench/results.json", import.meta.url));

const machine = await machineInfo();
console.log(
  `sgevents bench: Deno ${machine.deno}, ${machine.cpuModel}, ${machine.cores} cores, scale ${scale}`,
);
const results: Record<string, unknown> = {};
const rows: string[][] = [];
const started = Date.now();
const log = (text: string) =>
  console.log(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${text}`);

const throughputRow = (r: ThroughputResult) => {
  rows.push([
    r.scenario,
    `${r.median.eventsPerSec} ev/s`,
    `${r.median.callbacksPerSec} cb/s`,
    `wall ${r.median.wallSeconds} s (${r.median.wallEventsPerSec} ev/s)`,
    `RSS ${r.median.peakRssMiB} MiB`,
    r.median.complete ? "all delivered once" : "INCOMPLETE",
  ]);
};

if (wanted("throughput")) {
  const list: ThroughputResult[] = [];
  for (const plugins of [1, 10, 50]) {
    log(`throughput: ${n(100_000)} events x ${plugins} plugins, ${runs} runs`);
    const r = await throughput({ events: n(100_000), plugins, runs });
    list.push(r);
    throughputRow(r);
  }
  results.throughput = list;
}

if (wanted("recording")) {
  const list = [];
  for (const plugins of [10, 50]) {
    log(`recording: ${n(100_000)} events x ${plugins} plugins appending "<id> <time>" per event`);
    const r = await recordingRun({ events: n(100_000), plugins });
    list.push(r);
    rows.push([
      `recording ${n(100_000)} x ${plugins}`,
      `${r.eventsPerSec} ev/s`,
      `cpu ${r.cpuSeconds} s`,
      `RSS ${r.peakRssMiB} MiB`,
      `${r.rssPerPluginMiB} MiB/plugin`,
      r.complete ? "all recorded once" : "INCOMPLETE",
    ]);
  }
  results.recording = list;
}

if (wanted("catchup")) {
  log(`catch-up: ${n(1_000_000)} events x 10 plugins`);
  const r = await throughput({ events: n(1_000_000), plugins: 10, runs: 1 });
  results.catchup = r;
  throughputRow(r);
}

if (wanted("narrowing")) {
  log(`narrowed catch-up: ${n(1_000_000)} events x 10 plugins wanting rare types, off and on`);
  const r = await narrowedCatchUp({ events: n(1_000_000), plugins: 10 });
  results.narrowedCatchUp = r;
  rows.push([
    r.scenario,
    `off ${r.whole.wallSeconds} s, ${r.whole.searches} searches`,
    `on ${r.narrowed.wallSeconds} s, ${r.narrowed.searches} searches`,
    `${r.speedup}x faster`,
    `RSS ${r.whole.peakRssMiB}/${r.narrowed.peakRssMiB} MiB`,
    r.whole.complete && r.narrowed.complete ? "all delivered once" : "INCOMPLETE",
  ]);
}

if (wanted("readahead")) {
  const latencyMs = 330;
  log(
    `catch-up at a site's speed: ${n(1_000_000)} events x 10 plugins, latency ${latencyMs} ms, ` +
      `read_ahead ${readAheads.join(", ")}`,
  );
  const r = await readAheadCatchUp({ events: n(1_000_000), plugins: 10, latencyMs, readAheads });
  results.readAheadCatchUp = r;
  for (const run of r.runs) {
    rows.push([
      `${r.scenario}, read_ahead ${run.readAhead}`,
      `wall ${run.wallSeconds} s`,
      `${run.wallEventsPerSec} ev/s`,
      `${run.searches} searches`,
      `RSS ${run.peakRssMiB} MiB`,
      run.complete ? "all delivered once" : "INCOMPLETE",
    ]);
  }
}

if (wanted("slow")) {
  log(`slow plugin: 1 x 1 s/event beside 9 fast, ${n(100_000)} events`);
  const r = await slowPlugin({
    events: n(100_000),
    fast: 9,
    slowDelayMs: 1000,
    runs: Math.max(1, Math.min(runs, 2)),
  });
  results.slowPlugin = r;
  rows.push([
    r.scenario,
    `${r.loaded.eventsPerSec} ev/s`,
    `unloaded ${r.unloaded.eventsPerSec} ev/s`,
    `ratio ${r.ratio}`,
    `RSS ${r.loaded.peakRssMiB} MiB`,
    r.loaded.complete ? "fast ones complete" : "INCOMPLETE",
  ]);
}

if (wanted("latency")) {
  const list = [];
  for (const fetchInterval of ["5s", "200ms"]) {
    const seconds = Math.max(8, Math.round(30 * scale));
    log(`latency: 100 events/s for ${seconds} s, 10 plugins, fetch_interval ${fetchInterval}`);
    const r = await latency({ rate: 100, seconds, plugins: 10, fetchInterval });
    list.push(r);
    rows.push([
      r.scenario,
      `p50 ${r.p50Ms} ms`,
      `p99 ${r.p99Ms} ms`,
      `max ${r.maxMs} ms`,
      `RSS ${r.peakRssMiB} MiB`,
      `${r.samples} samples`,
    ]);
  }
  {
    // The webhook trigger: fetch_interval 5 s, but each change's webhook wakes the poller.
    const seconds = Math.max(8, Math.round(30 * scale));
    log(`latency: 20 events/s for ${seconds} s, 10 plugins, fetch_interval 5s, a webhook each`);
    const r = await latency({ rate: 20, seconds, plugins: 10, fetchInterval: "5s", webhook: true });
    list.push(r);
    rows.push([
      r.scenario,
      `p50 ${r.p50Ms} ms`,
      `p99 ${r.p99Ms} ms`,
      `max ${r.maxMs} ms`,
      `RSS ${r.peakRssMiB} MiB`,
      `${r.samples} samples`,
    ]);
  }
  results.latency = list;
}

if (wanted("callback")) {
  const batches = Math.max(20, Math.round(2000 * scale));
  log(`callback cost: ${batches} batches of 500 events x 5 rounds, one tenant in this thread`);
  const r = await callbackCost({ rounds: 5, batches });
  results.callbackCost = r;
  rows.push([
    r.scenario,
    `${r.median} ns/callback`,
    `rounds ${r.nsPerCallback.join(", ")} ns`,
    `${r.callbacks} callbacks`,
    "",
    "",
  ]);
}

if (wanted("gaps")) {
  const windowSeconds = scale >= 1 ? 5 : 2;
  log(`requests while gaps wait: 3 phases of ${windowSeconds * 3} s`);
  const r = await gapRequests({
    windowSeconds,
    windows: 3,
    plugins: 10,
    fetchInterval: "1s",
    manyGaps: 50,
  });
  results.gapRequests = r;
  rows.push([
    r.scenario,
    `no gap ${r.baselinePerSec}/s`,
    `1 gap ${r.oneGapWindows.join(", ")}/s`,
    `51 gaps ${r.manyGapsWindows.join(", ")}/s`,
    `max/baseline ${r.ratio}`,
    "",
  ]);
}

if (values.profile !== undefined) {
  const dir = values.profile;
  await Deno.mkdir(dir, { recursive: true });
  log(`profile: ${n(100_000)} events x 10 plugins under --cpu-prof (${dir})`);
  const r = await throughput({
    events: n(100_000),
    plugins: 10,
    runs: 1,
    denoArgs: ["--cpu-prof", `--cpu-prof-dir=${dir}`],
  });
  const main = await summarizeProfiles(dir, 20);
  const workers = await summarizeProfiles(dir, 12, { workers: true });
  results.profile = { run: r, mainThread: main, workers };
  for (
    const [title, list] of [["main thread", main], ["plugin workers, summed", workers]] as const
  ) {
    console.log(`\nDaemon ${title}: self time by function, % of busy time`);
    for (const t of list) {
      console.log(
        `  ${t.percent.toFixed(1).padStart(5)} %  ${t.selfMs.toFixed(0).padStart(6)} ms  ${t.name}`,
      );
    }
  }
}

console.log("");
printTable(rows);
// With --only, the other scenarios' last figures are kept from the existing file.
const previous = only.size > 0
  ? await Deno.readTextFile(out).then((text) => JSON.parse(text).results ?? {}, () => ({}))
  : {};
const document = {
  machine,
  scale,
  runs,
  reference:
    "Python shotgunEvents: 1,200-1,900 events/s with 1-10 no-op plugins (performance-notes.md)",
  durationSeconds: Math.round((Date.now() - started) / 1000),
  results: { ...previous, ...results },
};
await Deno.mkdir(fileURLToPath(new URL("../bench/", import.meta.url)), { recursive: true })
  .catch(() => {});
await Deno.writeTextFile(out, JSON.stringify(document, null, 2) + "\n");
console.log(`\nWrote ${out} (${document.durationSeconds} s)`);

function printTable(table: string[][]): void {
  const widths: number[] = [];
  for (const row of table) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  for (const row of table) {
    console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
  }
}
