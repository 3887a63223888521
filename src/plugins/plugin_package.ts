/**
 * The plugin API as a package for plugin folders outside a checkout (`sgevents plugins init`).
 *
 * The types are not rewritten by hand into a `.d.ts`: `writePluginApi` copies the real
 * source of `mod.ts` and every relative module it imports into `<dir>/.sgevents/`, read at
 * run time from the files the executable carries (`deno compile --include src`). A new
 * field or method in the API is therefore in the next `plugins init` with nothing to keep
 * in step; a `.d.ts` emitter (the TypeScript compiler) would add megabytes to the binary
 * for the same result. Discovery skips `.sgevents/` (a dot folder), so none of it is loaded
 * as a plugin.
 *
 * @module
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import denoJson from "../../deno.json" with { type: "json" };

/** Where the API is written inside a plugin folder. */
export const apiFolder = ".sgevents";

const sourceRoot = new URL("../", import.meta.url);
const entry = new URL("./mod.ts", import.meta.url);
const importPattern = /(?:^|\n)\s*(?:import|export)\b[^;"']*?from\s*["']([^"']+)["']/g;

/**
 * The plugin API's source files: `mod.ts` and the relative modules it imports, transitively.
 *
 * @returns Each file's path relative to `src/` and its text.
 * @throws {Error} When a module of the API imports a package (a plugin folder cannot resolve
 *   it), or its source is not readable (an executable built without `--include src`).
 */
export async function pluginApiSources(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const pending = [entry];
  while (pending.length > 0) {
    const url = pending.pop()!;
    const path = relative(fileURLToPath(sourceRoot), fileURLToPath(url));
    if (files.has(path)) continue;
    let text: string;
    try {
      text = await Deno.readTextFile(url);
    } catch (error) {
      // A binary built without `--include src` (see the compile task) has no sources to copy.
      throw new Error(
        `Cannot package the plugin API: "src/${path}" is not readable from this sgevents`,
        { cause: error },
      );
    }
    files.set(path, text);
    for (const match of text.matchAll(importPattern)) {
      const specifier = match[1]!;
      if (!specifier.startsWith(".")) {
        throw new Error(
          `Cannot package the plugin API: "${path}" imports "${specifier}", which a plugin folder cannot resolve`,
        );
      }
      pending.push(new URL(specifier, url));
    }
  }
  return files;
}

/** What {@link initPluginFolder} wrote or left alone. */
export interface InitResult {
  /** Files written, relative to the folder. */
  readonly written: readonly string[];
  /** Files that existed and were kept. */
  readonly kept: readonly string[];
}

/**
 * Write the plugin API into `<dir>/.sgevents/` (always: re-run after an upgrade), and a
 * `deno.json`, an example plugin and its test when they do not exist yet.
 *
 * @param dir The plugin folder (created if missing).
 * @returns What was written and what was kept.
 */
export async function initPluginFolder(dir: string): Promise<InitResult> {
  const written: string[] = [];
  const kept: string[] = [];
  await Deno.mkdir(dir, { recursive: true });
  const api = join(dir, apiFolder);
  await Deno.remove(api, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  const header =
    `// Written by sgevents ${denoJson.version} (\`sgevents plugins init\`); do not edit.\n`;
  for (const [path, text] of await pluginApiSources()) {
    const target = join(api, path);
    await Deno.mkdir(dirname(target), { recursive: true });
    await Deno.writeTextFile(target, header + text);
  }
  written.push(`${apiFolder}/`);
  const templates: Record<string, string> = {
    "deno.json": folderDenoJson(),
    "example.ts": examplePlugin,
    "example_test.ts": exampleTest,
  };
  for (const [name, text] of Object.entries(templates)) {
    try {
      await Deno.writeTextFile(join(dir, name), text, { createNew: true });
      written.push(name);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      kept.push(name);
    }
  }
  return { written, kept };
}

function folderDenoJson(): string {
  return `${
    JSON.stringify(
      {
        imports: { "sgevents/plugin": `./${apiFolder}/plugins/mod.ts` },
        compilerOptions: {
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
        },
        exclude: [`${apiFolder}/`],
      },
      null,
      2,
    )
  }\n`;
}

const examplePlugin = `/**
 * An example plugin: logs each Task status change. Copy it, rename it, make it yours.
 * Try it on one event: sgevents dispatch example.ts --event event.json [-c config.yaml]
 */
import type { Callback, Registrar } from "sgevents/plugin";

/** Called once when the daemon loads this file. */
export function registerCallbacks(reg: Registrar): void {
  reg.registerCallback(
    Deno.env.get("SGEVENTS_EXAMPLE_SCRIPT") ?? "sgevents",
    Deno.env.get("SGEVENTS_EXAMPLE_KEY") ?? "sim-key",
    logStatusChange,
    { Shotgun_Task_Change: ["sg_status_list"] },
  );
}

/** \`sg\` is a ShotGrid client with this callback's script credentials. */
export const logStatusChange: Callback = (_sg, logger, event) => {
  const entity = event.entity;
  if (!entity) {
    logger.warning("Event %d names no entity", event.id);
    return;
  }
  logger.info("%s %d is now %r", entity.type, entity.id, event.meta?.["new_value"]);
};
`;

const exampleTest = `/**
 * Runs example.ts on one event through \`sgevents dispatch\`, as the daemon would.
 * \`deno test -A\`; set SGEVENTS to the command when sgevents is not on PATH.
 */
import assert from "node:assert/strict";
import { join } from "node:path";

const [command, ...prefix] = (Deno.env.get("SGEVENTS") ?? "sgevents").split(" ");

Deno.test("example.ts logs a Task's new status", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const eventFile = join(dir, "event.json");
    await Deno.writeTextFile(
      eventFile,
      JSON.stringify({
        id: 1,
        event_type: "Shotgun_Task_Change",
        attribute_name: "sg_status_list",
        entity: { type: "Task", id: 5 },
        meta: { type: "attribute_change", old_value: "wtg", new_value: "ip" },
      }),
    );
    const plugin = join(import.meta.dirname!, "example.ts");
    const output = await new Deno.Command(command!, {
      args: [...prefix, "dispatch", plugin, "--event", eventFile],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    assert.match(stdout, /logStatusChange +ok/);
    assert.match(stderr, /Task 5 is now "ip"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
`;
