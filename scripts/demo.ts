/**
 * `deno task demo`: the simulator, the daemon and the example plugins together, with
 * events visibly flowing. The simulator makes a few changes per second (some of them in
 * transactions that commit late, as a busy site does); the daemon delivers them to the
 * plugins in ./plugins, which log what they see.
 *
 * Usage: deno task demo [--duration 60s] [--rate 3]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { parseDuration } from "../src/config/duration.ts";
import { loadConfig } from "../src/config/load.ts";
import { runDaemon } from "../src/cli/daemon.ts";
import { startSimulator } from "../src/sim/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { duration: { type: "string" }, rate: { type: "string", default: "3" } },
});
const duration = values.duration ? parseDuration(values.duration) : null;
const root = fileURLToPath(new URL("../", import.meta.url));
const dir = await Deno.makeTempDir({ prefix: "sgevents-demo-" });

await using sim = await startSimulator({
  port: 0,
  preload: 20,
  rate: Number(values.rate),
  lateFraction: 0.1,
  lateDelayMs: 3_000,
  quiet: true,
});
console.log(`Simulator at ${sim.url} (script "sgevents", key "sim-key")`);
console.log(`Demo state and logs in ${dir}; press Ctrl-C to stop.\n`);

// The repository's config.yaml, pointed at this simulator and a scratch folder.
const configFile = `${dir}/config.yaml`;
await Deno.writeTextFile(
  configFile,
  (await Deno.readTextFile(`${root}config.yaml`))
    .replace("http://127.0.0.1:8421", sim.url)
    .replace("./var/state.json", `${dir}/state.json`)
    .replace("./var/log", `${dir}/log`)
    .replace("[./plugins]", `[${JSON.stringify(`${root}plugins`)}]`)
    .replace("start_at: latest", "start_at: oldest")
    .replace("format: auto", "format: pretty"),
);
const config = await loadConfig(configFile, { env: { SG_SCRIPT_KEY: "sim-key" } });
const signal = duration === null ? undefined : AbortSignal.timeout(duration);
try {
  await runDaemon(config, { once: false, ...(signal ? { signal } : {}) });
} finally {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
