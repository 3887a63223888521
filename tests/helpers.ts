/**
 * Shared pieces of the end-to-end tests: temp folders, config files, recording plugins,
 * and the daemon run as a real subprocess (`main.ts daemon`).
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The repository root. */
export const root: string = fileURLToPath(new URL("../", import.meta.url));

/** A temp folder removed when disposed. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "sgevents-test-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** Options of {@link writeConfig}. */
export interface TestConfigOptions {
  readonly url: string;
  readonly dir: string;
  readonly pluginPaths?: readonly string[];
  /** Extra YAML lines under `daemon:` (indented by the helper). */
  readonly daemon?: Record<string, unknown>;
  readonly plugins?: Record<string, unknown>;
  readonly logging?: Record<string, unknown>;
  readonly shotgrid?: Record<string, unknown>;
}

/**
 * Write a config file for a test daemon (JSON is valid YAML).
 *
 * @returns The config file's path.
 */
export async function writeConfig(options: TestConfigOptions): Promise<string> {
  const config = {
    shotgrid: {
      url: options.url,
      script_name: "sgevents",
      script_key: "sim-key",
      ...options.shotgrid,
    },
    daemon: {
      state_file: "./state.json",
      fetch_interval: "100ms",
      start_at: "oldest",
      max_conn_retries: 3,
      conn_retry_sleep: "200ms",
      shutdown_timeout: "5s",
      ...options.daemon,
    },
    plugins: {
      paths: options.pluginPaths ?? ["./plugins"],
      callback_timeout: "5s",
      retries: 0,
      rescan_interval: "500ms",
      ...options.plugins,
    },
    logging: { level: "info", dir: "./log", per_plugin: true, format: "plain", ...options.logging },
  };
  // state_file and state_url are exclusive: a PostgreSQL state drops the default file.
  if (options.daemon?.state_url !== undefined) {
    delete (config.daemon as { state_file?: string }).state_file;
  }
  const file = `${options.dir}/config.yaml`;
  await Deno.writeTextFile(file, JSON.stringify(config, null, 2));
  return file;
}

/** Options of {@link recorderPlugin}. */
export interface RecorderOptions {
  /** Throw on these event ids (every attempt). */
  readonly failOn?: readonly number[];
  readonly stopOnError?: boolean;
  /** Wait this long in each callback. */
  readonly delayMs?: number;
  readonly matchEvents?: Record<string, unknown> | null;
}

/**
 * A plugin that appends each delivered event id to `out`, one per line.
 *
 * @param out The record file.
 * @param options Failures and delays.
 * @returns The plugin's source.
 */
export function recorderPlugin(out: string, options: RecorderOptions = {}): string {
  return `
const failOn = new Set(${JSON.stringify(options.failOn ?? [])});
export function registerCallbacks(reg) {
  reg.registerCallback("sgevents", "sim-key", record, ${
    JSON.stringify(options.matchEvents ?? null)
  }, null, ${options.stopOnError ?? true});
}
async function record(sg, logger, event, args, ctx) {
  if (${options.delayMs ?? 0} > 0) await new Promise((r) => setTimeout(r, ${options.delayMs ?? 0}));
  if (failOn.has(event.id)) throw new Error("recorder refuses event " + event.id);
  Deno.writeTextFileSync(${JSON.stringify(out)}, event.id + "\\n", { append: true });
}
`;
}

/**
 * The ids a recorder wrote, in delivery order.
 *
 * @param file The record file.
 * @returns The ids (empty when the file does not exist).
 */
export async function readIds(file: string): Promise<number[]> {
  try {
    return (await Deno.readTextFile(file)).split("\n").filter((l) => l !== "").map(Number);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** Missing and duplicated ids of a delivery record against what was expected. */
export function audit(
  expected: Iterable<number>,
  delivered: readonly number[],
): { missing: number[]; duplicates: number[] } {
  const counts = new Map<number, number>();
  for (const id of delivered) counts.set(id, (counts.get(id) ?? 0) + 1);
  const missing = [...expected].filter((id) => !counts.has(id));
  const duplicates = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  return { missing, duplicates };
}

/** A daemon subprocess. */
export interface DaemonProcess extends AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number>;
  /** Resolves when the output contains `text` (rejects after `timeoutMs`). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  kill(signal: Deno.Signal): void;
}

/**
 * The V8 flags the daemon runs with (deno.json tasks, the compiled binary, the Dockerfile):
 * a 1 MiB young generation per isolate (10 no-op plugins over 100,000 events, one Worker
 * each: peak RSS 544 -> 395 MiB at the same speed), and a 768 MiB old generation per
 * isolate, which makes V8 grow each heap by a factor of about 1.6 between major
 * collections instead of 4 (40,000 events, 10 recording plugins: 208 -> 160 MiB for
 * about 9% more CPU; 50 plugins: 249 -> 169 MiB at the same CPU). README, "Performance".
 */
export const daemonV8Flags: readonly string[] = [
  "--v8-flags=--max-semi-space-size=1,--max-old-space-size=768",
];

/**
 * Run `sgevents <args>` as a subprocess of the repository's main.ts.
 *
 * @param args CLI arguments.
 * @param options Extra environment, and extra `deno run` flags (e.g. `--cpu-prof`).
 * @returns The process, killed with SIGKILL on dispose if still running.
 */
export function spawnSgevents(
  args: readonly string[],
  options: { env?: Record<string, string>; denoArgs?: readonly string[] } = {},
): DaemonProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--unstable-worker-options",
      ...daemonV8Flags,
      ...options.denoArgs ?? [],
      `${root}main.ts`,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  let text = "";
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (const wake of waiters) wake();
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exited = child.status.then(async (status) => {
    await pumps;
    for (const wake of waiters) wake();
    return status.code;
  });
  let done = false;
  exited.then(() => done = true);
  return {
    child,
    output: () => text,
    exited,
    waitFor(pattern, timeoutMs = 20_000) {
      const matches = () =>
        typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
      return new Promise((resolve, reject) => {
        const check = () => {
          if (matches()) finish(resolve);
          else if (done) {
            finish(() => reject(new Error(`exited before printing ${pattern}:\n${text}`)));
          }
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`timed out waiting for ${pattern}:\n${text}`))),
          timeoutMs,
        );
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
    kill(signal) {
      if (!done) child.kill(signal);
    },
    async [Symbol.asyncDispose]() {
      if (!done) child.kill("SIGKILL");
      await exited;
    },
  };
}

/**
 * Poll until `check` returns true (rejects after `timeoutMs`).
 *
 * @param check The condition.
 * @param timeoutMs Limit.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
