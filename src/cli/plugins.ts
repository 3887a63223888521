/**
 * `sgevents plugins list | check | pause | resume | retry-failed | init`.
 *
 * @module
 */
import { Command } from "commander";
import { join } from "node:path";
import type { Config } from "../config/types.ts";
import { discoverPlugins, type DiscoveryProblem } from "../plugins/discovery.ts";
import { apiFolder, initPluginFolder } from "../plugins/plugin_package.ts";
import { parseEventId } from "../state/cursor.ts";
import { readState } from "./state_access.ts";
import { configOption, loadCommandConfig } from "./context.ts";
import { checkPlugin } from "./dispatch.ts";
import { ReportedFailure, UsageError } from "./errors.ts";
import { changeState } from "./state_change.ts";
import { formatTable } from "./table.ts";
import { WorkerPool } from "../plugins/worker_pool.ts";

/**
 * The `plugins` command and its subcommands.
 *
 * @returns The commander command.
 */
export function pluginsCommand(): Command {
  const plugins = new Command("plugins").description(
    "List, check, pause, resume and set up plugins",
  );
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
      "\nEach plugin is loaded in a Worker of its own to check it; nothing is delivered.\nWORKER is where the daemon runs it: a shared Worker of the pool (plugins.workers, round-robin\nin processing order) or one of its own (isolate, permissions).\n\nExamples:\n  sgevents plugins list\n  sgevents plugins list --json | jq '.[] | select(.status != \"ready\")'",
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
  plugins.command("pause")
    .description("Pause plugins on purpose: nothing is delivered to them until resumed")
    .argument("<plugins...>", "plugin names")
    .option(...configOption)
    .addHelpText(
      "after",
      "\nWorks with or without a running daemon (a running one pauses after the event in flight).\nThe plugin resumes after its cursor with sgevents plugins resume.\n\nExample:\n  sgevents plugins pause notify",
    )
    .action(async (names: string[], options: { config?: string }) => {
      const config = await loadCommandConfig(options.config);
      const how = await changeState(config, { op: "pause", plugins: names });
      console.log(`Paused ${names.map((n) => `"${n}"`).join(", ")} (${how})`);
    });
  plugins.command("retry-failed")
    .description("Deliver again the events a plugin skipped after failing (stopOnError false)")
    .argument("<plugin>", "plugin name")
    .option("--id <id>", "only this event")
    .option(...configOption)
    .addHelpText(
      "after",
      "\nThe events go to every callback of the plugin again, beside its normal lane (see sgevents\nstate failed); each leaves the failed list once delivered well.\n\nExamples:\n  sgevents plugins retry-failed notify\n  sgevents plugins retry-failed notify --id 545175",
    )
    .action(async (name: string, options: { config?: string; id?: string }) => {
      let eventId: number | undefined;
      try {
        eventId = options.id === undefined ? undefined : parseEventId(options.id, "--id");
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      if (eventId === 0) throw new UsageError(`--id "0" is not an event id`);
      const config = await loadCommandConfig(options.config);
      const how = await changeState(config, {
        op: "retry-failed",
        plugins: [name],
        ...(eventId === undefined ? {} : { eventId }),
      });
      console.log(
        `Retrying ${
          eventId === undefined ? "the failed events" : `event ${eventId}`
        } of "${name}" (${how})`,
      );
    });
  return plugins;
}

/** One plugin in `plugins list`. */
export interface PluginRow {
  readonly name: string;
  readonly file: string | null;
  /** ready, failed (cannot load), disabled, orphaned (state but no file), or duplicate. */
  readonly status: string;
  /** The Worker the daemon runs it in (`worker 1`: shared; `plugin <name>`: its own). */
  readonly worker: string | null;
  readonly paused: { eventId: number; error: string } | null;
  readonly callbacks: readonly { name: string; matchEvents: unknown; stopOnError: boolean }[];
  readonly lastError: string | null;
}

/**
 * Load every configured plugin (each in a Worker of its own, to check it) and merge
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
  // Placement as the daemon's pool makes it (no Worker is started for this).
  const pool = new WorkerPool({
    ...(config.plugins.workers ? { workers: config.plugins.workers } : {}),
    site: { url: config.shotgrid.url, proxy: config.shotgrid.proxy },
  });
  pool.plan(
    found.filter((p) => config.plugins.settings[p.name]?.enabled !== false).map((p) => p.name),
  );
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
        worker: null,
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
      // Quarantined by the running daemon: a Worker of its own until the plugin reloads.
      worker: state?.quarantine
        ? `plugin ${plugin.name} (quarantined: ${state.quarantine.reason.split("\n")[0]})`
        : pool.place(plugin.name, {
          isolate: settings?.isolate ?? false,
          permissions: settings?.permissions ?? null,
        }).name,
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
      worker: null,
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
      worker: null,
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
    ["PLUGIN", "STATUS", "WORKER", "CALLBACKS", "MATCHEVENTS", "LAST ERROR"],
    rows.map((row) => [
      row.name,
      row.paused ? `paused at ${row.paused.eventId}` : row.status,
      row.worker,
      row.callbacks.map((cb) => cb.name).join(", ") || null,
      row.callbacks.map((cb) => JSON.stringify(cb.matchEvents ?? {})).join(" | ") || null,
      row.lastError?.split("\n")[0]?.slice(0, 100) ?? null,
    ]),
  ));
}
