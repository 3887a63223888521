/**
 * What the fault scenarios share: checks and their report, workspaces with recording
 * plugins, the ids a simulator holds, and per-plugin delivery audits.
 *
 * @module
 */
import type { Simulator } from "../../src/sim/mod.ts";
import {
  audit,
  type DaemonProcess,
  readIds,
  type RecorderOptions,
  recorderPlugin,
  writeConfig,
} from "../../tests/helpers.ts";

/** One verified property of a scenario. */
export interface Check {
  readonly name: string;
  readonly passed: boolean;
  /** Figures or what went wrong. */
  readonly detail: string;
}

/**
 * A check.
 *
 * @param name What is verified.
 * @param passed Whether it holds.
 * @param detail Figures or the failure.
 * @returns The check.
 */
export function check(name: string, passed: boolean, detail = ""): Check {
  return { name, passed, detail };
}

/** A scenario workspace: config, plugin folder, recorder files. */
export interface Workspace extends AsyncDisposable {
  readonly path: string;
  readonly plugins: string;
  configFile: string;
  /** The record file of plugin `name`. */
  record(name: string): string;
  /** Write a recording plugin `<name>.ts`. */
  addRecorder(name: string, options?: RecorderOptions): Promise<void>;
  /** Write plugin `<name>.ts` with this source. */
  addPlugin(name: string, source: string): Promise<void>;
  /** (Re)write the config; `daemon`/`plugins`/`shotgrid`/`logging` keys are merged in. */
  configure(options: {
    daemon?: Record<string, unknown>;
    plugins?: Record<string, unknown>;
    shotgrid?: Record<string, unknown>;
    logging?: Record<string, unknown>;
  }): Promise<string>;
}

/**
 * Create a workspace for a site.
 *
 * @param url The site.
 * @returns The workspace, removed on dispose.
 */
export async function workspace(url: string): Promise<Workspace> {
  const path = await Deno.makeTempDir({ prefix: "sgevents-faults-" });
  const plugins = `${path}/plugins`;
  await Deno.mkdir(plugins);
  const ws: Workspace = {
    path,
    plugins,
    configFile: "",
    record: (name) => `${path}/${name}.ids`,
    addRecorder: (name, options) =>
      Deno.writeTextFile(`${plugins}/${name}.ts`, recorderPlugin(ws.record(name), options)),
    addPlugin: (name, source) => Deno.writeTextFile(`${plugins}/${name}.ts`, source),
    async configure(options) {
      ws.configFile = await writeConfig({ url, dir: path, ...options });
      return ws.configFile;
    },
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
  await ws.configure({});
  return ws;
}

/**
 * Every committed event id of a simulated site, ascending.
 *
 * @param sim The simulator.
 * @returns The ids.
 */
export function committedIds(sim: Simulator): number[] {
  return [...sim.store.events.ascending(1, sim.store.lastEventId)];
}

/** Delivery audit of one plugin. */
export interface PluginAudit {
  readonly plugin: string;
  readonly delivered: number;
  readonly missing: number[];
  /** Ids delivered more than once. */
  readonly duplicates: number[];
  /** Deliveries beyond the first, summed over ids. */
  readonly extra: number;
  /** Ids delivered that are not expected (never committed, or expired gaps). */
  readonly unexpected: number[];
}

/**
 * Audit one recorder against the expected ids.
 *
 * @param ws The workspace.
 * @param plugin The recorder.
 * @param expected The ids it must have seen once.
 * @returns Missing, duplicated and unexpected ids.
 */
export async function auditPlugin(
  ws: Workspace,
  plugin: string,
  expected: readonly number[],
): Promise<PluginAudit> {
  const delivered = await readIds(ws.record(plugin));
  const { missing, duplicates } = audit(expected, delivered);
  const wanted = new Set(expected);
  return {
    plugin,
    delivered: delivered.length,
    missing,
    duplicates,
    extra: delivered.length - new Set(delivered).size,
    unexpected: [...new Set(delivered)].filter((id) => !wanted.has(id)),
  };
}

/**
 * Whether every recorder has seen every expected id at least once.
 *
 * @param ws The workspace.
 * @param plugins The recorders.
 * @param expected The ids.
 * @returns True when complete.
 */
export async function complete(
  ws: Workspace,
  plugins: readonly string[],
  expected: readonly number[],
): Promise<boolean> {
  for (const plugin of plugins) {
    const seen = new Set(await readIds(ws.record(plugin)));
    if (expected.some((id) => !seen.has(id))) return false;
  }
  return true;
}

/**
 * Wait until `done()` or the deadline (never throws).
 *
 * @returns Whether `done()` became true.
 */
export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  daemon?: DaemonProcess,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  daemon?.exited.then(() => exited = true);
  while (Date.now() < deadline) {
    if (await done()) return true;
    if (exited) return await done();
    await new Promise((r) => setTimeout(r, 100));
  }
  return await done();
}

/**
 * Checks for a set of audits: nothing missing or unexpected, and duplicates within `maxExtra`.
 *
 * @param audits Per plugin.
 * @param maxExtra Deliveries beyond the first allowed per plugin (0: none).
 * @param label Prefix of the check names.
 * @returns One check per plugin.
 */
export function deliveryChecks(
  audits: readonly PluginAudit[],
  maxExtra: number,
  label: string,
): Check[] {
  return audits.map((a) => {
    const ok = a.missing.length === 0 && a.unexpected.length === 0 && a.extra <= maxExtra;
    const parts = [
      `${a.delivered} deliveries`,
      `missing ${a.missing.length}${a.missing.length ? ` (${ids(a.missing)})` : ""}`,
      `duplicated ids ${a.duplicates.length} (${a.extra} extra deliveries, bound ${maxExtra})`,
    ];
    if (a.unexpected.length) parts.push(`unexpected ${ids(a.unexpected)}`);
    return check(`${label}: plugin ${a.plugin} got every event`, ok, parts.join(", "));
  });
}

function ids(list: readonly number[]): string {
  return list.length > 8 ? `${list.slice(0, 8).join(", ")}, ...` : list.join(", ");
}

/**
 * Count occurrences of `text` in `output`.
 *
 * @returns How many.
 */
export function occurrences(output: string, text: string): number {
  let n = 0;
  for (let at = output.indexOf(text); at >= 0; at = output.indexOf(text, at + text.length)) n++;
  return n;
}

/**
 * Lines of a daemon's output that betray a bug (an unexpected error or a lane failure).
 *
 * @param output Everything it printed.
 * @returns Those lines.
 */
export function crashLines(output: string): string[] {
  return output.split("\n").filter((line) =>
    /Unexpected error|lane failed|Uncaught|panicked/.test(line)
  );
}

/** A random integer in [min, max] from `random`. */
export function between(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** Deterministic randomness, the simulator's generator (mulberry32). */
export { seededRandom as seeded } from "../../src/sim/synth.ts";

/** Live writes to a simulated site, some committing late. */
export interface Traffic {
  /** Ids of the events that committed late so far. */
  readonly lateIds: number[];
  /** Stop writing and wait for every pending late commit. */
  stop(): Promise<void>;
}

/**
 * Write to the site: `rate` events per second, a fraction of them in transactions that
 * commit up to `lateMaxMs` later (gaps that fill).
 *
 * @param sim The site.
 * @param options Rate, late fraction and delay, randomness.
 * @returns The traffic; stop it before auditing.
 */
export function startTraffic(
  sim: Simulator,
  options: { rate: number; lateFraction: number; lateMaxMs: number; random: () => number },
): Traffic {
  const pending = new Set<Promise<void>>();
  const lateIds: number[] = [];
  let due = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    due += options.rate * (now - last) / 1000;
    last = now;
    for (; due >= 1; due--) {
      const shot = between(options.random, 1, 20);
      if (options.random() < options.lateFraction) {
        const tx = sim.store.begin();
        tx.update("Shot", shot, { description: `late ${now}` });
        const wait = between(options.random, 50, options.lateMaxMs);
        const done = new Promise<void>((resolve) =>
          setTimeout(() => {
            tx.commit();
            lateIds.push(...tx.ids);
            resolve();
          }, wait)
        );
        pending.add(done);
        done.then(() => pending.delete(done));
      } else {
        sim.store.update("Shot", shot, { description: `now ${now}` });
      }
    }
  }, 20);
  return {
    lateIds,
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
    },
  };
}

/**
 * Send `signal` and wait for the exit, at most `limitMs`; then SIGKILL.
 *
 * @param daemon The process.
 * @param options Signal and limit.
 * @returns The exit code (null when it had to be killed) and how long it took.
 */
export async function stopDaemon(
  daemon: DaemonProcess,
  options: { signal?: Deno.Signal; limitMs?: number } = {},
): Promise<{ code: number | null; ms: number }> {
  const started = performance.now();
  daemon.kill(options.signal ?? "SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const code = await Promise.race([
    daemon.exited,
    new Promise<null>((r) => timer = setTimeout(() => r(null), options.limitMs ?? 20_000)),
  ]);
  clearTimeout(timer);
  const ms = Math.round(performance.now() - started);
  if (code === null) {
    daemon.kill("SIGKILL");
    await daemon.exited;
  }
  return { code, ms };
}
