/**
 * A site that answers auth normally and then serves crafted EventLogEntry pages (issue 10):
 * the daemon stays up, says what was wrong in one line, and every plugin ends with every
 * valid id exactly once, with a state that loads. And a site restored from an older
 * backup stops the plugins whose cursor it went below, until an operator acts.
 */
import assert from "node:assert/strict";
import { startSimulator } from "../src/sim/mod.ts";
import { readStateFile } from "../src/state/state_store.ts";
import { audit, readIds, recorderPlugin, spawnSgevents, tempDir, writeConfig } from "./helpers.ts";

/** A page body as the site sends it: JSON:API records under `data`. */
type Body = { data: { id: unknown }[] } & Record<string, unknown>;

/** Rewrites one page: returns the new body text, or null to leave the page alone. */
type Tamper = (body: Body) => string | null;

/**
 * An HTTP proxy in front of a site: each `_search` of event_log_entries whose filter asks
 * for ids after `after` is offered to the tamper for that cursor, once.
 */
function hostileProxy(upstream: () => string): {
  url: string;
  tamperAfter: Map<number, Tamper>;
  served: string[];
} & AsyncDisposable {
  const tamperAfter = new Map<number, Tamper>();
  const served: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    const body = req.method === "GET" || req.method === "HEAD"
      ? undefined
      : await req.arrayBuffer();
    const headers = new Headers(req.headers);
    headers.delete("host");
    const answer = await fetch(`${upstream()}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      ...(body ? { body } : {}),
    });
    const text = await answer.text();
    let out = text;
    if (/\/(event_log_entries|EventLogEntry)\/_search$/.test(url.pathname) && body) {
      const after = greaterThan(new TextDecoder().decode(body));
      const tamper = after === null ? undefined : tamperAfter.get(after);
      if (tamper) {
        const changed = tamper(JSON.parse(text));
        if (changed !== null) {
          tamperAfter.delete(after!);
          served.push(`after ${after}`);
          out = changed;
        }
      }
    }
    return new Response(out, { status: answer.status, headers: answer.headers });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    tamperAfter,
    served,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

// The `id greater_than N` filter of a page request, when it is the only id lower bound.
function greaterThan(body: string): number | null {
  const filters = (JSON.parse(body) as { filters?: unknown }).filters;
  if (!Array.isArray(filters)) return null;
  for (const f of filters) {
    if (Array.isArray(f) && f[0] === "id" && f[1] === "greater_than") return f[2] as number;
  }
  return null;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

// The page's text with one id written as raw JSON (2^53 + 1 cannot be a JS number).
function withRawId(body: Body, index: number, raw: string): string {
  body.data[index]!.id = "__RAW__";
  return JSON.stringify(body).replace(`"__RAW__"`, raw);
}

Deno.test("daemon survives hostile event pages: every valid id once, one clear line each, state intact", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 40, quiet: true });
  await using proxy = hostileProxy(() => sim.url);
  await Deno.mkdir(`${dir.path}/plugins`);
  for (const name of ["a", "b"]) {
    await Deno.writeTextFile(
      `${dir.path}/plugins/${name}.ts`,
      recorderPlugin(`${dir.path}/${name}.ids`),
    );
  }
  // Pages of 5: each crafted page below is served once, then the site answers honestly.
  const crafted: [number, string, Tamper][] = [
    [5, "negative id in the last row", (b) => {
      b.data[b.data.length - 1]!.id = -3;
      return JSON.stringify(b);
    }],
    [10, "id 2^53 + 1", (b) => withRawId(b, 4, "9007199254740993")],
    [15, "a fractional id", (b) => {
      b.data[2]!.id = 17.5;
      return JSON.stringify(b);
    }],
    [20, "a repeated id", (b) => {
      b.data[4] = b.data[3]!;
      return JSON.stringify(b);
    }],
    [25, "an unsorted page", (b) => {
      b.data.reverse();
      return JSON.stringify(b);
    }],
    [30, "an id at or below the cursor", (b) => {
      b.data[0]!.id = 12;
      return JSON.stringify(b);
    }],
  ];
  for (const [after, , tamper] of crafted) proxy.tamperAfter.set(after, tamper);
  const config = await writeConfig({
    url: proxy.url,
    dir: dir.path,
    daemon: { max_event_batch_size: 5, max_conn_retries: 5, narrow_reads: false },
  });
  await using daemon = spawnSgevents(["daemon", "-c", config, "--once"]);
  assert.equal(await daemon.exited, 0, daemon.output());
  const output = daemon.output();
  assert.deepEqual(proxy.served, crafted.map(([after]) => `after ${after}`), "every page crafted");
  for (const [after, what] of crafted) {
    const lines = output.split("\n").filter((line) =>
      line.includes(`a page of events after id ${after} `)
    );
    assert.equal(lines.length, 1, `${what}: one line, got:\n${lines.join("\n")}`);
  }
  assert.match(output, /invalid event ids: -3/);
  assert.match(output, /invalid event ids: 9007199254740992/);
  assert.match(output, /invalid event ids: 17\.5/);
  assert.match(output, /event id 24 twice/);
  assert.match(output, /out of id order \(29 after 30\)/);
  assert.match(output, /at or below it: 12/);
  for (const name of ["a", "b"]) {
    const ids = await readIds(`${dir.path}/${name}.ids`);
    assert.deepEqual(audit(range(1, 40), ids), { missing: [], duplicates: [] }, name);
    assert.deepEqual(ids, range(1, 40), `${name} in id order`);
  }
  const state = await readStateFile(`${dir.path}/state.json`);
  for (const name of ["a", "b"]) {
    assert.equal(state?.plugins.get(name)?.cursor, 40);
    assert.equal(state?.plugins.get(name)?.backlog.size, 0);
  }
});

Deno.test("daemon stops plugins whose cursor is above a restored site's newest event until skipped", async () => {
  await using dir = await tempDir();
  await using before = await startSimulator({ port: 0, preload: 30, quiet: true });
  await using restored = await startSimulator({ port: 0, preload: 10, quiet: true });
  let upstream = before.url;
  await using proxy = hostileProxy(() => upstream);
  await Deno.mkdir(`${dir.path}/plugins`);
  await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, recorderPlugin(`${dir.path}/a.ids`));
  const config = await writeConfig({ url: proxy.url, dir: dir.path });
  const once = async () => {
    await using daemon = spawnSgevents(["daemon", "-c", config, "--once"]);
    assert.equal(await daemon.exited, 0, daemon.output());
    return daemon.output();
  };
  await once();
  assert.deepEqual(await readIds(`${dir.path}/a.ids`), range(1, 30));

  // The site comes back from an older backup: its newest event is 10, then it makes more.
  upstream = restored.url;
  restored.store.appendEvents(5);
  const halted = await once();
  assert.match(
    halted,
    /Plugin a stopped: the site's newest event is 15, below its cursor 30.*state skip a --to latest/,
  );
  assert.deepEqual(await readIds(`${dir.path}/a.ids`), range(1, 30), "nothing delivered past it");
  const state = await readStateFile(`${dir.path}/state.json`);
  assert.equal(state?.plugins.get("a")?.status, "halted");
  assert.equal(state?.plugins.get("a")?.cursor, 30, "the cursor is kept for the operator");

  // The operator looks, and skips to where the site is now; the plugin goes on from there.
  await using skip = spawnSgevents(["state", "skip", "a", "--to", "latest", "-c", config]);
  assert.equal(await skip.exited, 0, skip.output());
  restored.store.appendEvents(3);
  await once();
  assert.deepEqual(await readIds(`${dir.path}/a.ids`), [...range(1, 30), 16, 17, 18]);
});

Deno.test("state skip takes strict ids, refuses targets above the site or below the cursor without --force", async () => {
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 20, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  await Deno.writeTextFile(`${dir.path}/plugins/a.ts`, recorderPlugin(`${dir.path}/a.ids`));
  const config = await writeConfig({ url: sim.url, dir: dir.path });
  const run = async (...args: string[]) => {
    await using child = spawnSgevents([...args, "-c", config]);
    return { code: await child.exited, output: child.output().trim() };
  };
  assert.equal((await run("daemon", "--once")).code, 0);
  const cursor = async () =>
    (await readStateFile(`${dir.path}/state.json`))?.plugins.get("a")?.cursor;
  assert.equal(await cursor(), 20);

  const exponent = await run("state", "skip", "a", "--to", "1e3");
  assert.equal(exponent.code, 2);
  assert.match(exponent.output, /--to "1e3" is not an event id/);
  const above = await run("state", "skip", "a", "--to", "100000");
  assert.equal(above.code, 2);
  assert.match(above.output, /--to 100000 is above the site's newest event 20.*--force/);
  assert.equal(await cursor(), 20, "refused: nothing moved");
  assert.equal((await run("state", "skip", "a", "--to", "100000", "--force")).code, 0);
  assert.equal(await cursor(), 100000);
  const back = await run("state", "skip", "a", "--to", "10", "--force");
  assert.equal(back.code, 0, back.output);
  assert.equal(await cursor(), 10);
  const refused = await run("state", "skip", "a", "--to", "5");
  assert.equal(refused.code, 2);
  assert.match(refused.output, /back from event 10 to 5.*sgevents replay a --from 6 --to 10/);
  assert.equal(await cursor(), 10);
});
