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
 * Self time by function over every profile in `dir`.
 *
 * @param dir A `--cpu-prof-dir`.
 * @param top How many entries to return.
 * @returns The heaviest functions first.
 */
export async function summarizeProfiles(dir: string, top: number): Promise<ProfileEntry[]> {
  const totals = new Map<string, number>();
  let all = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".cpuprofile")) continue;
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
