/**
 * Script credentials shared by the example plugins (a helper module: the leading `_`
 * keeps it from being loaded as a plugin itself).
 *
 * Read from the environment, defaulting to the simulator's script (`sgevents` /
 * `sim-key`). A plugin whose Worker is denied `env` permission gets the defaults.
 *
 * @module
 */

function env(name: string, fallback: string): string {
  try {
    return Deno.env.get(name) ?? fallback;
  } catch {
    return fallback; // env access not permitted for this plugin
  }
}

/** The ShotGrid script the example callbacks connect as. */
export const scriptName: string = env("SG_SCRIPT_NAME", "sgevents");
/** Its key (a secret: never log it). */
export const scriptKey: string = env("SG_SCRIPT_KEY", "sim-key");
