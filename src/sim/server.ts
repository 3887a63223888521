/**
 * The simulator's HTTP server and {@link startSimulator}.
 *
 * Built on `node:http` rather than `Deno.serve`: a "connection reset" fault must drop the
 * connection without any HTTP answer, and `Deno.serve` always answers (a thrown handler
 * becomes a 500, an erroring body still sends a 200 status line first). `socket.destroy()`
 * does exactly what a dying site does. Throughput for 500-event pages is the same.
 *
 * @module
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sleep } from "../util/abort.ts";
import { type Activity, startActivity } from "./activity.ts";
import { Authority } from "./auth.ts";
import { controlAnswer } from "./control.ts";
import { errorBody, SimRequestError } from "./errors.ts";
import { FaultController } from "./faults.ts";
import { type Answer, errorAnswer, ShotGridRoutes, type SimRequest } from "./routes.ts";
import type { SimSchema } from "./schema.ts";
import { SimStats } from "./stats.ts";
import { SimStore } from "./store.ts";
import { seededRandom } from "./synth.ts";

/** How to start a simulator. */
export interface SimulatorOptions {
  /** TCP port (default 0: a free port); always binds 127.0.0.1. */
  port?: number;
  /** Script name -> key (default `{ sgevents: "sim-key" }`). */
  scripts?: Record<string, string>;
  /** Login -> password for `grant_type=password` (default `{ jo: "jo-pass" }`). */
  users?: Record<string, string>;
  /** Access token lifetime (default 600). */
  tokenTtlSeconds?: number;
  /** EventLogEntry rows already in the site at start (synthesized, memory-free). */
  preload?: number;
  /** Random entity changes per second (default 0). */
  rate?: number;
  /** Fraction of generated changes done in transactions that commit late. */
  lateFraction?: number;
  /** How late, ms (default 10 000). */
  lateDelayMs?: number;
  /** Fraction of allocated event ids that never commit. */
  neverCommitFraction?: number;
  /** Seed of all randomness (default 1). */
  seed?: number;
  /** Epoch ms clock for `created_at` and token expiry (default Date.now). */
  clock?: () => number;
  /** Whether the scripts' own writes are logged (a real site's default: off, per ApiUser). */
  logScriptWrites?: boolean;
  /** Entity types with custom fields and entities (see `loadSchemaFile`); default built-in. */
  schema?: SimSchema;
  /** Latency added to every ShotGrid request, ms (a real site's speed; default 0). */
  latencyMs?: number;
  /** Do not print unexpected errors. */
  quiet?: boolean;
}

/** A running simulated site. */
export interface Simulator extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** In-process control of data. */
  readonly store: SimStore;
  /** Fault injection. */
  readonly faults: FaultController;
  /** Request counters. */
  readonly stats: SimStats;
  /** Stop serving and generating; idempotent. */
  close(): Promise<void>;
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers.set(key, Array.isArray(value) ? value.join(", ") : value);
  }
  return headers;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    req.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    req.on("end", () => resolve(new TextDecoder().decode(concat(chunks))));
    req.on("error", reject);
  });
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function send(res: ServerResponse, answer: Answer): void {
  const headers: Record<string, string> = { ...answer.headers };
  let body: string | undefined;
  if (answer.json !== undefined) {
    body = JSON.stringify(answer.json);
    headers["content-type"] ??= "application/json; charset=utf-8";
  } else if (answer.text !== undefined) {
    body = answer.text;
    headers["content-type"] ??= "text/html; charset=utf-8";
  }
  res.writeHead(answer.status, headers);
  res.end(body);
}

const statusTitles: Record<number, string> = {
  500: "Shotgun Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

function faultAnswer(status: number, retryAfterSeconds?: number): Answer {
  if (status === 429) {
    return {
      status,
      headers: { "retry-after": String(retryAfterSeconds ?? 1) },
      json: errorBody(429, 103, "Too Many Requests"),
    };
  }
  if (status === 500) return { status, json: errorBody(500, 100, statusTitles[500]!) };
  // A proxy or maintenance page answers these, in HTML, as in front of a real site.
  const title = `${status} ${statusTitles[status] ?? "Error"}`;
  return {
    status,
    text: `<html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>`,
  };
}

/**
 * Start a ShotGrid-compatible site on 127.0.0.1.
 *
 * @param options Port, credentials, preload, activity, seed, clock.
 * @returns The running simulator; close it (or `await using` it) when done.
 * @example
 * ```ts
 * await using sim = await startSimulator({ preload: 1000 });
 * console.log(sim.url, sim.store.lastEventId);
 * ```
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const seed = options.seed ?? 1;
  const clock = options.clock ?? Date.now;
  const scripts = options.scripts ?? { sgevents: "sim-key" };
  const users = options.users ?? { jo: "jo-pass" };
  const store = new SimStore({
    seed,
    clock,
    preload: options.preload ?? 0,
    scripts: Object.keys(scripts),
    logins: Object.keys(users),
    logScriptWrites: options.logScriptWrites ?? false,
    ...(options.schema ? { schema: options.schema } : {}),
  });
  const auth = new Authority(store, {
    scripts,
    users,
    tokenTtlSeconds: options.tokenTtlSeconds ?? 600,
    clock,
  });
  const faults = new FaultController({
    random: seededRandom(seed ^ 0x5eed),
    onExpireTokens: () => auth.expireAll(),
    ...(options.latencyMs === undefined ? {} : { baseLatencyMs: options.latencyMs }),
  });
  const stats = new SimStats();
  const routes = new ShotGridRoutes(store, auth);
  const closing = new AbortController();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const request: SimRequest = {
      method: req.method ?? "GET",
      url: new URL(req.url ?? "/", "http://127.0.0.1"),
      headers: headersOf(req),
      body: await readBody(req),
    };
    if (request.url.pathname.startsWith("/_sim/")) {
      return send(res, controlAnswer(request, { store, faults, stats }));
    }
    const route = routes.match(request);
    if (!route) return send(res, { status: 404, json: errorBody(404, 104, "Not found") });
    stats.count(route.kind);
    const decision = faults.decide();
    if (decision.kind === "reset") return void req.socket.destroy();
    if (decision.delayMs > 0) await sleep(decision.delayMs, closing.signal);
    if (decision.kind === "status") {
      return send(res, faultAnswer(decision.status, decision.retryAfterSeconds));
    }
    let answer: Answer;
    try {
      answer = route.run();
    } catch (error) {
      if (!(error instanceof SimRequestError)) throw error;
      answer = errorAnswer(error);
    }
    send(res, answer);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (closing.signal.aborted) return void req.socket.destroy();
      if (!options.quiet) console.error("Simulator failed to answer a request:", error);
      if (!res.headersSent) {
        send(res, { status: 500, json: errorBody(500, 100, "Shotgun Server Error") });
      } else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const activity: Activity | undefined = (options.rate ?? 0) > 0
    ? startActivity(store, {
      rate: options.rate!,
      lateFraction: options.lateFraction ?? 0,
      lateDelayMs: options.lateDelayMs ?? 10_000,
      neverCommitFraction: options.neverCommitFraction ?? 0,
      random: seededRandom(seed + 1),
    })
    : undefined;

  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= new Promise<void>((resolve) => {
      activity?.stop();
      closing.abort();
      server.close(() => resolve());
      server.closeAllConnections();
    });

  return {
    url: `http://127.0.0.1:${port}`,
    store,
    faults,
    stats,
    close,
    [Symbol.asyncDispose]: close,
  };
}
