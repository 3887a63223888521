/**
 * `sgevents plugins list | check | resume | init`.
 *
 * @module
 */
import { Command } from "commander";
import { join } from "node:path";
import type { Config } from "../config/types.ts";
import { discoverPlugins, type DiscoveryProblem } from "../plugins/discovery.ts";
import { apiFolder, initPluginFolder } from "../plugins/plugin_package.ts";
import { readState } from "./state_access.ts";
import { configOption, loadCommandConfig } from "./context.ts";
import { checkPlugin } from "./dispatch.ts";
import { ReportedFailure } from "./errors.ts";
import { changeState } from "./state_change.ts";
import { formatTable } from "./table.ts";

/**
 * The `plugins` command and its subcommands.
 *
 * @returns The commander command.
 */
export function pluginsCommand(): Command {
  const plugins = new Command("plugins").description("List, check, resume and set up plugins");
  plugins.command("init")
    .description(
      "Set up a plugin folder: the plugin API types (sgevents/plugin), a deno.json, an example plugin and its test",
    )
    .argument("<dir>", "the plugin folder (created if missing)")
    .addHelpText(
      "after",
      `\nThe types go to <dir>/${apiFolder}/ and are rewritten on every run (run it again after an upgrade);\nan existing deno.json, example.ts or example_test.ts is kept.\n\nExamples:\n  sgevents plugins init /opt/sgevents/plugins\n  cd /opt/sgevents/plugins && deno check example.ts && deno test -A`,
    )
    .action(async (dir: string) => {
      const result = await initPluginFolder(dir);
      for (const name of result.written) console.log(`wrote ${join(dir, name)}`);
      for (const name of result.kept) console.log(`kept ${join(dir, name)} (exists)`);
    });
  plugins.command("list")
    .description("Load every configured plugin and show its callbacks, matchEvents and status")
    .option(...configOption)
    .option("--json", "print JSON instead of a table")
    .addHelpText(
      "after",
      "\nEach plugin is loaded in its own Worker, as the daemon would; nothing is delivered.\n\nExamples:\n  sgevents plugins list\n  sgevents plugins list --json | jq '.[] | select(.status != \"ready\")'",
    )
    .action(async (options: { config?: string; json?: boolean }) => {
      const config = await loadCommandConfig(options.config);
      const rows = await listPlugins(config);
      if (options.json) console.log(JSON.stringify(rows, null, 2));
      else printList(rows);
      if (!options.json && config.daemon.stateUrl !== null) {
        // Several daemons run these plugins: say which one delivers.
        const view = await readState(config);
        console.log(`Leader: ${view.daemon ?? "none"}`);
        console.log(`Standbys: ${view.standbys?.join("; ") || "none"}`);
      }
    });
  plugins.command("check")
    .description("Load one plugin file and report its callbacks or why it cannot load")
    .argument("<file>", "a plugin .ts or .js file")
    .option(...configOption)
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExits 1 when the plugin cannot load.\n\nExamples:\n  sgevents plugins check plugins/notify.ts\n  sgevents plugins check --json plugins/notify.ts",
    )
    .action(async (file: string, options: { config?: string; json?: boolean }) => {
      const config = options.config ? await loadCommandConfig(options.config) : null;
      const result = await checkPlugin(file, { config });
      if (options.json) console.log(JSON.stringify(result, null, 2));
      else if (result.status === "ready") {
        console.log(`${result.name}: loads, ${result.callbacks.length} callback(s)`);
        for (const cb of result.callbacks) {
          console.log(
            `  ${cb.name}  matchEvents ${
              JSON.stringify(cb.matchEvents ?? {})
            }  stopOnError ${cb.stopOnError}`,
          );
        }
      } else console.log(`${result.name}: cannot load: ${result.loadError}`);
      if (result.status !== "ready") throw new ReportedFailure("Plugin cannot load");
    });
  plugins.command("resume")
    .description("Resume a paused plugin at the event it failed on")
    .argument("<plugins...>", "plugin names")
    .option(...configOption)
    .addHelpText(
      "after",
      "\nWorks with or without a running daemon (a running one applies it between batches).\n\nExample:\n  sgevents plugins resume notify",
    )
    .action(async (names: string[], options: { config?: string }) => {
      const config = await loadCommandConfig(options.config);
      const how = await changeState(config, { op: "resume", plugins: names });
      console.log(`Resumed ${names.map((n) => `"${n}"`).join(", ")} (${how})`);
    });
  return plugins;
}

/** One plugin in `plugins list`. */
export interface PluginRow {
  readonly name: string;
  readonly file: string | null;
  /** ready, failed (cannot load), disabled, orphaned (state but no file), or duplicate. */
  readonly status: string;
  readonly paused: { eventId: number; error: string } | null;
  readonly callbacks: readonly { name: string; matchEvents: unknown; stopOnError: boolean }[];
  readonly lastError: string | null;
}

/**
 * Load every configured plugin (each in its own Worker, as the daemon does) and merge
 * what the state file says about it.
 *
 * @param config The config.
 * @returns One row per plugin file, then one per orphaned state entry.
 */
export async function listPlugins(config: Config): Promise<PluginRow[]> {
  const problems: DiscoveryProblem[] = [];
  const found = await discoverPlugins(config.plugins.paths, { onProblem: (p) => problems.push(p) });
  const { doc } = await readState(config);
  const rows: PluginRow[] = [];
  for (const plugin of found) {
    const state = doc?.plugins.get(plugin.name) ?? null;
    const settings = config.plugins.settings[plugin.name];
    const paused = state?.paused
      ? { eventId: state.paused.eventId, error: state.paused.error }
      : null;
    if (settings && !settings.enabled) {
      rows.push({
        name: plugin.name,
        file: plugin.file,
        status: "disabled",
        paused,
        callbacks: [],
        lastError: null,
      });
      continue;
    }
    const result = await checkPlugin(plugin.file, { config });
    rows.push({
      name: plugin.name,
      file: plugin.file,
      status: result.status === "ready" ? (paused ? "paused" : "ready") : "failed",
      paused,
      callbacks: result.callbacks.map((cb) => ({
        name: cb.name,
        matchEvents: cb.matchEvents ?? null,
        stopOnError: cb.stopOnError,
      })),
      lastError: result.loadError ?? state?.lastError ?? null,
    });
  }
  for (const problem of problems) {
    rows.push({
      name: "-",
      file: problem.path,
      status: "skipped",
      paused: null,
      callbacks: [],
      lastError: problem.reason,
    });
  }
  const names = new Set(found.map((p) => p.name));
  for (const [name, state] of doc?.plugins ?? []) {
    if (names.has(name)) continue;
    rows.push({
      name,
      file: null,
      status: "orphaned",
      paused: null,
      callbacks: [],
      lastError: state.lastError,
    });
  }
  return rows;
}

function printList(rows: readonly PluginRow[]): void {
  if (rows.length === 0) {
    console.log("No plugins found in the configured paths.");
    return;
  }
  console.log(formatTable(
    ["PLUGIN", "STATUS", "CALLBACKS", "MATCHEVENTS", "LAST ERROR"],
    rows.map((row) => [
      row.name,
      row.paused ? `paused at ${row.paused.eventId}` : row.status,
      row.callbacks.map((cb) => cb.name).join(", ") || null,
      row.callbacks.map((cb) => JSON.stringify(cb.matchEvents ?? {})).join(" | ") || null,
      row.lastError?.split("\n")[0]?.slice(0, 100) ?? null,
    ]),
  ));
}
