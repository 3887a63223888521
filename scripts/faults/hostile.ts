/**
 * A hostile or broken site, and a plugin that takes the whole process down (issue 10):
 *
 * - crafted EventLogEntry pages (a negative id, 2^53 + 1, a fraction, a repeated id, an
 *   unsorted page, an id below the cursor), each served once by a proxy in front of the
 *   simulator: the daemon stays up, says what was wrong in one line, and every plugin ends
 *   with every valid id exactly once;
 * - a site restored from an older backup: plugins whose cursor it went below stop, with
 *   the operator's way out, until `state skip --to latest`;
 * - a plugin that exhausts the heap at one event: the process dies (as V8 does), and after
 *   the restarts that find the event, that plugin is paused there and the others go on.
 *
 * @module
 */
import { startSimulator } from "../../src/sim/mod.ts";
import { readStateFile } from "../../src/state/state_store.ts";
import { readIds, spawnSgevents } from "../../tests/helpers.ts";
import {
  auditPlugin,
  type Check,
  check,
  committedIds,
  deliveryChecks,
  workspace,
} from "./harness.ts";

/** A page body as the site sends it: JSON:API records under `data`. */
type Body = { data: { id: unknown }[] } & Record<string, unknown>;

/** Rewrites one page: the new body text, or null to leave the page alone. */
type Tamper = (body: Body) => string | null;

/**
 * An HTTP proxy in front of a site. Each event-log `_search` whose filter asks for ids
 * after `after` is offered, once, to `tamperAfter.get(after)`.
 *
 * @param upstream The site to forward to (read per request, so a test can switch sites).
 * @returns The proxy's URL, its tampers, the pages it crafted; shut down on dispose.
 */
export function hostileProxy(upstream: () => string): {
  url: string;
  tamperAfter: Map<number, Tamper>;
  served: number[];
} & AsyncDisposable {
  const tamperAfter = new Map<number, Tamper>();
  const served: number[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const body = hasBody ? await req.arrayBuffer() : undefined;
    const headers = new Headers(req.headers);
    headers.delete("host");
    const answer = await fetch(`${upstream()}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      ...(body ? { body } : {}),
    });
    let text = await answer.text();
    const after = body && /\/(event_log_entries|EventLogEntry)\/_search$/.test(url.pathname)
      ? greaterThan(new TextDecoder().decode(body))
      : null;
    const tamper = after === null ? undefined : tamperAfter.get(after);
    const crafted = tamper?.(JSON.parse(text)) ?? null;
    if (crafted !== null) {
      tamperAfter.delete(after!);
      served.push(after!);
      text = crafted;
    }
    return new Response(text, { status: answer.status, headers: answer.headers });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    tamperAfter,
    served,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

// The `id greater_than N` condition of a page request.
function greaterThan(body: string): number | null {
  const filters = (JSON.parse(body) as { filters?: unknown }).filters;
  if (!Array.isArray(filters)) return null;
  for (const f of filters) {
    if (Array.isArray(f) && f[0] === "id" && f[1] === "greater_than") return f[2] as number;
  }
  return null;
}

// The page's text with one id written as raw JSON (2^53 + 1 is not a JS number).
function withRawId(body: Body, index: number, raw: string): string {
  body.data[index]!.id = "__RAW__";
  return JSON.stringify(body).replace(`"__RAW__"`, raw);
}

function edit(change: (body: Body) => void): Tamper {
  return (body) => {
    change(body);
    return JSON.stringify(body);
  };
}

/** The crafted pages: after which id, what is wrong, the change, the line that must say so. */
const craftedPages: readonly [number, string, Tamper, RegExp][] = [
  [
    5,
    "a negative id in the last row",
    edit((b) => b.data.at(-1)!.id = -3),
    /invalid event ids: -3/,
  ],
  [
    10,
    "id 2^53 + 1",
    (b) => withRawId(b, 4, "9007199254740993"),
    /invalid event ids: 9007199254740992/,
  ],
  [15, "a fractional id", edit((b) => b.data[2]!.id = 17.5), /invalid event ids: 17\.5/],
  [20, "a repeated id", edit((b) => b.data[4] = b.data[3]!), /event id 24 twice/],
  [25, "an unsorted page", edit((b) => b.data.reverse()), /out of id order \(29 after 30\)/],
  [30, "an id below the cursor", edit((b) => b.data[0]!.id = 12), /at or below it: 12/],
];

/**
 * Every crafted page served once: each refused with one line naming it, every valid id
 * delivered once and in order, the state loadable at the end.
 *
 * @returns The checks.
 */
export async function hostilePages(): Promise<Check[]> {
  const checks: Check[] = [];
  await using sim = await startSimulator({ port: 0, preload: 40, quiet: true });
  await using proxy = hostileProxy(() => sim.url);
  await using ws = await workspace(proxy.url);
  const names = ["rec_0", "rec_1"];
  for (const name of names) await ws.addRecorder(name);
  for (const [after, , tamper] of craftedPages) proxy.tamperAfter.set(after, tamper);
  // Pages of 5, so each crafted page is one request.
  await ws.configure({
    daemon: { max_event_batch_size: 5, max_conn_retries: 5, narrow_reads: false },
  });
  await using daemon = spawnSgevents(["daemon", "-c", ws.configFile, "--once"]);
  // A daemon caught in a poisoned page never ends on its own (it did, before the ids were checked).
  const limit = setTimeout(() => daemon.kill("SIGKILL"), 60_000);
  const code = await daemon.exited;
  clearTimeout(limit);
  const output = daemon.output();
  checks.push(check("hostile pages: the daemon ran to the end", code === 0, `exit ${code}`));
  checks.push(
    check(
      "hostile pages: every crafted page was served",
      proxy.served.length === craftedPages.length,
      `served after ${proxy.served.join(", ")}`,
    ),
  );
  for (const [after, what, , says] of craftedPages) {
    const lines = output.split("\n").filter((l) => l.includes(`page of events after id ${after} `));
    checks.push(
      check(
        `hostile pages: ${what} is refused in one clear line`,
        lines.length === 1 && says.test(lines[0]!),
        lines.join(" | ") || "no line",
      ),
    );
  }
  const expected = committedIds(sim);
  const audits = await Promise.all(names.map((name) => auditPlugin(ws, name, expected)));
  checks.push(...deliveryChecks(audits, 0, "hostile pages"));
  for (const name of names) {
    const ids = await readIds(ws.record(name));
    checks.push(
      check(`hostile pages: ${name} got its events in id order`, isAscending(ids), ""),
    );
  }
  const state = await readStateFile(`${ws.path}/state.json`).catch((e) => e as Error);
  const cursors = state instanceof Error ? String(state) : names
    .map((name) => state?.plugins.get(name)?.cursor).join(", ");
  checks.push(
    check(
      "hostile pages: the state loads, each cursor at the newest valid id",
      !(state instanceof Error) &&
        names.every((name) => state?.plugins.get(name)?.cursor === expected.at(-1)),
      `cursors ${cursors}`,
    ),
  );
  return checks;
}

/**
 * The site comes back from an older backup, below the cursors: the plugins stop with the
 * operator's way out and deliver nothing past it, until `state skip --to latest`.
 *
 * @returns The checks.
 */
export async function siteRestore(): Promise<Check[]> {
  const checks: Check[] = [];
  await using before = await startSimulator({ port: 0, preload: 30, quiet: true });
  await using restored = await startSimulator({ port: 0, preload: 10, quiet: true });
  let upstream = before.url;
  await using proxy = hostileProxy(() => upstream);
  await using ws = await workspace(proxy.url);
  await ws.addRecorder("rec_0");
  const once = async () => {
    await using daemon = spawnSgevents(["daemon", "-c", ws.configFile, "--once"]);
    return { code: await daemon.exited, output: daemon.output() };
  };
  await once();
  const first = await readIds(ws.record("rec_0"));
  upstream = restored.url;
  restored.store.appendEvents(5);
  const halted = await once();
  const said =
    /Plugin rec_0 stopped: the site's newest event is 15, below its cursor 30.*state skip rec_0 --to latest/
      .test(halted.output);
  checks.push(
    check(
      "site restore: the plugin stops with one error naming the ids and the way out",
      halted.code === 0 && said,
      halted.output.split("\n").find((l) => l.includes("stopped:")) ?? "no line",
    ),
  );
  const state = await readStateFile(`${ws.path}/state.json`);
  const entry = state?.plugins.get("rec_0");
  checks.push(
    check(
      "site restore: nothing delivered past it, the cursor kept for the operator",
      (await readIds(ws.record("rec_0"))).length === first.length && entry?.status === "halted" &&
        entry.cursor === 30,
      `status ${entry?.status}, cursor ${entry?.cursor}`,
    ),
  );
  await using skip = spawnSgevents([
    "state",
    "skip",
    "rec_0",
    "--to",
    "latest",
    "-c",
    ws.configFile,
  ]);
  const skipCode = await skip.exited;
  restored.store.appendEvents(3);
  await once();
  const after = (await readIds(ws.record("rec_0"))).slice(first.length);
  checks.push(
    check(
      "site restore: after state skip --to latest the plugin goes on with the restored site",
      skipCode === 0 && after.join(",") === "16,17,18",
      `delivered ${after.join(",")}`,
    ),
  );
  return checks;
}

/** A plugin that exhausts the heap on event `at`. */
function memoryHog(at: number): string {
  return `export function registerCallbacks(reg) {
  reg.registerCallback("sgevents", "sim-key", hog, null, null, true);
}
function hog(sg, logger, event) {
  if (event.id !== ${at}) return;
  const hoard = [];
  for (;;) hoard.push(new Array(1 << 16).fill(event.id));
}
`;
}

/**
 * A plugin that exhausts the heap at one event kills the process, as V8 does: after the
 * restarts that narrow it down, that plugin is paused at that event and the others get
 * every event (at least once), so the crash loop ends with the plugin, not the daemon.
 *
 * @returns The checks.
 */
export async function crashLoop(): Promise<Check[]> {
  const checks: Check[] = [];
  const bad = 17;
  await using sim = await startSimulator({ port: 0, preload: 40, quiet: true });
  await using ws = await workspace(sim.url);
  await ws.addRecorder("rec_0");
  await ws.addPlugin("hog", memoryHog(bad));
  await ws.configure({ daemon: { max_event_batch_size: 10 } });
  const codes: number[] = [];
  let output = "";
  // Each run dies, or (once the plugin is paused) catches up and ends; 6 runs at most.
  for (let run = 0; run < 6 && codes.at(-1) !== 0; run++) {
    await using daemon = spawnSgevents(["daemon", "-c", ws.configFile, "--once"], {
      denoArgs: ["--v8-flags=--max-old-space-size=160"],
    });
    codes.push(await daemon.exited);
    output += daemon.output();
  }
  checks.push(
    check(
      "crash loop: the process died at the event, then the daemon went on without the plugin",
      codes.at(-1) === 0 && codes.slice(0, -1).every((c) => c !== 0) && codes.length <= 5,
      `exit codes ${codes.join(", ")}`,
    ),
  );
  const state = await readStateFile(`${ws.path}/state.json`);
  const hog = state?.plugins.get("hog");
  checks.push(
    check(
      "crash loop: the plugin is paused at that event, saying why",
      hog?.status === "paused" && hog.paused?.eventId === bad &&
        /ended twice while plugin "hog" processed event 17/.test(hog.paused.error) &&
        output.includes(`Plugin hog paused at event ${bad}`),
      `status ${hog?.status}, paused at ${hog?.paused?.eventId}: ${hog?.paused?.error}`,
    ),
  );
  const expected = committedIds(sim);
  const audit = await auditPlugin(ws, "rec_0", expected);
  checks.push(
    check(
      "crash loop: the other plugin got every event",
      audit.missing.length === 0 && audit.unexpected.length === 0,
      `missing ${audit.missing.join(",")}; ${audit.extra} repeated after the crashes`,
    ),
  );
  return checks;
}

function isAscending(ids: readonly number[]): boolean {
  return ids.every((id, i) => i === 0 || id > ids[i - 1]!);
}
