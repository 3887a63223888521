/**
 * `sgevents migrate`: turn the Python daemon's `shotgunEventDaemon.conf` (and its pickled
 * state) into a config.yaml and a state file from which each plugin resumes where it was.
 *
 * @module
 */
import { Command } from "commander";

/**
 * The `migrate` command.
 *
 * @returns The commander command.
 */
export function migrateCommand(): Command {
  return new Command("migrate")
    .description(
      "Write config.yaml (and a state file) from the Python daemon's .conf (and pickled .id state)",
    )
    .requiredOption("--conf <file>", "the Python daemon's shotgunEventDaemon.conf")
    .option("--state <file>", "its pickled state ([daemon] eventIdFile) to import")
    .option("--out <dir>", "where to write config.yaml, state.json and secret files", ".")
    .option("--dry-run", "print the mapping and the plugins' positions; write nothing")
    .option("--force", "replace files that already exist in --out")
    .addHelpText(
      "after",
      `
%(VAR)s in the .conf reads the environment as the Python daemon did; a string option that is
one such reference is written as \${VAR}. The script key and SMTP password go to files of
their own (mode 0600) named by script_key_file / password_file, never to config.yaml or
the terminal. Backlog deadlines are read in this host's local time zone (set TZ otherwise).

Examples:
  sgevents migrate --conf /etc/shotgunEventDaemon.conf --state /var/log/shotgunEventDaemon.id --dry-run
  sgevents migrate --conf /etc/shotgunEventDaemon.conf --state /var/log/shotgunEventDaemon.id --out /etc/sgevents`,
    )
    .action(
      async (options: {
        conf: string;
        state?: string;
        out: string;
        dryRun?: boolean;
        force?: boolean;
      }) => {
        // Loaded when run, not when the program is built: other commands (the daemon) skip it.
        const { migrate } = await import("../migrate/migrate.ts");
        await migrate(options.conf, {
          out: options.out,
          dryRun: options.dryRun ?? false,
          force: options.force ?? false,
          ...(options.state !== undefined ? { state: options.state } : {}),
        });
      },
    );
}
