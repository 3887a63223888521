/**
 * `sgevents replay <plugin> --from ID --to ID [--dry-run]`: deliver a range of events
 * again to one plugin, beside its normal lane, without moving its cursor (see the
 * replay in engine/lane.ts and state/cursor.ts).
 *
 * @module
 */
import { Command } from "commander";
import type { Config } from "../config/types.ts";
import { ShotGridEventSource } from "../engine/event_source.ts";
import { sourceReplayReader } from "../engine/replay_reader.ts";
import { parseEventId, PluginCursor } from "../state/cursor.ts";
import type { Replay } from "../state/state_file.ts";
import { readState } from "./state_access.ts";
import { configOption, daemonClient, loadCommandConfig } from "./context.ts";
import { UsageError } from "./errors.ts";
import { changeState } from "./state_change.ts";

/**
 * The `replay` command.
 *
 * @returns The commander command.
 */
export function replayCommand(): Command {
  return new Command("replay")
    .description("Deliver a range of events again to one plugin, without moving its cursor")
    .argument("<plugin>", "plugin name")
    .requiredOption("--from <id>", "the first event id")
    .requiredOption("--to <id>", "the last event id (at or below the plugin's cursor)")
    .option("--dry-run", "print the ids that would be replayed (asks the site); change nothing")
    .option(...configOption)
    .addHelpText(
      "after",
      "\nThe events go in id order, one batch between two of the plugin's normal batches; ids the\nsite does not have are passed over. The replay is saved in the state file and resumes after\na restart; state show lists it. One replay per plugin at a time. Works with or without a\nrunning daemon (without one, it starts with the next daemon).\n\nExamples:\n  sgevents replay notify --from 545100 --to 545175 --dry-run\n  sgevents replay notify --from 545100 --to 545175",
    )
    .action(
      async (
        plugin: string,
        options: { from: string; to: string; dryRun?: boolean; config?: string },
      ) => {
        const from = eventIdOption(options.from, "--from");
        const to = eventIdOption(options.to, "--to");
        if (from > to) throw new UsageError(`--from ${from} is above --to ${to}`);
        const config = await loadCommandConfig(options.config);
        if (options.dryRun) {
          const ids = await replayedIds(config, plugin, { from, to });
          console.log(
            ids.length === 0
              ? `Would replay nothing to "${plugin}": the site has no event from ${from} to ${to}`
              : `Would replay ${ids.length} event(s) to "${plugin}": ${formatIds(ids)}`,
          );
          return;
        }
        const how = await changeState(config, { op: "replay", plugins: [plugin], from, to });
        console.log(`Replaying events ${from} to ${to} to "${plugin}" (${how})`);
      },
    );
}

/**
 * The ids a replay of `from..to` would deliver to `plugin` (checked as the daemon would).
 *
 * @param config The config.
 * @param plugin The plugin.
 * @param range The ids.
 * @returns The ids the site has in the range, ascending.
 * @throws {UsageError} When the plugin is unknown or the replay would be refused.
 */
export async function replayedIds(
  config: Config,
  plugin: string,
  range: { readonly from: number; readonly to: number },
): Promise<number[]> {
  const { doc } = await readState(config);
  const state = doc?.plugins.get(plugin);
  if (!state) {
    throw new UsageError(
      `Unknown plugin "${plugin}"; the state file knows: ${
        [...doc?.plugins.keys() ?? []].join(", ") || "none"
      }`,
    );
  }
  // A cursor over a copy read from the file, for its checks only: nothing is saved.
  const cursor = new PluginCursor(plugin, state, {
    clock: Date.now,
    backlogTimeoutMs: config.daemon.backlogTimeoutMs,
  });
  try {
    cursor.checkReplay(range.from, range.to);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  await using client = daemonClient(config);
  const reader = sourceReplayReader(new ShotGridEventSource(client), {
    batchSize: config.daemon.maxEventBatchSize,
    fetch: (_action, fn) => fn(AbortSignal.timeout(60_000)),
  });
  const ids: number[] = [];
  let replay: Replay = { ...range, next: range.from, ids: null, at: "" };
  while (replay.next <= replay.to) {
    const batch = await reader.next(replay, AbortSignal.timeout(60_000));
    ids.push(...batch.events.map((event) => event.id));
    replay = { ...replay, next: batch.scannedTo + 1 };
  }
  return ids;
}

/** `3-7, 9, 11-12`. */
function formatIds(ids: readonly number[]): string {
  const parts: string[] = [];
  let start = ids[0]!;
  let end = start;
  for (const id of [...ids.slice(1), Number.NaN]) {
    if (id === end + 1) {
      end = id;
      continue;
    }
    parts.push(start === end ? `${start}` : `${start}-${end}`);
    start = end = id;
  }
  return parts.join(", ");
}

function eventIdOption(value: string, what: string): number {
  try {
    const id = parseEventId(value, what);
    if (id > 0) return id;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  throw new UsageError(`${what} "${value}" is not an event id; use a whole number from 1`);
}
