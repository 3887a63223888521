/**
 * What the daemon process loads: packages only some configs need (hono and prom-client for
 * the http section, postgres for a PostgreSQL state, nodemailer for email) sit behind
 * dynamic imports, so an ordinary daemon never loads them. Checked on the import graph
 * `deno info --json` reports, following static edges only.
 */
import assert from "node:assert/strict";

interface Dependency {
  readonly code?: { readonly specifier?: string };
  readonly isDynamic?: boolean;
}

interface ModuleGraph {
  readonly roots: string[];
  readonly modules: { readonly specifier: string; readonly dependencies?: Dependency[] }[];
  readonly redirects: Record<string, string>;
}

const repo = new URL("../", import.meta.url);

async function moduleGraph(root: string): Promise<ModuleGraph> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", root],
    cwd: repo,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.ok(success, `deno info ${root} failed: ${decoder.decode(stderr)}`);
  return JSON.parse(decoder.decode(stdout));
}

/**
 * Every module the root reaches, each with the module that first imports it. Type-only
 * imports are not followed (they are erased); dynamic ones only when asked.
 */
function reachedModules(
  graph: ModuleGraph,
  options: { dynamic: boolean },
): Map<string, string | null> {
  const resolve = (specifier: string) => {
    while (specifier in graph.redirects) specifier = graph.redirects[specifier]!;
    return specifier;
  };
  const modules = new Map(graph.modules.map((m) => [m.specifier, m]));
  const root = resolve(graph.roots[0]!);
  const importer = new Map<string, string | null>([[root, null]]);
  const queue = [root];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const dependency of modules.get(next)?.dependencies ?? []) {
      if (dependency.isDynamic && !options.dynamic) continue;
      const target = dependency.code?.specifier;
      if (target === undefined) continue;
      const resolved = resolve(target);
      if (importer.has(resolved)) continue;
      importer.set(resolved, next);
      queue.push(resolved);
    }
  }
  return importer;
}

function chainTo(importer: Map<string, string | null>, specifier: string): string[] {
  const chain: string[] = [];
  for (let at: string | null = specifier; at !== null; at = importer.get(at) ?? null) {
    chain.push(at.replace(repo.href, ""));
  }
  return chain;
}

/** The npm packages the root reaches, each with the chain of modules that imports it. */
function npmPackages(graph: ModuleGraph, options: { dynamic: boolean }): Map<string, string[]> {
  const importer = reachedModules(graph, options);
  const packages = new Map<string, string[]>();
  for (const specifier of importer.keys()) {
    const name = specifier.match(/^npm:\/?((?:@[^/@]+\/)?[^/@]+)/)?.[1];
    if (name === undefined || packages.has(name)) continue;
    packages.set(name, chainTo(importer, specifier));
  }
  return packages;
}

function assertLeavesOut(packages: Map<string, string[]>, names: readonly string[]): void {
  const reached = names.filter((name) => packages.has(name))
    .map((name) => `${name}: ${packages.get(name)!.join(" <- ")}`);
  assert.deepEqual(reached, [], `Statically imported:\n${reached.join("\n")}`);
}

const optional = ["hono", "prom-client", "postgres", "nodemailer"];

Deno.test("The daemon's static import graph leaves out http, PostgreSQL and email", async (t) => {
  const graph = await moduleGraph("src/cli/daemon.ts");
  await t.step("no static path reaches hono, prom-client, postgres or nodemailer", () => {
    assertLeavesOut(npmPackages(graph, { dynamic: false }), optional);
  });
  await t.step("each is still loaded by a dynamic import when the config asks", () => {
    const all = npmPackages(graph, { dynamic: true });
    assert.deepEqual(optional.filter((name) => !all.has(name)), []);
  });
});

Deno.test("The sgevents program's static import graph leaves out http, PostgreSQL, email and the type stripper", async () => {
  // What main.ts loads for every command, the daemon included. The type stripper's amaro
  // and es-module-lexer run in a child process only (src/plugins/type_stripper.ts).
  for (const root of ["main.ts", "src/cli/app.ts", "src/cli/errors.ts"]) {
    assertLeavesOut(npmPackages(await moduleGraph(root), { dynamic: false }), [
      ...optional,
      "amaro",
      "es-module-lexer",
    ]);
  }
});

Deno.test("A plugin Worker's static import graph has no node: module and no npm package", async () => {
  // Either starts Deno's Node compatibility layer in every Worker isolate (node:path alone
  // cost 2.7 MiB per bare Worker); a plugin's own imports are its business.
  const graph = await moduleGraph("src/plugins/worker_main.ts");
  const importer = reachedModules(graph, { dynamic: false });
  const reached = [...importer.keys()].filter((s) => s.startsWith("node:") || s.startsWith("npm:"))
    .map((s) => chainTo(importer, s).join(" <- "));
  assert.deepEqual(reached, []);
});
