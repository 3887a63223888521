/**
 * The daemon's configuration after loading: defaults applied, environment substituted,
 * durations in milliseconds, relative paths resolved against the config file's folder.
 * The YAML keys are snake_case (`fetch_interval`); these fields are their camelCase form.
 *
 * @module
 */

/** Where to start when a plugin has no cursor yet. */
export type StartAt = "latest" | "oldest" | number;

/** Deno permissions for one plugin's Worker (`deno.permissions` of the Worker options). */
export interface PluginPermissions {
  readonly net?: boolean | readonly string[];
  readonly read?: boolean | readonly string[];
  readonly write?: boolean | readonly string[];
  readonly env?: boolean | readonly string[];
  readonly run?: boolean | readonly string[];
}

/** The `shotgrid` section. */
export interface ShotGridConfig {
  readonly url: string;
  readonly scriptName: string;
  /** Secret: never log it. From `script_key` or the file named by `script_key_file`. */
  readonly scriptKey: string;
  readonly proxy: string | null;
  readonly useSessionUuid: boolean;
  /** Per-request timeout. */
  readonly timeoutMs: number;
}

/** The `daemon` section. */
export interface DaemonConfig {
  /** The JSON state file (unused when `stateUrl` is set). */
  readonly stateFile: string;
  /**
   * `state_url`: the state in PostgreSQL (several daemons, one leader), or null for the file.
   * Secret when it carries a password: never log it whole (see state/postgres_url.ts).
   */
  readonly stateUrl: string | null;
  /** Secret: the database password from `state_password_file`, or null. */
  readonly statePassword: string | null;
  /** Daemons with the same name and `state_url` share one state and elect one leader. */
  readonly name: string;
  /** A leader that cannot confirm its lock for this long stops delivering. */
  readonly leaseTimeoutMs: number;
  readonly fetchIntervalMs: number;
  readonly maxEventBatchSize: number;
  readonly backlogTimeoutMs: number;
  readonly startAt: StartAt;
  readonly maxConnRetries: number;
  readonly connRetrySleepMs: number;
  /** How often catch-up progress is logged. */
  readonly progressIntervalMs: number;
  /** How long SIGTERM waits for callbacks in flight before giving up on them. */
  readonly shutdownTimeoutMs: number;
  /** Events caused by these script (ApiUser) names are not delivered (loop prevention). */
  readonly ignoreScriptUsers: readonly string[];
  /**
   * A lane catching up asks the site only for the event types and projects the plugins
   * want, up to the settled horizon (see engine/narrowing.ts).
   */
  readonly narrowReads: boolean;
  /**
   * Range requests a lane behind the head keeps in flight at once (1: one page after
   * another); see engine/read_ahead.ts.
   */
  readonly readAhead: number;
}

/** Per-plugin settings under `plugins.settings.<name>`. */
export interface PluginSettings {
  readonly enabled: boolean;
  /** Run in a Worker of its own, not a shared one (absent: false). */
  readonly isolate?: boolean;
  readonly permissions: PluginPermissions | null;
  readonly callbackTimeoutMs: number | null;
  readonly retries: number | null;
  readonly startAt: StartAt | null;
  /** Only events of these projects reach the plugin; null: every project. */
  readonly projects: readonly number[] | null;
}

/** The `plugins` section. */
export interface PluginsConfig {
  readonly paths: readonly string[];
  readonly callbackTimeoutMs: number;
  readonly retries: number;
  /** Fallback rescan for shares where file watching misses changes. */
  readonly rescanIntervalMs: number;
  /** Shared plugin Workers at most; null/absent: one per 16 plugins, at most one per core (see worker_pool.ts). */
  readonly workers?: number | null;
  readonly settings: Readonly<Record<string, PluginSettings>>;
  /**
   * `per_plugin` (default): independent lanes; `strict`: every event through every plugin
   * in order before the next (one ordered group of all; see engine/ordered_group.ts).
   */
  readonly order?: "per_plugin" | "strict";
  /** Named plugins that advance together in order; the rest keep independent lanes. */
  readonly orderedGroups?: readonly (readonly string[])[];
}

/** A LogTape level name. */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/** The `logging` section. */
export interface LoggingConfig {
  readonly level: LogLevel;
  /** Folder for `sgevents.log` and the per-plugin logs; `null` logs to the console only. */
  readonly dir: string | null;
  readonly perPlugin: boolean;
  readonly timing: boolean;
  /** Console format: `auto` is pretty on a TTY, plain text otherwise. */
  readonly format: "auto" | "pretty" | "plain" | "json";
  /** Levels per category, e.g. `{ "sgevents.engine": "debug" }`. */
  readonly levels: Readonly<Record<string, LogLevel>>;
  readonly maxFileBytes: number;
  readonly maxFiles: number;
}

/** The `email` section. */
export interface EmailConfig {
  readonly enabled: boolean;
  readonly server: string;
  readonly port: number;
  /** `starttls` upgrades a plain connection, `tls` connects over TLS, `none` neither. */
  readonly security: "starttls" | "tls" | "none";
  readonly username: string | null;
  /** Secret: never log it. */
  readonly password: string | null;
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
  /** At most this many mails per `rateWindowMs`; the rest are counted and summarised. */
  readonly rateLimit: number;
  readonly rateWindowMs: number;
}

/** The `http` section: the operator's HTTP server (health, metrics, API, page, webhook). */
export interface HttpConfig {
  /** `listen` as written, e.g. `127.0.0.1:8422` (port 0: any free port). */
  readonly listen: string;
  readonly hostname: string;
  readonly port: number;
  /** Secret: never log it. Needed by every POST; from `token_file`. */
  readonly token: string | null;
  /** Secret: never log it. Checks `X-SG-SIGNATURE` on `/webhook`; from `webhook_secret_file`. */
  readonly webhookSecret: string | null;
}

/** The whole configuration. */
export interface Config {
  /** The file it was read from, for messages. */
  readonly source: string;
  readonly shotgrid: ShotGridConfig;
  readonly daemon: DaemonConfig;
  readonly plugins: PluginsConfig;
  readonly logging: LoggingConfig;
  readonly email: EmailConfig;
  /** Null when the `http` section is absent (no server). */
  readonly http?: HttpConfig | null;
}
