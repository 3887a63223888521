/**
 * The `Registrar` handed to a plugin's `registerCallbacks(reg)`: validates every
 * registration up front so that a mistake fails the plugin's load with a clear message
 * instead of failing later on an event.
 *
 * @module
 */
import { compileMatchEvents, type EventMatcher, normalizeMatchEvents } from "./matcher.ts";
import type { NormalizedMatchEvents } from "./matcher.ts";
import type { Callback, CallbackOptions, MatchEvents, PluginLogger, Registrar } from "./mod.ts";

/** One validated registration. */
export interface Registration {
  /** The callback's function name, or `callback#<n>` (1-based) for anonymous ones; unique. */
  readonly name: string;
  readonly scriptName: string;
  /** Secret: stays in the plugin's worker. */
  readonly scriptKey: string;
  readonly callback: Callback<unknown>;
  readonly matchEvents: NormalizedMatchEvents;
  readonly matches: EventMatcher;
  readonly args: unknown;
  readonly stopOnError: boolean;
  /** Per-callback timeout, or `null` for the configured one. */
  readonly timeoutMs: number | null;
}

const optionKeys = new Set([
  "scriptName",
  "scriptKey",
  "callback",
  "matchEvents",
  "args",
  "stopOnError",
  "timeoutMs",
]);

const emailPattern = /^[^\s@]+@[^\s@]+$/;

/**
 * A `Registrar` that records validated registrations; sealed once `registerCallbacks`
 * has returned, so a callback registered later (from a timer) fails loudly.
 */
export class PluginRegistrar implements Registrar {
  readonly #plugin: string;
  readonly #registrations: Registration[] = [];
  #emails: readonly string[] | boolean = true;
  #sealed = false;
  /** The plugin's logger. */
  readonly logger: PluginLogger;

  /**
   * @param plugin The plugin's name, for messages.
   * @param logger The logger plugins get as `reg.logger`.
   */
  constructor(plugin: string, logger: PluginLogger) {
    this.#plugin = plugin;
    this.logger = logger;
  }

  /** The registrations so far, in order. */
  get registrations(): readonly Registration[] {
    return this.#registrations;
  }

  /** Recipients set by `setEmails` (`true`, the default, means the configured ones). */
  get emails(): readonly string[] | boolean {
    return this.#emails;
  }

  /** Refuse further registrations. */
  seal(): void {
    this.#sealed = true;
  }

  /**
   * Register a callback (positional form as in the Python daemon, or one options object).
   *
   * @throws {TypeError} When a name, key, callback, matchEvents or timeout is invalid.
   */
  registerCallback<A = unknown>(
    scriptName: string,
    scriptKey: string,
    callback: Callback<A>,
    matchEvents?: MatchEvents | null,
    args?: A,
    stopOnError?: boolean,
  ): void;
  registerCallback<A = unknown>(options: CallbackOptions<A>): void;
  registerCallback(...params: unknown[]): void {
    this.#checkOpen("registerCallback");
    let options: Record<string, unknown>;
    if (params.length === 1 && typeof params[0] === "object" && params[0] !== null) {
      options = params[0] as Record<string, unknown>;
      for (const key of Object.keys(options)) {
        if (!optionKeys.has(key)) {
          throw new TypeError(
            `Invalid registerCallback option "${key}": expected one of ${
              [...optionKeys].join(", ")
            }`,
          );
        }
      }
    } else {
      if (params.length > 6) {
        throw new TypeError(
          `Invalid registerCallback call: expected at most 6 arguments, got ${params.length}`,
        );
      }
      const [scriptName, scriptKey, callback, matchEvents, args, stopOnError] = params;
      options = { scriptName, scriptKey, callback, matchEvents, args, stopOnError };
    }
    // `{ callback: (...) => {} }` names the arrow "callback": treat it as anonymous.
    const inferred = params.length === 1 &&
      (options.callback as { name?: unknown })?.name === "callback";
    this.#registrations.push(this.#validate(options, inferred));
  }

  /**
   * Who is mailed this plugin's errors.
   *
   * @param addresses Addresses, or a single `false` (nobody) / `true` (the configured ones).
   * @throws {TypeError} When mixing booleans and addresses or an address is malformed.
   */
  setEmails(...addresses: string[] | [boolean]): void {
    this.#checkOpen("setEmails");
    if (addresses.length === 1 && typeof addresses[0] === "boolean") {
      this.#emails = addresses[0];
      return;
    }
    if (addresses.length === 0) {
      throw new TypeError(
        "Invalid setEmails call: expected addresses, or false for nobody, or true for the configured recipients",
      );
    }
    for (const address of addresses) {
      if (typeof address !== "string" || !emailPattern.test(address)) {
        throw new TypeError(`Invalid email address ${JSON.stringify(address) ?? String(address)}`);
      }
    }
    this.#emails = [...addresses as string[]];
  }

  /** The plugin's logger (same as {@link logger}). */
  getLogger(): PluginLogger {
    return this.logger;
  }

  #checkOpen(method: string): void {
    if (this.#sealed) {
      throw new TypeError(
        `Cannot call ${method} for plugin "${this.#plugin}" after registerCallbacks has returned`,
      );
    }
  }

  #validate(options: Record<string, unknown>, anonymous: boolean): Registration {
    const { scriptName, scriptKey, callback, matchEvents, args, stopOnError, timeoutMs } = options;
    if (typeof scriptName !== "string" || scriptName.trim() === "") {
      throw new TypeError(
        `Invalid scriptName ${
          JSON.stringify(scriptName) ?? String(scriptName)
        }: expected the ShotGrid script name`,
      );
    }
    if (typeof scriptKey !== "string" || scriptKey === "") {
      throw new TypeError(
        `Invalid scriptKey for script "${scriptName}": expected a non-empty string`,
      );
    }
    if (typeof callback !== "function") {
      throw new TypeError(
        `Invalid callback for script "${scriptName}": expected a function, got ${typeof callback}`,
      );
    }
    if (stopOnError !== undefined && typeof stopOnError !== "boolean") {
      throw new TypeError(`Invalid stopOnError: expected a boolean, got ${typeof stopOnError}`);
    }
    if (
      timeoutMs !== undefined &&
      (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs <= 0)
    ) {
      throw new TypeError(`Invalid timeoutMs ${String(timeoutMs)}: expected a positive number`);
    }
    const normalized = normalizeMatchEvents(matchEvents);
    return {
      name: this.#uniqueName(anonymous ? "" : callback.name),
      scriptName,
      scriptKey,
      callback: callback as Callback<unknown>,
      matchEvents: normalized,
      matches: compileMatchEvents(normalized),
      args,
      stopOnError: stopOnError ?? true,
      timeoutMs: timeoutMs ?? null,
    };
  }

  #uniqueName(functionName: string): string {
    const base = functionName || `callback#${this.#registrations.length + 1}`;
    const taken = new Set(this.#registrations.map((r) => r.name));
    if (!taken.has(base)) return base;
    let n = 2;
    while (taken.has(`${base}#${n}`)) n++;
    return `${base}#${n}`;
  }
}
