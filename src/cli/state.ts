/**
 * `sgevents state show | failed | skip | forget`: inspect and edit plugin cursors and backlogs,
 * the supported replacement for unpickling the Python daemon's `.id` file by hand.
 *
 * @module
 */
import { Command, Option } from "commander";
import type { Config } from "../config/types.ts";
import { ShotGridEventSource } from "../engine/event_source.ts";
import { discoverPlugins } from "../plugins/discovery.ts";
import { parseEventId } from "../state/cursor.ts";
import type { FailedEventRecord, PluginState, Replay } from "../state/state_file.ts";
import { configOption, daemonClient, loadCommandConfig } from "./context.ts";
import { ReportedFailure, UsageError } from "./errors.ts";
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
  /** Now minus the created_at of the plugin's next event, in s (0 caught up); null offline. */
  readonly lagSeconds: number | null;
  readonly backlog: number;
  readonly oldestDeadline: string | null;
  readonly processed: number;
  readonly failed: number;
  readonly pausedAt: number | null;
  /** Halted because the site's newest event fell below the cursor: that newest id. */
  readonly haltedAtSiteNewest: number | null;
  /** Paused on purpose (`plugins pause`). */
  readonly pausedByOperator: boolean;
  /** Why the plugin runs quarantined in a Worker of its own, or null. */
  readonly quarantine: string | null;
  /** The replay under way (`sgevents replay`, `plugins retry-failed`), or null. */
  readonly replay: Replay | null;
  readonly lastError: string | null;
}

/** `state show`'s exit code when no daemon holds the state file. */
export const exitNotRunning = 3;
/** `state show`'s exit code when the daemon runs but a plugin is paused or halted. */
export const exitNotActive = 4;

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
    .option("--offline", "do not ask the site (no lag columns)")
    .addHelpText(
      "after",
      `\nLAG is in events (the site's newest id minus the cursor) and LAG S in seconds (now
minus the time of the plugin's next event; one small request per plugin).

Exit codes, for scripts: 0 the daemon runs and every plugin is active; ${exitNotRunning} no daemon
holds the state file; ${exitNotActive} a plugin is paused or halted (orphans are not counted);
1 and 2 as for every command.

Examples:
  sgevents state show
  sgevents state show --json | jq '.plugins[] | select(.status == "paused")'`,
    )
    .action(async (options: { config?: string; json?: boolean; offline?: boolean }) => {
      const config = await loadCommandConfig(options.config);
      const report = await stateReport(config, { offline: options.offline ?? false });
      if (options.json) console.log(JSON.stringify(report, null, 2));
      else printReport(report);
      const code = showExitCode(report);
      if (code !== 0) throw new ReportedFailure("Not running, or not every plugin active", code);
    });
  state.command("failed")
    .description("List the events plugins skipped after failing (stopOnError false)")
    .option(...configOption)
    .option("--json", "print JSON instead of a table")
    .addHelpText(
      "after",
      "\nThe most recent 100 per plugin. Deliver them again with sgevents plugins retry-failed.\n\nExamples:\n  sgevents state failed\n  sgevents state failed --json | jq '.[] | select(.plugin == \"notify\") | .eventId'",
    )
    .action(async (options: { config?: string; json?: boolean }) => {
      const config = await loadCommandConfig(options.config);
      const rows = await failedEvents(config);
      if (options.json) console.log(JSON.stringify(rows, null, 2));
      else if (rows.length === 0) console.log("No failed events.");
      else {
        console.log(formatTable(
          ["PLUGIN", "EVENT", "CALLBACK", "ATTEMPTS", "AT", "ERROR"],
          rows.map((row) => [
            row.plugin,
            row.eventId,
            row.callback,
            row.attempts || null,
            row.at,
            row.error.split("\n")[0]?.slice(0, 100) ?? null,
          ]),
        ));
      }
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

/** One failed event in `state failed`. */
export interface FailedRow extends FailedEventRecord {
  readonly plugin: string;
}

/**
 * Every plugin's failed events, oldest first.
 *
 * @param config The config.
 * @returns The rows, by plugin then time.
 */
export async function failedEvents(config: Config): Promise<FailedRow[]> {
  const { doc } = await readState(config);
  const rows: FailedRow[] = [];
  for (const [plugin, state] of doc?.plugins ?? []) {
    for (const record of state.failed) rows.push({ plugin, ...record });
  }
  return rows;
}

/**
 * The exit code of `state show`: 0 only when a daemon holds the state file and every
 * plugin that has a file is active.
 *
 * @param report The report.
 * @returns 0, {@link exitNotRunning} or {@link exitNotActive}.
 */
export function showExitCode(report: Awaited<ReturnType<typeof stateReport>>): number {
  if (report.daemon === null) return exitNotRunning;
  if (report.plugins.some((row) => !row.orphaned && row.status !== "active")) return exitNotActive;
  return 0;
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
  const lagSeconds = new Map<number, number | null>();
  if (!options.offline && doc && doc.plugins.size > 0) {
    await using client = daemonClient(config, { retries: 0 });
    const source = new ShotGridEventSource(client);
    newestId = await source.newestId(AbortSignal.timeout(10_000)).catch(() => null);
    // One small request per distinct cursor: the time of the next event after it.
    const now = Date.now();
    const cursors = new Set([...doc.plugins.values()].map((p) => p.cursor ?? 0));
    await Promise.all([...cursors].map(async (cursor) => {
      const next = await source.after(cursor, 1, AbortSignal.timeout(10_000))
        .then((events) => events[0] ?? null, () => undefined);
      const created = next ? Date.parse(next.created_at) : NaN;
      lagSeconds.set(
        cursor,
        next === undefined
          ? null
          : next === null
          ? 0
          : Number.isFinite(created)
          ? Math.max(0, Math.round((now - created) / 1000))
          : null,
      );
    }));
  }
  const plugins = [...(doc?.plugins ?? new Map<string, PluginState>())].map(([name, p]) => {
    const deadlines = [...p.backlog.values()].filter((d): d is number => d !== null);
    return {
      plugin: name,
      status: p.status,
      orphaned: !present.has(name),
      cursor: p.cursor,
      lag: newestId !== null && p.cursor !== null ? Math.max(0, newestId - p.cursor) : null,
      lagSeconds: lagSeconds.get(p.cursor ?? 0) ?? null,
      backlog: p.backlog.size,
      oldestDeadline: deadlines.length ? new Date(Math.min(...deadlines)).toISOString() : null,
      processed: p.processed,
      failed: p.failed.length,
      pausedAt: p.paused?.eventId ?? null,
      haltedAtSiteNewest: p.halted?.siteNewest ?? null,
      pausedByOperator: p.paused?.byOperator === true,
      quarantine: p.quarantine?.reason ?? null,
      replay: p.replay,
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
      "LAG S",
      "BACKLOG",
      "NEXT DEADLINE",
      "PROCESSED",
      "FAILED",
      "REPLAY",
      "LAST ERROR",
    ],
    report.plugins.map((row) => [
      row.plugin,
      row.orphaned
        ? `${row.status} (orphaned)`
        : row.haltedAtSiteNewest !== null
        ? `halted: site back at ${row.haltedAtSiteNewest}`
        : row.pausedByOperator
        ? "paused by operator"
        : row.pausedAt !== null
        ? `paused at ${row.pausedAt}`
        : row.quarantine !== null
        ? `${row.status} (quarantined)`
        : row.status,
      row.cursor,
      row.lag,
      row.lagSeconds,
      row.backlog,
      row.oldestDeadline,
      row.processed,
      row.failed,
      row.replay === null
        ? null
        : `${
          row.replay.ids ? "retry " : ""
        }${row.replay.from}-${row.replay.to}, next ${row.replay.next}`,
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
