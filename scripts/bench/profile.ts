/**
 * Reading V8 `.cpuprofile` files written by `deno run --cpu-prof`: self time per function,
 * to show what bounds the daemon's hot path.
 *
 * @module
 */

/** Self time of one function (name, file and line). */
export interface ProfileEntry {
  readonly name: string;
  readonly selfMs: number;
  readonly percent: number;
}

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time by function (idle excluded) over the main thread's profile in `dir`, or over
 * all the plugin workers' profiles.
 *
 * @param dir A `--cpu-prof-dir`.
 * @param top How many entries to return.
 * @param options `workers`: the workers' profiles instead of the main thread's.
 * @returns The heaviest functions first.
 */
export async function summarizeProfiles(
  dir: string,
  top: number,
  options: { workers?: boolean } = {},
): Promise<ProfileEntry[]> {
  const totals = new Map<string, number>();
  let all = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".cpuprofile")) continue;
    // Worker threads write `...worker-N.cpuprofile`; the main thread's has no such suffix.
    if (/worker-\d+\.cpuprofile$/.test(entry.name) !== (options.workers ?? false)) continue;
    const profile = JSON.parse(await Deno.readTextFile(`${dir}/${entry.name}`)) as CpuProfile;
    const names = new Map<number, string>();
    for (const node of profile.nodes) {
      const { functionName, url, lineNumber } = node.callFrame;
      const file = url.replace(/^.*\/(src|node_modules|npm)\//, "$1/").replace(/^file:\/\//, "");
      names.set(
        node.id,
        url === ""
          ? `(${functionName || "anonymous"})`
          : `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`,
      );
    }
    profile.samples.forEach((id, i) => {
      const us = profile.timeDeltas[i] ?? 0;
      const name = names.get(id) ?? "?";
      if (name === "((idle))") return;
      totals.set(name, (totals.get(name) ?? 0) + us);
      all += us;
    });
  }
  return [...totals].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({
    name,
    selfMs: us / 1000,
    percent: all > 0 ? us / all * 100 : 0,
  }));
}
