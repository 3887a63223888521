/**
 * The state file under attack: a deleted lock file with a second daemon started, temp names
 * and the state file itself planted as symbolic links, and a stop whose state folder has
 * become unwritable. Each is refused or reported in one clear line, and nothing is lost.
 *
 * @module
 */
import { startSimulator } from "../../src/sim/mod.ts";
import { readStateFile } from "../../src/state/state_store.ts";
import { spawnSgevents } from "../../tests/helpers.ts";
import { unwritable } from "../../tests/unwritable.ts";
import {
  auditPlugin,
  type Check,
  check,
  committedIds,
  complete,
  crashLines,
  deliveryChecks,
  stopDaemon,
  waitUntil,
  workspace,
} from "./harness.ts";

/** Options of the scenarios here. */
export interface StateFileOptions {
  /** Events already on the site. */
  readonly preload: number;
}

/**
 * Delete `state.json.lock` under a running daemon, then start a second one on the same
 * state file: the second must refuse, the first go on and stop cleanly, nothing repeated.
 *
 * @param options Size.
 * @returns The checks.
 */
export async function deletedLock(options: StateFileOptions): Promise<Check[]> {
  const checks: Check[] = [];
  await using sim = await startSimulator({ port: 0, preload: options.preload, quiet: true });
  await using ws = await workspace(sim.url);
  await ws.addRecorder("rec_0", { delayMs: 2 });
  await using first = spawnSgevents(["daemon", "-c", ws.configFile]);
  await waitUntil(async () => (await ids(ws.record("rec_0"))) > 0, 20_000, first);
  await Deno.remove(`${ws.path}/state.json.lock`);
  await using second = spawnSgevents(["daemon", "-c", ws.configFile]);
  const secondCode = await second.exited;
  const refusal = second.output().trim();
  checks.push(
    check(
      "deleted lock: a second daemon on the same state file refuses",
      secondCode === 1 && /Cannot lock state file ".*state\.json": another sgevents/.test(refusal),
      `exit ${secondCode}: ${refusal.split("\n").at(-1)}`,
    ),
  );
  sim.store.appendEvents(20);
  const expected = committedIds(sim);
  const delivered = await waitUntil(() => complete(ws, ["rec_0"], expected), 30_000, first);
  const { code } = await stopDaemon(first);
  checks.push(
    check(
      "deleted lock: the first daemon delivered everything and stopped cleanly",
      delivered && code === 0,
      `exit ${code}`,
    ),
  );
  const crashes = crashLines(first.output() + second.output());
  checks.push(
    check("deleted lock: no crash in the logs", crashes.length === 0, crashes.join(" | ")),
  );
  checks.push(...deliveryChecks([await auditPlugin(ws, "rec_0", expected)], 0, "deleted lock"));
  return checks;
}

/**
 * Symbolic links planted under the old fixed temp names, and a state file that is a link:
 * the links are never followed (their target keeps its content), a linked state file is
 * refused with a message naming it.
 *
 * @param options Size, and how many runs save with the links in place.
 * @returns The checks.
 */
export async function plantedLinks(
  options: StateFileOptions & { readonly runs: number },
): Promise<Check[]> {
  const checks: Check[] = [];
  await using sim = await startSimulator({ port: 0, preload: options.preload, quiet: true });
  await using ws = await workspace(sim.url);
  await ws.addRecorder("rec_0");
  const state = `${ws.path}/state.json`;
  const victim = `${ws.path}/victim.txt`;
  await Deno.writeTextFile(victim, "precious");
  for (const name of [`${state}.tmp`, `${state}.bak.tmp`]) await Deno.symlink(victim, name);
  for (let run = 0; run < options.runs; run++) {
    sim.store.appendEvents(5);
    await using daemon = spawnSgevents(["daemon", "-c", ws.configFile, "--once"]);
    const code = await daemon.exited;
    checks.push(check(`planted temp links: run ${run + 1} exits 0`, code === 0, `exit ${code}`));
  }
  const untouched = await Deno.readTextFile(victim) === "precious" &&
    (await Deno.lstat(`${state}.tmp`)).isSymlink && (await Deno.lstat(state)).isFile;
  checks.push(check("planted temp links: never followed, never replaced", untouched));
  checks.push(
    ...deliveryChecks(
      [await auditPlugin(ws, "rec_0", committedIds(sim))],
      0,
      "planted temp links",
    ),
  );

  // The state file moved away and linked back.
  await Deno.rename(state, `${ws.path}/real.json`);
  await Deno.symlink(`${ws.path}/real.json`, state);
  const before = await Deno.readTextFile(`${ws.path}/real.json`);
  await using linked = spawnSgevents(["daemon", "-c", ws.configFile, "--once"]);
  const code = await linked.exited;
  const last = linked.output().trim().split("\n").at(-1) ?? "";
  const kept = (await Deno.lstat(state)).isSymlink &&
    await Deno.readTextFile(`${ws.path}/real.json`) === before;
  checks.push(
    check(
      "symlinked state file: refused in one line naming it, left as it was",
      code === 1 && kept &&
        /^Cannot open state file ".*state\.json": it is a symbolic link to ".*real\.json"/.test(
          last,
        ),
      `exit ${code}: ${last}`,
    ),
  );
  return checks;
}

/**
 * The state folder becomes unwritable, then the daemon is stopped: one line naming the
 * file, exit 1, no SuppressedError; once the folder is writable again, a restart delivers
 * everything (the unsaved events again, at most).
 *
 * @param options Size.
 * @returns The checks.
 */
export async function unwritableAtStop(options: StateFileOptions): Promise<Check[]> {
  const checks: Check[] = [];
  await using sim = await startSimulator({ port: 0, preload: options.preload, quiet: true });
  await using ws = await workspace(sim.url);
  await ws.addRecorder("rec_0");
  await Deno.mkdir(`${ws.path}/state`);
  await ws.configure({ daemon: { state_file: "./state/state.json" } });
  await using daemon = spawnSgevents(["daemon", "-c", ws.configFile]);
  const caughtUp = await waitUntil(
    () => complete(ws, ["rec_0"], committedIds(sim)),
    30_000,
    daemon,
  );
  // Delivered is not saved: wait for the save, so only what comes after it can repeat.
  const last = committedIds(sim).at(-1);
  const saved = await waitUntil(
    async () => {
      const state = await readStateFile(`${ws.path}/state/state.json`).catch(() => null);
      return state?.plugins.get("rec_0")?.cursor === last;
    },
    30_000,
    daemon,
  );
  let code: number | null;
  {
    await using _locked = await unwritable(`${ws.path}/state`);
    sim.store.appendEvents(10);
    ({ code } = await stopDaemon(daemon));
  }
  const output = daemon.output();
  const lastLine = output.trim().split("\n").at(-1) ?? "";
  checks.push(
    check(
      "unwritable state folder at stop: one line naming the file, exit 1",
      caughtUp && saved && code === 1 &&
        !/SuppressedError|Unexpected error|\n\s+at /.test(output) &&
        /^Cannot save state file ".*state\.json": cannot create /.test(lastLine),
      `exit ${code}: ${lastLine}`,
    ),
  );
  await using again = spawnSgevents(["daemon", "-c", ws.configFile, "--once"]);
  const againCode = await again.exited;
  checks.push(
    check("unwritable state folder at stop: a restart runs", againCode === 0, `exit ${againCode}`),
  );
  // At-least-once: what was delivered after the last save may come again.
  checks.push(
    ...deliveryChecks(
      [await auditPlugin(ws, "rec_0", committedIds(sim))],
      10,
      "unwritable state folder at stop",
    ),
  );
  return checks;
}

async function ids(file: string): Promise<number> {
  try {
    return (await Deno.readTextFile(file)).split("\n").filter((l) => l !== "").length;
  } catch {
    return 0;
  }
}
