/**
 * `sgevents validate`: load the config, report every problem or print a short summary.
 *
 * @module
 */
import { safeUrl } from "../state/safe_url.ts";
import { Command } from "commander";
import { ConfigError } from "../config/errors.ts";
import { pluginFolderProblems } from "../config/folders.ts";
import { loadConfig, resolveConfigPath } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { redactedText } from "../log/redact.ts";
import { configOption } from "./context.ts";

/** A URL with its password, if any, shown as `***`. */
function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== "") parsed.password = redactedText;
  return parsed.toString();
}

/**
 * The config with its secrets (script key, SMTP password, database password) replaced by
 * `***`, safe to print.
 *
 * @param config The resolved config.
 * @returns A copy for display.
 */
export function printableConfig(config: Config): Config {
  return {
    ...config,
    shotgrid: { ...config.shotgrid, scriptKey: redactedText },
    daemon: {
      ...config.daemon,
      stateUrl: config.daemon.stateUrl === null ? null : withoutPassword(config.daemon.stateUrl),
      statePassword: config.daemon.statePassword === null ? null : redactedText,
    },
    email: {
      ...config.email,
      password: config.email.password === null ? null : redactedText,
    },
  };
}

/**
 * The summary `validate` prints under "<file> is valid" (never a secret).
 *
 * @param config The resolved config.
 * @returns One line per item.
 */
export function configSummary(config: Config): string[] {
  const { shotgrid, daemon, plugins, logging, email } = config;
  const logs = logging.dir === null
    ? "console only"
    : `${logging.dir}${logging.perPlugin ? " (a file per plugin)" : ""}` +
      (logging.timing ? ", timing.log on" : "");
  return [
    `  site:         ${shotgrid.url} as script "${shotgrid.scriptName}"` +
    (shotgrid.proxy === null ? "" : ` via proxy ${shotgrid.proxy}`),
    `  plugin paths: ${plugins.paths.join(", ")}`,
    daemon.stateUrl === null
      ? `  state file:   ${daemon.stateFile}`
      : `  state:        ${safeUrl(daemon.stateUrl)} as daemon "${daemon.name}" (lease ${
        daemon.leaseTimeoutMs / 1000
      } s)`,
    `  logs:         ${logs}, level ${logging.level}`,
    `  email:        ${
      email.enabled
        ? `to ${email.to.join(", ")} via ${email.server}:${email.port} (${email.security})`
        : "off"
    }`,
  ];
}

/**
 * The `validate` command: exits 0 with a summary, or throws the {@link ConfigError}
 * (which main.ts maps to exit code 2).
 *
 * @returns The commander command.
 */
export function validateCommand(): Command {
  return new Command("validate")
    .description("Check the config file and print a summary (never the script key)")
    .option(...configOption)
    .option("--json", "print the resolved config as JSON, secrets as ***")
    .addHelpText(
      "after",
      "\nExamples:\n  sgevents validate\n  sgevents validate -c /etc/sgevents/config.yaml --json",
    )
    .action(async (options: { config?: string; json?: boolean }) => {
      const file = resolveConfigPath(options.config);
      const config = await loadConfig(file);
      const problems = await pluginFolderProblems(config);
      if (problems.length > 0) throw new ConfigError(file, problems);
      if (options.json) console.log(JSON.stringify(printableConfig(config), null, 2));
      else console.log([`${file} is valid`, ...configSummary(config)].join("\n"));
    });
}
