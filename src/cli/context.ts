/**
 * What most subcommands start with: the config file (`-c/--config`, else
 * `SGEVENTS_CONFIG`, else `./config.yaml`), loaded and validated.
 *
 * @module
 */
import { loadConfig, resolveConfigPath } from "../config/load.ts";
import type { Config } from "../config/types.ts";
import { ShotGridClient } from "../shotgrid/client.ts";

/** The `-c/--config` option's flags and description, shared by every subcommand. */
export const configOption = [
  "-c, --config <file>",
  "config file (default: $SGEVENTS_CONFIG, else ./config.yaml)",
] as const;

/**
 * Load the config named by the option or environment.
 *
 * @param flag The `--config` value.
 * @returns The validated config.
 * @throws {ConfigError} When it cannot be used.
 */
export function loadCommandConfig(flag: string | undefined): Promise<Config> {
  return loadConfig(resolveConfigPath(flag));
}

/**
 * A client with the daemon's own credentials.
 *
 * @param config The config.
 * @param options Retries (the daemon's recovery loop wants few).
 * @returns A new client; close it.
 */
export function daemonClient(
  config: Config,
  options: { retries?: number; fetch?: typeof fetch } = {},
): ShotGridClient {
  return new ShotGridClient({
    url: config.shotgrid.url,
    scriptName: config.shotgrid.scriptName,
    scriptKey: config.shotgrid.scriptKey,
    proxy: config.shotgrid.proxy,
    timeoutMs: config.shotgrid.timeoutMs,
    retries: options.retries ?? 1,
    userAgent: "sgevents",
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
