/**
 * Type stripping and import lexing for the plugin loader, in a child process.
 *
 * Why a child: `amaro` (swc compiled to WebAssembly) and `es-module-lexer` cost the daemon
 * ~25 MiB of RSS once imported, which a Worker does not give back when it ends (measured:
 * 73 MiB while a stripping Worker runs, 57 MiB after `terminate()`, from 32). A child's
 * memory goes back in full when it exits, and it only runs while plugins are being loaded:
 * it starts on the first module that is not in the loader's cache and ends, awaited, when
 * the last {@link TypeStripper.hold} or request that needs it is done, so nothing of it
 * outlives a load (tests see no leaked process).
 *
 * The child is this program itself: `sgevents __strip-types` in a compiled executable,
 * `deno run <checkout>/main.ts __strip-types` from a checkout (the same `main.ts` entry).
 *
 * @module
 */

/** What the loader asks of one module. */
export interface StripRequest {
  readonly file: string;
  readonly code: string;
  /** Strip types first (`.ts`, `.mts`, `.cts`). */
  readonly typescript: boolean;
}

/** One import found by `es-module-lexer` in the stripped code. */
export interface LexedImport {
  readonly type: "static" | "reexport-star" | "dynamic" | "import-meta";
  /** Absent for `import.meta` and computed dynamic specifiers. */
  readonly specifier?: string;
  readonly start: number;
  readonly end: number;
  /** A dynamic import of a template with substitutions. */
  readonly glob: boolean;
}

/** The stripped code and its imports, or why there are none. */
export type StripAnswer =
  | { readonly code: string; readonly imports: readonly LexedImport[] }
  | {
    readonly error:
      | { stage: "strip"; message: string; unsupported: boolean; line?: number }
      | { stage: "lex"; message: string; index?: number };
  };

/** The command line that runs this program's `__strip-types` mode. */
export function stripperCommand(): { command: string; args: string[] } {
  if (Deno.build.standalone) return { command: Deno.execPath(), args: ["__strip-types"] };
  const main = new URL("../../main.ts", import.meta.url);
  const config = new URL("../../deno.json", import.meta.url);
  return {
    command: Deno.execPath(),
    args: [
      "run",
      "--no-prompt",
      "--quiet",
      "--config",
      config.pathname,
      main.href,
      "__strip-types",
    ],
  };
}

/** The child process and the answers it owes, in request order. */
interface Child {
  readonly process: Deno.ChildProcess;
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly waiting: { resolve(answer: StripAnswer): void; reject(error: Error): void }[];
  readonly done: Promise<void>;
  /** Exited: the next request starts another. */
  ended: boolean;
}

/** Runs the child while someone needs it; see the module doc. */
export class TypeStripper {
  #child: Child | null = null;
  #users = 0;
  readonly #encoder = new TextEncoder();
  readonly #onSpawn: (pid: number) => void;

  /** @param options `onSpawn`: told each child's pid (tests count them). */
  constructor(options: { onSpawn?: (pid: number) => void } = {}) {
    this.#onSpawn = options.onSpawn ?? (() => {});
  }

  /**
   * Keep the child (once started) alive while `fn` runs, so that a run of loads (every
   * plugin of a folder scan) starts it at most once.
   *
   * @param fn The loads.
   * @returns What `fn` returns.
   */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    this.#users++;
    try {
      return await fn();
    } finally {
      await this.#release();
    }
  }

  /**
   * Strip and lex one module in the child.
   *
   * @param request The module.
   * @returns The stripped code and its imports, or the stripper's or lexer's error.
   * @throws {Error} When the child cannot be started or ends without answering.
   */
  prepare(request: StripRequest): Promise<StripAnswer> {
    return this.hold(() => {
      if (this.#child?.ended) this.#child = null;
      const child = this.#child ??= this.#start();
      return new Promise<StripAnswer>((resolve, reject) => {
        child.waiting.push({ resolve, reject });
        child.writer.write(this.#encoder.encode(JSON.stringify(request) + "\n")).catch(() => {});
      });
    });
  }

  async #release(): Promise<void> {
    if (--this.#users > 0 || !this.#child) return;
    const child = this.#child;
    this.#child = null;
    await child.writer.close().catch(() => {});
    await child.done;
  }

  #start(): Child {
    const { command, args } = stripperCommand();
    const process = new Deno.Command(command, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#onSpawn(process.pid);
    const waiting: Child["waiting"] = [];
    const stderr = new Response(process.stderr).text();
    const answers = (async () => {
      let buffered = "";
      for await (const text of process.stdout.pipeThrough(new TextDecoderStream())) {
        buffered += text;
        let newline;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          waiting.shift()?.resolve(JSON.parse(line) as StripAnswer);
        }
      }
    })();
    const done = Promise.allSettled([answers, process.status, stderr]).then(
      async ([read, status]) => {
        child.ended = true;
        if (waiting.length === 0) return;
        const code = status.status === "fulfilled" ? status.value.code : "unknown";
        const why = read.status === "rejected" ? String(read.reason) : (await stderr).trim();
        const error = new Error(
          `The type stripper (${command} ${args.join(" ")}) ended with code ${code}${
            why ? `: ${why}` : ""
          }`,
        );
        for (const pending of waiting.splice(0)) pending.reject(error);
      },
    );
    const child: Child = {
      process,
      writer: process.stdin.getWriter(),
      waiting,
      done,
      ended: false,
    };
    return child;
  }
}

/** The one stripper the loader uses. */
export const typeStripper: TypeStripper = new TypeStripper();
