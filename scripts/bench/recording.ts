/**
 * The recording-plugin scenario: N plugins that each append `<id> <time>` to their own
 * file per event, one write per event (the side-by-side anchor's plugins, so the work is
 * the Python daemon's), delivered by the real daemon with `--once`. Reports events/s
 * (first to last callback), peak RSS and RSS per plugin, the daemon's CPU seconds, and
 * checks every plugin wrote each id exactly once.
 *
 * @module
 */
import { benchDir, mib, startDaemon, startSimProcess } from "./harness.ts";

/** Figures of one recording run. */
export interface RecordingRun {
  readonly plugins: number;
  readonly workers: number | null;
  readonly eventsPerSec: number;
  readonly peakRssMiB: number;
  /** Peak RSS / plugins. */
  readonly rssPerPluginMiB: number;
  /** utime + stime of the daemon, sampled every 100 ms (up to 0.1 s short). */
  readonly cpuSeconds: number;
  /** Every plugin recorded each id exactly once. */
  readonly complete: boolean;
}

/** The plugin source, as `../shared/anchors/side_by_side.py` writes it. */
export function recordingPlugin(out: string): string {
  return `
const out = Deno.openSync(${JSON.stringify(out)}, { write: true, create: true, append: true });
const enc = new TextEncoder();
function record(_sg, _logger, event) {
  out.writeSync(enc.encode(\`\${event.id} \${Date.now() / 1000}\\n\`));
}
export function registerCallbacks(reg) {
  reg.registerCallback("sgevents", "sim-key", record, { "*": ["*"] }, null, true);
}
`;
}

/**
 * One run: `events` on a simulator of its own process, `plugins` recording plugins.
 *
 * @param options Sizes; `workers`: `plugins.workers` (null: the default).
 * @returns The figures.
 */
export async function recordingRun(
  options: {
    events: number;
    plugins: number;
    workers?: number | null;
    denoArgs?: readonly string[];
  },
): Promise<RecordingRun> {
  await using sim = await startSimProcess(options.events);
  const workers = options.workers ?? null;
  await using dir = await benchDir({
    url: sim.url,
    plugins: workers === null ? {} : { workers },
  });
  const files: string[] = [];
  for (let i = 0; i < options.plugins; i++) {
    const name = `rec_${String(i).padStart(3, "0")}`;
    const file = `${dir.path}/${name}.txt`;
    files.push(file);
    await Deno.writeTextFile(`${dir.plugins}/${name}.ts`, recordingPlugin(file));
  }
  await using daemon = startDaemon(dir.configFile, {
    once: true,
    ...(options.denoArgs ? { denoArgs: options.denoArgs } : {}),
  });
  let cpuTicks = 0;
  const pid = daemon.process.child.pid;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      cpuTicks = Math.max(cpuTicks, await readCpuTicks(pid));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const code = await daemon.process.exited;
  sampling = false;
  await sampler;
  const peak = await daemon.stopSampling();
  if (code !== 0) {
    throw new Error(`The daemon exited with ${code}:\n${daemon.process.output().slice(-2000)}`);
  }
  let first = Infinity;
  let last = -Infinity;
  let complete = true;
  for (const file of files) {
    const lines = (await Deno.readTextFile(file).catch(() => "")).split("\n").filter(Boolean);
    const ids = new Set<number>();
    for (const line of lines) {
      const [id, time] = line.split(" ");
      ids.add(Number(id));
      const at = Number(time) * 1000;
      if (at < first) first = at;
      if (at > last) last = at;
    }
    if (lines.length !== options.events || ids.size !== options.events) complete = false;
  }
  const span = Math.max(1, last - first) / 1000;
  return {
    plugins: options.plugins,
    workers,
    eventsPerSec: Math.round(options.events / span),
    peakRssMiB: mib(peak),
    rssPerPluginMiB: Math.round(mib(peak) / options.plugins * 10) / 10,
    cpuSeconds: Math.round(cpuTicks / 100 * 10) / 10,
    complete,
  };
}

/** utime + stime of a process in clock ticks (1/100 s on Linux); 0 when it is gone. */
async function readCpuTicks(pid: number): Promise<number> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}
