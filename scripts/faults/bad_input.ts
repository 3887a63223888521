/**
 * Bad input, each with a clear message and nothing lost: broken configs (alias bombs and
 * files not in UTF-8 too), empty,
 * truncated, corrupt and foreign state files, and plugins that fail to load or misbehave
 * (syntax error, no registerCallbacks, throwing registration, throwing, hanging and
 * CPU-looping callbacks).
 *
 * @module
 */
import { startSimulator } from "../../src/sim/mod.ts";
import { spawnSgevents } from "../../tests/helpers.ts";
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

/** A broken config and what its message must name. */
interface ConfigCase {
  readonly name: string;
  /** The config text; `URL` is replaced with the site. */
  readonly text: string;
  readonly mentions: RegExp;
  /** Written as Latin-1 bytes instead of UTF-8. */
  readonly latin1?: boolean;
  /** Run in the quick suite too (besides every other case). */
  readonly quick?: boolean;
}

const good = (extra: string) =>
  `shotgrid:\n  url: URL\n  script_name: sgevents\n  script_key: sim-key\n${extra}`;
const plugins = "plugins:\n  paths: [./plugins]\n";

/** The config battery (the full one; `quick` takes every other case). */
export const configCases: readonly ConfigCase[] = [
  {
    name: "YAML syntax error",
    text: "shotgrid: [unclosed\n",
    mentions: /yaml|line|flow|unclosed/i,
  },
  { name: "empty file", text: "", mentions: /shotgrid|url|empty/i },
  { name: "not a mapping", text: "- a\n- b\n", mentions: /mapping|object|expected/i },
  {
    name: "missing shotgrid.url",
    text: `shotgrid:\n  script_name: sgevents\n  script_key: k\n${plugins}`,
    mentions: /shotgrid\.url/,
  },
  {
    name: "unknown key",
    text: good(`${plugins}daemon:\n  fetch_intervall: 1s\n`),
    mentions: /fetch_intervall/,
  },
  {
    name: "bad duration",
    text: good(`${plugins}daemon:\n  fetch_interval: soon\n`),
    mentions: /fetch_interval/,
  },
  {
    name: "batch size out of range",
    text: good(`${plugins}daemon:\n  max_event_batch_size: 0\n`),
    mentions: /max_event_batch_size/,
  },
  { name: "no plugin folders", text: good("plugins:\n  paths: []\n"), mentions: /plugins\.paths/ },
  {
    name: "bad start_at",
    text: good(`${plugins}daemon:\n  start_at: yesterday\n`),
    mentions: /start_at/,
  },
  {
    name: "missing key file",
    text:
      `shotgrid:\n  url: URL\n  script_name: sgevents\n  script_key_file: ./no-such-key\n${plugins}`,
    mentions: /no-such-key/,
  },
  {
    name: "bad log level",
    text: good(`${plugins}logging:\n  level: loud\n`),
    mentions: /logging\.level/,
  },
  {
    name: "undefined environment variable",
    text: good(`${plugins}daemon:\n  state_file: \${SGEVENTS_FAULTS_UNSET_VAR}\n`),
    mentions: /SGEVENTS_FAULTS_UNSET_VAR/,
  },
  {
    name: "wrong type",
    text: good(`${plugins}daemon:\n  max_conn_retries: many\n`),
    mentions: /max_conn_retries/,
  },
  {
    name: "YAML alias bomb",
    text: good(
      `${plugins}a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n` +
        `c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`,
    ),
    mentions: /bad\.yaml: cannot read YAML: Excessive alias count/,
    quick: true,
  },
  {
    name: "not UTF-8 (Latin-1)",
    text: good(`${plugins}# caf\u00e9\n`),
    mentions: /bad\.yaml: byte \d+ \(line \d+ column \d+\): the file is not valid UTF-8/,
    latin1: true,
    quick: true,
  },
];

/** True when the text carries a stack trace. */
function hasStack(text: string): boolean {
  return /^\s+at .+:\d+:\d+\)?$/m.test(text);
}

/**
 * Broken configs: each exits 2 with a message naming the problem, no stack, and the
 * state file untouched.
 *
 * @param options `quick` runs every other case.
 * @returns The checks.
 */
export async function badConfigs(options: { quick: boolean }): Promise<Check[]> {
  const checks: Check[] = [];
  await using sim = await startSimulator({ port: 0, preload: 20, quiet: true });
  await using ws = await workspace(sim.url);
  await ws.addRecorder("rec_0");
  // A state file from a good run, which no failed start may touch.
  await using first = spawnSgevents(["daemon", "-c", ws.configFile, "--once"]);
  const firstCode = await first.exited;
  checks.push(check("bad config: the good config runs", firstCode === 0, `exit ${firstCode}`));
  const stateBefore = await Deno.readFile(`${ws.path}/state.json`).catch(() => null);
  const cases = options.quick
    ? configCases.filter((c, i) => i % 2 === 0 || c.quick === true)
    : configCases;
  for (const c of cases) {
    const file = `${ws.path}/bad.yaml`;
    const text = c.text.replaceAll("URL", sim.url);
    if (c.latin1) await Deno.writeFile(file, Uint8Array.from(text, (ch) => ch.charCodeAt(0)));
    else await Deno.writeTextFile(file, text);
    await using daemon = spawnSgevents(["daemon", "-c", file]);
    const code = await daemon.exited;
    const output = daemon.output().trim();
    const ok = code === 2 && c.mentions.test(output) && !hasStack(output) && output !== "";
    checks.push(
      check(`bad config: ${c.name} is refused clearly`, ok, `exit ${code}: ${firstLine(output)}`),
    );
  }
  const stateAfter = await Deno.readFile(`${ws.path}/state.json`).catch(() => null);
  checks.push(
    check(
      "bad config: the state file was left untouched",
      stateBefore !== null && stateAfter !== null && equalBytes(stateBefore, stateAfter),
    ),
  );
  return checks;
}

/**
 * Bad state files: each is refused (exit 1) with a message naming the file and how to
 * recover, and left as it was; with the good file back, nothing is lost or repeated.
 *
 * @returns The checks.
 */
export async function badStateFiles(): Promise<Check[]> {
  const checks: Check[] = [];
  await using sim = await startSimulator({ port: 0, preload: 30, quiet: true });
  await using ws = await workspace(sim.url);
  await ws.addRecorder("rec_0");
  const stateFile = `${ws.path}/state.json`;
  await using first = spawnSgevents(["daemon", "-c", ws.configFile, "--once"]);
  await first.exited;
  const goodState = await Deno.readTextFile(stateFile);
  sim.store.appendEvents(20);
  const foreign = JSON.parse(goodState);
  foreign.site = "https://elsewhere.shotgrid.autodesk.com";
  const cases: [string, string, RegExp][] = [
    ["empty", "", /is empty/],
    ["truncated", goodState.slice(0, Math.floor(goodState.length / 2)), /not valid JSON/],
    ["corrupt", "{\u0000\u0001garbage", /not valid JSON/],
    ["another program's JSON", JSON.stringify({ hello: "world" }), /not an sgevents state file/],
    ["another site's state", JSON.stringify(foreign), /belongs to site/],
  ];
  for (const [name, text, mentions] of cases) {
    await Deno.writeTextFile(stateFile, text);
    await using daemon = spawnSgevents(["daemon", "-c", ws.configFile, "--once"]);
    const code = await daemon.exited;
    const output = daemon.output().trim();
    const after = await Deno.readTextFile(stateFile);
    checks.push(
      check(
        `bad state: ${name} file is refused and left as it was`,
        code === 1 && mentions.test(output) && output.includes(stateFile) && !hasStack(output) &&
          after === text,
        `exit ${code}: ${firstLine(output)}`,
      ),
    );
  }
  await Deno.writeTextFile(stateFile, goodState);
  await using last = spawnSgevents(["daemon", "-c", ws.configFile, "--once"]);
  const code = await last.exited;
  checks.push(
    check("bad state: the good file back, the daemon resumes", code === 0, `exit ${code}`),
  );
  const audit = await auditPlugin(ws, "rec_0", committedIds(sim));
  checks.push(...deliveryChecks([audit], 0, "bad state"));
  return checks;
}

/** Plugins that fail to load, and what the log must say about each. */
const brokenPlugins: Record<string, [string, RegExp]> = {
  syntax_error: [
    "export function registerCallbacks(reg) { this is not code }\n",
    /Cannot load plugin "syntax_error\.ts"/,
  ],
  no_register: [
    "export const nothing = 1;\n",
    /Cannot load plugin "no_register\.ts": it exports no registerCallbacks function/,
  ],
  throwing_register: [
    'export function registerCallbacks(reg) { throw new Error("no config for me"); }\n',
    /Cannot load plugin "throwing_register\.ts".*no config for me/,
  ],
};

/** Plugins whose callbacks misbehave. */
const badCallbacks: Record<string, string> = {
  throwing: "throw new Error('callback refuses ' + event.id);",
  hanging: "await new Promise(() => {});",
  cpu_loop: "for (;;) {}",
};

function callbackPlugin(body: string): string {
  return `export function registerCallbacks(reg) {
  reg.registerCallback("sgevents", "sim-key", cb, null, null, true);
}
async function cb(sg, logger, event) { ${body} }
`;
}

/**
 * Misbehaving plugins beside good ones: the good ones get everything; load failures are
 * logged by file name; failing callbacks pause their plugin at the event (timeouts end
 * hanging and looping ones); fixing the files resumes each at that event, losing nothing.
 *
 * @param options `callbackTimeout` for the hanging and looping ones.
 * @returns The checks.
 */
export async function badPlugins(options: { callbackTimeout: string }): Promise<Check[]> {
  const checks: Check[] = [];
  await using sim = await startSimulator({ port: 0, preload: 40, quiet: true });
  await using ws = await workspace(sim.url);
  const goodOnes = ["good_a", "good_b"];
  for (const name of goodOnes) await ws.addRecorder(name);
  for (const [name, [source]] of Object.entries(brokenPlugins)) await ws.addPlugin(name, source);
  for (const [name, body] of Object.entries(badCallbacks)) {
    await ws.addPlugin(name, callbackPlugin(body));
  }
  await ws.configure({ plugins: { callback_timeout: options.callbackTimeout, retries: 0 } });
  await using daemon = spawnSgevents(["daemon", "-c", ws.configFile]);
  const expected = committedIds(sim);
  const goodDone = await waitUntil(() => complete(ws, goodOnes, expected), 60_000, daemon);
  checks.push(check("bad plugins: the good plugins got every event", goodDone));
  for (const [name, [, pattern]] of Object.entries(brokenPlugins)) {
    const logged = await waitUntil(() => pattern.test(daemon.output()), 10_000, daemon);
    checks.push(
      check(
        `bad plugins: ${name} is reported clearly`,
        logged,
        matchLine(daemon.output(), pattern),
      ),
    );
  }
  const firstId = expected[0]!;
  for (const name of Object.keys(badCallbacks)) {
    const pattern = new RegExp(`Plugin "?${name}"? paused at event ${firstId}\\b`);
    const paused = await waitUntil(() => pattern.test(daemon.output()), 30_000, daemon);
    checks.push(
      check(
        `bad plugins: ${name} callback pauses its plugin at event ${firstId}`,
        paused,
        matchLine(daemon.output(), pattern),
      ),
    );
  }
  // Fix every bad plugin: each resumes where it stopped and gets everything once.
  const fixed = [...Object.keys(brokenPlugins), ...Object.keys(badCallbacks)];
  for (const name of fixed) await ws.addRecorder(name);
  const resumed = await waitUntil(() => complete(ws, fixed, expected), 60_000, daemon);
  checks.push(check("bad plugins: fixed plugins resumed and caught up", resumed));
  const { code } = await stopDaemon(daemon, { limitMs: 10_000 });
  checks.push(
    check(
      "bad plugins: the daemon stopped with exit 0",
      code === 0,
      code === null ? "still running 10 s after SIGTERM; killed" : `exit ${code}`,
    ),
  );
  const crashes = crashLines(daemon.output());
  checks.push(
    check("bad plugins: no crash in the logs", crashes.length === 0, crashes.join(" | ")),
  );
  const audits = await Promise.all(
    [...goodOnes, ...fixed].map((name) => auditPlugin(ws, name, expected)),
  );
  checks.push(...deliveryChecks(audits, 0, "bad plugins"));
  return checks;
}

function firstLine(text: string): string {
  const line = text.split("\n").find((l) => l.trim() !== "") ?? "";
  return line.length > 160 ? `${line.slice(0, 160)}...` : line;
}

function matchLine(output: string, pattern: RegExp): string {
  return firstLine(output.split("\n").find((line) => pattern.test(line)) ?? "(not found)");
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
