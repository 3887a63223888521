/**
 * What every bench scenario shares: a simulator in its own process, no-op plugins that
 * count in memory, the real daemon as a subprocess with its RSS sampled, and statistics.
 *
 * @module
 */
import { type DaemonProcess, root, spawnSgevents } from "../../tests/helpers.ts";

/** Where the simulator of a scenario ran. */
export type SimLayout = "sim-process" | "bench-process";

/** A simulator running as `main.ts sim` in its own process. */
export interface SimProcess extends AsyncDisposable {
  readonly url: string;
  readonly pid: number;
}

/**
 * Start `main.ts sim --preload <n>` and read its URL from the first line it prints.
 *
 * @param preload Events already on the site.
 * @param options `latency`: the simulator's `--latency` (a real site's response time).
 * @returns The running simulator; SIGTERM on dispose.
 */
export async function startSimProcess(
  preload: number,
  options: { latency?: string } = {},
): Promise<SimProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      `${root}main.ts`,
      "sim",
      "--port",
      "0",
      "--preload",
      String(preload),
      ...(options.latency ? ["--latency", options.latency] : []),
    ],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`Simulator exited before printing its URL: ${text}`);
    text += value;
  }
  const url = text.split("\n")[0]!.trim();
  // Keep draining stdout so the simulator never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  return {
    url,
    pid: child.pid,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

/** Options of {@link noopPlugin}. */
export interface NoopPluginOptions {
  /** The summary file this plugin writes. */
  readonly out: string;
  /** The summary is written when an event with this id (or a later one) arrives. */
  readonly lastId: number;
  /** Also write every `every` events (default 50 000). */
  readonly every?: number;
  /** Sleep this long in each callback (the slow plugin). */
  readonly delayMs?: number;
  /** Record `[id, Date.now()]` at each callback start (latency runs; no summary interval). */
  readonly timestamps?: boolean;
  /** The callback's `matchEvents` (default: every event). */
  readonly matchEvents?: Record<string, unknown> | null;
}

/** What a no-op plugin wrote. */
export interface NoopSummary {
  readonly count: number;
  /** Sum of the ids seen (a cheap checksum). */
  readonly sum: number;
  readonly lastId: number;
  /** Epoch ms of the first and latest callback start. */
  readonly firstAt: number;
  readonly lastAt: number;
  /** `[id, callback start epoch ms]` pairs, with `timestamps`. */
  readonly times?: readonly (readonly [number, number])[];
}

/**
 * A plugin that counts what it sees in memory and writes a small JSON summary now and then,
 * so recording costs nothing next to delivery.
 *
 * @param options Summary file, final id, delay, timestamps.
 * @returns The plugin's source.
 */
export function noopPlugin(options: NoopPluginOptions): string {
  const every = options.every ?? 50_000;
  return `
const out = ${JSON.stringify(options.out)};
const lastWanted = ${options.lastId};
const every = ${every};
const delayMs = ${options.delayMs ?? 0};
const keepTimes = ${options.timestamps ?? false};
let count = 0, sum = 0, lastId = 0, firstAt = 0, lastAt = 0;
const times = [];
let timesWritten = 0;
function flush() {
  const summary = { count, sum, lastId, firstAt, lastAt };
  if (keepTimes) summary.times = times;
  Deno.writeTextFileSync(out + ".tmp", JSON.stringify(summary));
  Deno.renameSync(out + ".tmp", out);
}
export function registerCallbacks(reg) {
  reg.registerCallback("sgevents", "sim-key", delayMs > 0 ? slow : fast, ${
    JSON.stringify(options.matchEvents ?? null)
  }, null, true);
}
function fast(sg, logger, event) {
  const now = Date.now();
  if (count === 0) firstAt = now;
  lastAt = now;
  count++;
  sum += event.id;
  lastId = event.id;
  if (keepTimes) times.push([event.id, now]);
  if (event.id >= lastWanted || (!keepTimes && count % every === 0)) flush();
  else if (keepTimes && times.length - timesWritten >= 200) { timesWritten = times.length; flush(); }
}
async function slow(sg, logger, event, args, ctx) {
  fast(sg, logger, event);
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, delayMs);
    ctx.signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
`;
}

/**
 * Read a no-op plugin's summary.
 *
 * @param file The summary file.
 * @returns The summary, or null before the first write.
 */
export async function readSummary(file: string): Promise<NoopSummary | null> {
  try {
    return JSON.parse(await Deno.readTextFile(file)) as NoopSummary;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** A bench workspace: config, plugins folder, state file, logs. */
export interface BenchDir extends AsyncDisposable {
  readonly path: string;
  readonly plugins: string;
  readonly configFile: string;
  /** The summary file of plugin `name`. */
  summary(name: string): string;
}

/** Options of {@link benchDir}. */
export interface BenchDirOptions {
  readonly url: string;
  /** Extra `daemon:` keys (fetch_interval, backlog_timeout, ...). */
  readonly daemon?: Record<string, unknown>;
  readonly plugins?: Record<string, unknown>;
  /** An `http:` section (the operator's HTTP server), if any. */
  readonly http?: Record<string, unknown>;
}

/**
 * Create a workspace on the real disk (state written crash-safely, as in production) and
 * a config for it: default batch size, state file and logs in the workspace.
 *
 * @param options Site and settings.
 * @returns The workspace, removed on dispose.
 */
export async function benchDir(options: BenchDirOptions): Promise<BenchDir> {
  await Deno.mkdir(`${root}var`, { recursive: true });
  const path = await Deno.makeTempDir({ dir: `${root}var`, prefix: "bench-" });
  const plugins = `${path}/plugins`;
  await Deno.mkdir(plugins);
  const config = {
    shotgrid: { url: options.url, script_name: "sgevents", script_key: "sim-key" },
    daemon: {
      state_file: "./state.json",
      start_at: "oldest",
      progress_interval: "10s",
      shutdown_timeout: "5s",
      ...options.daemon,
    },
    plugins: { paths: ["./plugins"], retries: 0, ...options.plugins },
    logging: { level: "info", dir: "./log", per_plugin: true, format: "plain" },
    ...(options.http ? { http: options.http } : {}),
  };
  const configFile = `${path}/config.yaml`;
  await Deno.writeTextFile(configFile, JSON.stringify(config, null, 2));
  return {
    path,
    plugins,
    configFile,
    summary: (name) => `${path}/${name}.summary.json`,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** Plugin names `noop_00`, `noop_01`, ... */
export function pluginNames(n: number, prefix = "noop"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}_${String(i).padStart(2, "0")}`);
}

/**
 * Write no-op plugins into a workspace.
 *
 * @param dir The workspace.
 * @param names Plugin names.
 * @param options Everything but `out`.
 */
export async function writeNoopPlugins(
  dir: BenchDir,
  names: readonly string[],
  options: Omit<NoopPluginOptions, "out">,
): Promise<void> {
  for (const name of names) {
    await Deno.writeTextFile(
      `${dir.plugins}/${name}.ts`,
      noopPlugin({ ...options, out: dir.summary(name) }),
    );
  }
}

/** A daemon subprocess with its memory sampled. */
export interface BenchDaemon extends AsyncDisposable {
  readonly process: DaemonProcess;
  /** When it was spawned (epoch ms). */
  readonly startedAt: number;
  /** Highest VmHWM seen, bytes (the kernel's peak RSS of the process). */
  peakRss(): number;
  /** Stop sampling; returns the peak RSS. */
  stopSampling(): Promise<number>;
}

/**
 * Run `main.ts daemon -c <config>` and sample `/proc/<pid>/status` every 100 ms.
 *
 * @param configFile The config.
 * @param options `--once`, extra deno flags (profiling).
 * @returns The running daemon.
 */
export function startDaemon(
  configFile: string,
  options: { once?: boolean; denoArgs?: readonly string[] } = {},
): BenchDaemon {
  const startedAt = Date.now();
  const process = spawnSgevents(
    ["daemon", "-c", configFile, ...(options.once ? ["--once"] : [])],
    { denoArgs: options.denoArgs ?? [] },
  );
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await readPeakRss(process.child.pid));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  process.exited.then(() => sampling = false);
  return {
    process,
    startedAt,
    peakRss: () => peak,
    async stopSampling() {
      sampling = false;
      await sampler;
      return peak;
    },
    async [Symbol.asyncDispose]() {
      sampling = false;
      await sampler;
      await process[Symbol.asyncDispose]();
    },
  };
}

/**
 * The peak RSS of a process so far (VmHWM), in bytes; 0 when it is gone.
 *
 * @param pid The process.
 * @returns Bytes.
 */
export async function readPeakRss(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Poll until every plugin's summary reports `lastId` (rejects after `timeoutMs`, or when
 * the daemon exits first).
 *
 * @param dir The workspace.
 * @param names The plugins to wait for.
 * @param options The final id, limit, the daemon.
 * @returns The summaries, by plugin.
 */
export async function waitForSummaries(
  dir: BenchDir,
  names: readonly string[],
  options: { lastId: number; timeoutMs: number; daemon?: BenchDaemon },
): Promise<Map<string, NoopSummary>> {
  const deadline = Date.now() + options.timeoutMs;
  const done = new Map<string, NoopSummary>();
  let exited = false;
  options.daemon?.process.exited.then(() => exited = true);
  while (true) {
    for (const name of names) {
      if (done.has(name)) continue;
      const summary = await readSummary(dir.summary(name));
      if (summary && summary.lastId >= options.lastId) done.set(name, summary);
    }
    if (done.size === names.length) return done;
    if (exited || Date.now() > deadline) {
      const missing = names.filter((n) => !done.has(n));
      const why = exited ? "the daemon exited" : `${options.timeoutMs} ms passed`;
      const tail = options.daemon?.process.output().slice(-2000) ?? "";
      throw new Error(
        `Plugins ${missing.join(", ")} did not reach event ${options.lastId} (${why}):\n${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The median of some numbers.
 *
 * @param values At least one value.
 * @returns The median.
 */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * A percentile (nearest rank) of some numbers.
 *
 * @param values The sample.
 * @param p 0..100.
 * @returns The value, or NaN for an empty sample.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024 * 10) / 10;
}

/** The machine a run happened on. */
export interface MachineInfo {
  readonly deno: string;
  readonly v8: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly os: string;
  readonly date: string;
}

/**
 * Deno version, CPU model, core count, OS and date.
 *
 * @returns The description.
 */
export async function machineInfo(): Promise<MachineInfo> {
  let cpuModel = "unknown";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpuModel;
  } catch { /* not Linux */ }
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    cpuModel,
    cores: navigator.hardwareConcurrency,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    date: new Date().toISOString(),
  };
}
