/**
 * `sgevents sim`: run a local ShotGrid-compatible site to try the daemon on, for demos and
 * for out-of-process benchmarks. Prints the base URL as the first line of standard output.
 *
 * @module
 */
import { Command, InvalidArgumentError } from "commander";
import { parseDuration } from "../config/duration.ts";

/** The parsed options of `sgevents sim`. */
interface SimCommandOptions {
  port: number;
  preload: number;
  rate: number;
  lateFraction: number;
  lateDelay: number;
  neverCommit: number;
  latency: number;
  tokenTtl: number;
  seed: number;
  logScriptWrites?: boolean;
  schema?: string;
}

function integer(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    }
    return n;
  };
}

function fraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError("must be a fraction between 0 and 1");
  return n;
}

function rate(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && Number.isFinite(n))) {
    throw new InvalidArgumentError("must be a number of changes per second >= 0");
  }
  return n;
}

function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === null) {
    throw new InvalidArgumentError('must be a duration such as "10s", "500ms", "2m" or seconds');
  }
  return ms;
}

/**
 * The `sim` command.
 *
 * @returns The commander command; its action runs until SIGINT or SIGTERM, then resolves.
 */
export function simCommand(): Command {
  return new Command("sim")
    .description("Run a local ShotGrid-compatible site (REST API, event log, faults) on 127.0.0.1")
    .option("--port <n>", "TCP port (0 = any free port)", integer("port", 0), 8421)
    .option("--preload <n>", "EventLogEntry rows already on the site", integer("preload", 0), 0)
    .option("--rate <r>", "random entity changes per second", rate, 0)
    .option("--late-fraction <f>", "fraction of changes whose events commit late", fraction, 0)
    .option("--late-delay <duration>", "how late late events commit", duration, 10_000)
    .option("--never-commit <f>", "fraction of event ids that never commit", fraction, 0)
    .option(
      "--latency <duration>",
      "added to every request, as a real site's response time (e.g. 330ms)",
      duration,
      0,
    )
    .option("--token-ttl <seconds>", "access token lifetime", integer("token-ttl", 1), 600)
    .option("--seed <n>", "seed of all randomness", integer("seed", 0), 1)
    .option(
      "--log-script-writes",
      "log events for the scripts' own writes, so a plugin's writes reach other plugins (off by " +
        "default, as a real site's ApiUser)",
    )
    .option(
      "--schema <file>",
      "YAML or JSON file of custom fields (sg_* on built-in entities) and custom entities",
    )
    .addHelpText(
      "after",
      `
The first line printed is the base URL; the second names the script and key to use.
Human login (password grant, its writes always log events): jo / jo-pass.
Control API (JSON): GET /_sim/health, GET /_sim/stats, POST /_sim/faults,
POST /_sim/clear, POST /_sim/events {"count": n}.

Schema file (--schema):
  entities:
    Shot: { fields: { sg_vendor: text } }
    CustomEntity01: { display_name: Episode, fields: { sg_air_date: date_time } }

Examples:
  sgevents sim --preload 1000 --rate 5
  sgevents sim --log-script-writes --schema studio_schema.yaml
  sgevents sim --port 8090 --rate 50 --late-fraction 0.1 --late-delay 10s --never-commit 0.01
  sgevents sim --preload 1000000 --latency 330ms`,
    )
    .action(async (options: SimCommandOptions) => {
      // Loaded when run, not when the program is built: other commands (the daemon) skip it.
      const { loadSchemaFile, startSimulator } = await import("../sim/mod.ts");
      const schema = options.schema === undefined
        ? undefined
        : await loadSchemaFile(options.schema);
      const sim = await startSimulator({
        ...(schema ? { schema } : {}),
        port: options.port,
        preload: options.preload,
        rate: options.rate,
        lateFraction: options.lateFraction,
        lateDelayMs: options.lateDelay,
        neverCommitFraction: options.neverCommit,
        latencyMs: options.latency,
        tokenTtlSeconds: options.tokenTtl,
        seed: options.seed,
        logScriptWrites: options.logScriptWrites ?? false,
      });
      console.log(sim.url);
      console.log("script: sgevents  key: sim-key  (password login: jo / jo-pass)");
      console.log(
        `events: ${sim.store.eventCount}, last id ${sim.store.lastEventId}; Ctrl-C to stop`,
      );
      const stopped = Promise.withResolvers<void>();
      const stop = () => stopped.resolve();
      Deno.addSignalListener("SIGINT", stop);
      Deno.addSignalListener("SIGTERM", stop);
      try {
        await stopped.promise;
      } finally {
        Deno.removeSignalListener("SIGINT", stop);
        Deno.removeSignalListener("SIGTERM", stop);
        await sim.close();
      }
    });
}
