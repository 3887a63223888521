/**
 * `sgevents state show | skip | forget`: inspect and edit plugin cursors and backlogs,
 * the supported replacement for unpickling the Python daemon's `.id` file by hand.
 *
 * @module
 */
import { Command, Option } from "commander";
import type { Config } from "../config/types.ts";
import { ShotGridEventSource } from "../engine/event_source.ts";
import { discoverPlugins } from "../plugins/discovery.ts";
import { parseEventId } from "../state/cursor.ts";
import type { PluginState } from "../state/state_file.ts";
import { configOption, daemonClient, loadCommandConfig } from "./context.ts";
import { UsageError } from "./errors.ts";
import { readState } from "./state_access.ts";
import { changeState } from "./state_change.ts";
import { exportState, importState } from "./state_transfer.ts";
import { formatTable } from "./table.ts";

/** One plugin's row in `state show`. */
export interface StateRow {
  readonly plugin: string;
  readonly status: "active" | "paused" | "halted";
  readonly orphaned: boolean;
  readonly cursor: number | null;
  readonly lag: number | null;
  readonly backlog: number;
  readonly oldestDeadline: string | null;
  readonly processed: number;
  readonly failed: number;
  readonly pausedAt: number | null;
  /** Halted because the site's newest event fell below the cursor: that newest id. */
  readonly haltedAtSiteNewest: number | null;
  readonly lastError: string | null;
}

/** What `state show` prints. */
export interface StateReport {
  /** The state file, or the database and daemon name. */
  readonly file: string;
  /** The daemon writing the state (the PostgreSQL leader), or null. */
  readonly daemon: string | null;
  /** PostgreSQL only: the daemons waiting to take over. */
  readonly standbys?: string[];
  readonly newestId: number | null;
  readonly plugins: StateRow[];
}

/**
 * The `state` command and its subcommands.
 *
 * @returns The commander command.
 */
export function stateCommand(): Command {
  const state = new Command("state").description("Inspect and edit plugin cursors and backlogs");
  state.command("show")
    .description("Show each plugin's cursor, lag, backlog, status and errors")
    .option(...configOption)
    .option("--json", "print JSON instead of a table")
    .option("--offline", "do not ask the site for its newest event (no lag column)")
    .addHelpText(
      "after",
      "\nExamples:\n  sgevents state show\n  sgevents state show --json | jq '.plugins[] | select(.status == \"paused\")'",
    )
    .action(async (options: { config?: string; json?: boolean; offline?: boolean }) => {
      const config = await loadCommandConfig(options.config);
      const report = await stateReport(config, { offline: options.offline ?? false });
      if (options.json) console.log(JSON.stringify(report, null, 2));
      else printReport(report);
    });
  state.command("skip")
    .description("Drop plugins' backlogs and move their cursors (default: to the newest event)")
    .argument("[plugins...]", "plugin names")
    .option(...configOption)
    .option("--all", "every plugin in the state file")
    .addOption(
      new Option("--to <id|latest>", "new cursor: processing resumes after this id").default(
        "latest",
      ),
    )
    .option(
      "--force",
      "allow a target above the site's newest event, or below the cursor (events after it are delivered again)",
    )
    .addHelpText(
      "after",
      "\nA target below a plugin's cursor is refused (use sgevents replay to deliver a range again),\nexcept for a plugin halted because the site went back (restored from a backup).\n\nExamples:\n  sgevents state skip notify            # notify resumes at the next new event\n  sgevents state skip --all --to 545175 # everyone resumes after event 545175",
    )
    .action(
      async (
        plugins: string[],
        options: { config?: string; all?: boolean; to: string; force?: boolean },
      ) => {
        const targets = selectPlugins(plugins, options.all ?? false);
        const to = parseTo(options.to);
        const config = await loadCommandConfig(options.config);
        const how = await changeState(config, {
          op: "skip",
          plugins: targets,
          to,
          ...(options.force ? { force: true } : {}),
        });
        console.log(
          `Skipped ${describe(targets)} to ${
            to === "latest" ? "the newest event" : `event ${to}`
          } (${how})`,
        );
      },
    );
  state.command("forget")
    .description("Delete the state of plugins whose files are gone (orphans)")
    .argument("<plugins...>", "plugin names")
    .option(...configOption)
    .addHelpText(
      "after",
      "\nA plugin whose file is still there cannot be forgotten while a daemon runs it.\n\nExample:\n  sgevents state forget old_notify",
    )
    .action(async (plugins: string[], options: { config?: string }) => {
      const config = await loadCommandConfig(options.config);
      const how = await changeState(config, { op: "forget", plugins });
      console.log(`Forgot ${describe(plugins)} (${how})`);
    });
  state.command("export")
    .description("Write the state (file or PostgreSQL) to a JSON state file (backup, migration)")
    .argument("<file>", "the JSON file to write")
    .option(...configOption)
    .addHelpText(
      "after",
      "\nSafe while daemons run (a consistent snapshot).\n\nExample:\n  sgevents state export backup.json",
    )
    .action(async (file: string, options: { config?: string }) => {
      const config = await loadCommandConfig(options.config);
      const count = await exportState(config, file);
      console.log(`Exported ${count} plugin state(s) to "${file}"`);
    });
  state.command("import")
    .description("Replace the state (file or PostgreSQL) with a JSON state file's")
    .argument("<file>", "a JSON state file (from export, or a daemon's state_file)")
    .option(...configOption)
    .addHelpText(
      "after",
      "\nEvery daemon using the state must be stopped first.\n\nExample:\n  sgevents state import var/state.json   # with daemon.state_url set: file to PostgreSQL",
    )
    .action(async (file: string, options: { config?: string }) => {
      const config = await loadCommandConfig(options.config);
      const count = await importState(config, file);
      console.log(`Imported ${count} plugin state(s) from "${file}"`);
    });
  return state;
}

/**
 * Build the `state show` report.
 *
 * @param config The config.
 * @param options `offline` skips asking the site for its newest id.
 * @returns The rows, the daemon holding the file (if any) and the newest id.
 */
export async function stateReport(
  config: Config,
  options: { offline: boolean },
): Promise<StateReport> {
  const view = await readState(config);
  const { doc, daemon } = view;
  const file = view.location;
  const present = new Set((await discoverPlugins(config.plugins.paths)).map((p) => p.name));
  let newestId: number | null = null;
  if (!options.offline && doc && doc.plugins.size > 0) {
    await using client = daemonClient(config, { retries: 0 });
    newestId = await new ShotGridEventSource(client).newestId(AbortSignal.timeout(10_000))
      .catch(() => null);
  }
  const plugins = [...(doc?.plugins ?? new Map<string, PluginState>())].map(([name, p]) => {
    const deadlines = [...p.backlog.values()].filter((d): d is number => d !== null);
    return {
      plugin: name,
      status: p.status,
      orphaned: !present.has(name),
      cursor: p.cursor,
      lag: newestId !== null && p.cursor !== null ? Math.max(0, newestId - p.cursor) : null,
      backlog: p.backlog.size,
      oldestDeadline: deadlines.length ? new Date(Math.min(...deadlines)).toISOString() : null,
      processed: p.processed,
      failed: p.failed.length,
      pausedAt: p.paused?.eventId ?? null,
      haltedAtSiteNewest: p.halted?.siteNewest ?? null,
      lastError: p.lastError,
    };
  });
  return {
    file,
    daemon,
    ...(view.standbys ? { standbys: [...view.standbys] } : {}),
    newestId,
    plugins,
  };
}

function printReport(report: StateReport): void {
  if (report.standbys === undefined) {
    console.log(`State file: ${report.file}`);
    console.log(`Daemon: ${report.daemon ?? "not running"}`);
  } else {
    console.log(`State: ${report.file}`);
    console.log(`Leader: ${report.daemon ?? "none"}`);
    console.log(`Standbys: ${report.standbys.join("; ") || "none"}`);
  }
  if (report.newestId !== null) console.log(`Newest event on the site: ${report.newestId}`);
  if (report.plugins.length === 0) {
    console.log("No plugin state yet.");
    return;
  }
  console.log(formatTable(
    [
      "PLUGIN",
      "STATUS",
      "CURSOR",
      "LAG",
      "BACKLOG",
      "NEXT DEADLINE",
      "PROCESSED",
      "FAILED",
      "LAST ERROR",
    ],
    report.plugins.map((row) => [
      row.plugin,
      row.orphaned
        ? `${row.status} (orphaned)`
        : row.haltedAtSiteNewest !== null
        ? `halted: site back at ${row.haltedAtSiteNewest}`
        : row.pausedAt !== null
        ? `paused at ${row.pausedAt}`
        : row.status,
      row.cursor,
      row.lag,
      row.backlog,
      row.oldestDeadline,
      row.processed,
      row.failed,
      row.lastError?.split("\n")[0]?.slice(0, 80) ?? null,
    ]),
  ));
}

function selectPlugins(plugins: string[], all: boolean): string[] | "all" {
  if (all && plugins.length > 0) throw new UsageError("Give plugin names or --all, not both");
  if (!all && plugins.length === 0) throw new UsageError("Name the plugins to skip, or pass --all");
  return all ? "all" : plugins;
}

function parseTo(value: string): number | "latest" {
  if (value === "latest") return value;
  try {
    return parseEventId(value, "--to");
  } catch (error) {
    throw new UsageError(`${(error as Error).message}, or latest`);
  }
}

function describe(plugins: readonly string[] | "all"): string {
  return plugins === "all" ? "every plugin" : plugins.map((p) => `"${p}"`).join(", ");
}
