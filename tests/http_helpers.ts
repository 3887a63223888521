/**
 * Helpers of the HTTP end-to-end tests: a config with an `http` section, the daemon's
 * listening URL, Prometheus samples, and a plugin that pauses itself on demand.
 *
 * @module
 */
import { writeConfig } from "./helpers.ts";

/** A recorder that throws (pausing itself) while `flag` exists. */
export function flaggedPlugin(out: string, flag: string): string {
  return `
export function registerCallbacks(reg) {
  reg.registerCallback("sgevents", "sim-key", record, null, null, true);
}
function record(sg, logger, event) {
  try { Deno.statSync(${JSON.stringify(flag)}); } catch { 
    Deno.writeTextFileSync(${JSON.stringify(out)}, event.id + "\\n", { append: true });
    return;
  }
  throw new Error("flagged plugin refuses event " + event.id);
}
`;
}

/** Write the test config with an `http` section (writeConfig knows none). */
export async function writeHttpConfig(
  options: Parameters<typeof writeConfig>[0],
  http: Record<string, unknown>,
): Promise<string> {
  const file = await writeConfig(options);
  const config = JSON.parse(await Deno.readTextFile(file));
  await Deno.writeTextFile(file, JSON.stringify({ ...config, http }, null, 2));
  return file;
}

/** The URL from the daemon's `HTTP listening on` line. */
export function listeningUrl(output: string): string {
  const match = /HTTP listening on "?(http:\/\/127\.0\.0\.1:\d+)/.exec(output);
  if (!match) throw new Error(`no listening line in:\n${output}`);
  return match[1]!;
}

/** One sample's value from Prometheus text, e.g. `metric(text, 'x{plugin="a"}')`. */
export function metric(text: string, series: string): number | null {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return null;
}
