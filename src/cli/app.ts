/**
 * The `sgevents` command line: one program, a file per subcommand.
 *
 * @module
 */
import { Command } from "commander";
import { daemonCommand } from "./daemon.ts";
import { dispatchCommand } from "./dispatch.ts";
import { migrateCommand } from "./migrate.ts";
import { pluginsCommand } from "./plugins.ts";
import { replayCommand } from "./replay.ts";
import { simCommand } from "./sim.ts";
import { stateCommand } from "./state.ts";
import { validateCommand } from "./validate.ts";
import { version, versionCommand } from "./version.ts";

/**
 * Build the program. Errors (usage included) are thrown, not exited on, so that
 * main.ts maps every one of them to an exit code in one place.
 *
 * @returns The root command.
 */
export function createProgram(): Command {
  const program = new Command("sgevents")
    .description(
      "ShotGrid event daemon: polls a site's EventLogEntry stream and hands each event to your plugins",
    )
    .version(version, "-V, --version", "print the version")
    .showSuggestionAfterError(true)
    .addHelpText(
      "after",
      `
Examples:
  sgevents sim --preload 1000              # a local ShotGrid-compatible site to try things on
  sgevents daemon -c config.yaml           # run the daemon
  sgevents state show                      # cursors, lag and backlogs per plugin
  sgevents plugins check plugins/notify.ts # load one plugin and report
  sgevents dispatch plugins/notify.ts --event event.json

Exit codes: 0 ok, 1 failure, 2 usage or configuration error (state show: 3 daemon not
running, 4 a plugin paused or halted).`,
    );
  for (
    const command of [
      daemonCommand(),
      stateCommand(),
      pluginsCommand(),
      replayCommand(),
      dispatchCommand(),
      simCommand(),
      validateCommand(),
      migrateCommand(),
      versionCommand(),
    ]
  ) {
    program.addCommand(command);
  }
  applyToAll(program, (command) => {
    command.exitOverride();
    command.configureOutput({ outputError: (text, write) => write(text) });
  });
  return program;
}

function applyToAll(command: Command, fn: (command: Command) => void): void {
  fn(command);
  for (const sub of command.commands) applyToAll(sub, fn);
}
