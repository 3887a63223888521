/**
 * The plugin API: what a plugin file imports (as types) to register its callbacks.
 *
 * A plugin is a `.ts` (or `.js`) file in one of the configured plugin folders that
 * exports `registerCallbacks(reg)`. Ported from the Python shotgunEvents daemon, the
 * names are the ones its users know.
 *
 * @example A plugin that logs status changes on Tasks
 * ```ts
 * // In a plugin folder: `sgevents plugins init DIR` maps "sgevents/plugin" to these types.
 * import type { Callback, Registrar } from "sgevents/plugin";
 *
 * export function registerCallbacks(reg: Registrar): void {
 *   reg.registerCallback("status_logger", Deno.env.get("SG_KEY") ?? "sim-key", onStatus, {
 *     Shotgun_Task_Change: ["sg_status_list"],
 *   });
 * }
 *
 * const onStatus: Callback = (sg, logger, event) => {
 *   logger.info("Task %d is now %s", event.entity?.id, event.meta?.new_value);
 * };
 * ```
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";
import type { ShotGridClient } from "../shotgrid/client.ts";

export type {
  EntityLink,
  Filter,
  FilterGroup,
  FlatRecord,
  JsonValue,
  ShotGridEvent,
} from "../shotgrid/types.ts";
export type { ShotGridClient } from "../shotgrid/client.ts";
export type { ShotGridError } from "../shotgrid/errors.ts";

/**
 * The logger handed to plugins (`logger` in callbacks, `reg.logger`), writing to the
 * plugin's own log. Python's method names and `%`-formatting work as in shotgunEvents.
 *
 * - `logger.info("Shot %s is now %s", id, status)`: Python's `%` formatting
 *   (`%s %r %d %i %f %%`, width and precision) when extra arguments are given.
 * - `logger.info("Shot {id} is now {status}", { id, status })`: LogTape properties, when the
 *   only extra argument is a plain object and the message has no `%` directive.
 * - `logger.exception("Update failed: %s", error)`: at error level, with the stack of the
 *   last `Error` argument (JavaScript has no "current exception": pass the caught error).
 *
 * @example
 * ```ts ignore
 * try {
 *   await sg.update("Shot", id, { sg_status_list: "ip" });
 *   logger.info("Shot %d is now %r", id, "ip");
 * } catch (error) {
 *   logger.exception("Cannot update Shot %d", id, error);
 * }
 * ```
 */
export interface PluginLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  /** Python's name for {@link PluginLogger.warn}. */
  warning(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
  /** Python's `critical` (LogTape's `fatal` level). */
  critical(message: string, ...args: unknown[]): void;
  fatal(message: string, ...args: unknown[]): void;
  /** Error level, with the stack of the last `Error` among `args`. */
  exception(message: string, ...args: unknown[]): void;
}

/**
 * Which events a callback wants, as in the Python daemon: keys are event types
 * (`"*"` for any, or a pattern such as `"Shotgun_*_Change"`), values are attribute
 * names (`null`, `"*"` or a list containing `"*"` for any). An empty or missing
 * object matches every event. A string value is one exact attribute name.
 */
export type MatchEvents = Readonly<Record<string, string | readonly string[] | null>>;

/** What a callback learns about the delivery beyond the event itself. */
export interface CallbackContext {
  /** Aborts when the callback times out or the daemon shuts down. */
  readonly signal: AbortSignal;
  /** 1 for the first try, 2 for the first retry, ... */
  readonly attempt: number;
  /** The plugin's name (its file name without extension). */
  readonly plugin: string;
}

/**
 * A callback: called once per matching event, in id order within its plugin.
 *
 * @param sg A ShotGrid client with this callback's script credentials.
 * @param logger The plugin's logger.
 * @param event The flat EventLogEntry; frozen, so one plugin cannot change what another sees.
 * @param args The `args` given at registration, shared across calls (the place for shared state).
 * @param ctx Abort signal and attempt number.
 */
export type Callback<A = unknown> = (
  sg: ShotGridClient,
  logger: PluginLogger,
  event: ShotGridEvent,
  args: A,
  ctx: CallbackContext,
) => void | Promise<void>;

/** The options form of `registerCallback`. */
export interface CallbackOptions<A = unknown> {
  readonly scriptName: string;
  readonly scriptKey: string;
  readonly callback: Callback<A>;
  readonly matchEvents?: MatchEvents | null;
  readonly args?: A;
  /** Pause the plugin at a failing event (default `true`); `false` records it and goes on. */
  readonly stopOnError?: boolean;
  /** Overrides `plugins.callback_timeout` for this callback, in ms. */
  readonly timeoutMs?: number;
}

/** Handed to `registerCallbacks(reg)`. */
export interface Registrar {
  /**
   * Register a callback, as in the Python daemon.
   *
   * @throws {TypeError} When a name, key, callback or matchEvents shape is invalid.
   */
  registerCallback<A = unknown>(
    scriptName: string,
    scriptKey: string,
    callback: Callback<A>,
    matchEvents?: MatchEvents | null,
    args?: A,
    stopOnError?: boolean,
  ): void;
  /** Register a callback with an options object. */
  registerCallback<A = unknown>(options: CallbackOptions<A>): void;
  /**
   * Who is mailed this plugin's errors: addresses, `false` for nobody, `true` for the
   * configured defaults.
   */
  setEmails(...addresses: string[] | [boolean]): void;
  /** The plugin's logger (category `plugin.<name>`). */
  readonly logger: PluginLogger;
  /** The same logger, for code written against the Python API. */
  getLogger(): PluginLogger;
}

/** What a plugin module must export. */
export type RegisterCallbacks = (reg: Registrar) => void | Promise<void>;
