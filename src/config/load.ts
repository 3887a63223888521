/**
 * Loading the YAML config: read, parse, substitute `${VAR}`, validate, resolve.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { parseDocument } from "yaml";
import { redact } from "../log/redact.ts";
import { type Env, substituteEnv } from "./env.ts";
import { ConfigError } from "./errors.ts";
import { isLoopback, parseBoolean, parseListen } from "./fields.ts";
import { formatPath, issueLines } from "./issues.ts";
import { configSchema, type ParsedConfig } from "./schema.ts";
import type { Config, PluginPermissions, PluginSettings } from "./types.ts";

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** The file name for messages; relative paths in the config start at its folder. */
  readonly file: string;
  /** Variables for `${VAR}`; the process environment by default. */
  readonly env?: Env;
  /** Reads `script_key_file` and `password_file`; `Deno.readTextFileSync` by default. */
  readonly readFile?: (path: string) => string;
}

/**
 * Resolves which config file to use: the `-c/--config` flag, else `SGEVENTS_CONFIG`,
 * else `config.yaml` in the current folder.
 *
 * @param flag The value of `-c/--config`, if given.
 * @param env The environment; the process environment by default.
 * @returns The config file path as the user gave it.
 */
export function resolveConfigPath(flag: string | undefined, env?: Env): string {
  if (flag !== undefined && flag !== "") return flag;
  const fromEnv = (env ?? Deno.env.toObject())["SGEVENTS_CONFIG"];
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : "config.yaml";
}

/**
 * Reads and validates a config file.
 *
 * @param path The config file.
 * @param options `env` for `${VAR}` substitution (the process environment by default).
 * @returns The resolved config.
 * @throws {ConfigError} When the file cannot be read or has problems (all of them listed).
 */
export async function loadConfig(path: string, options?: { readonly env?: Env }): Promise<Config> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file; give one with -c/--config or SGEVENTS_CONFIG"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new ConfigError(path, [`${path}: cannot read the config file: ${reason}`], {
      cause: error,
    });
  }
  return parseConfig(decodeUtf8(path, bytes), { file: path, ...options });
}

/**
 * Decode a config file as UTF-8, strictly: a file in another encoding (Latin-1, UTF-16) is
 * refused where its first bad byte is, instead of being read with U+FFFD in its values.
 */
function decodeUtf8(path: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Found again leniently: the text before the first U+FFFD that was not in the file.
    const text = new TextDecoder("utf-8").decode(bytes);
    const encoder = new TextEncoder();
    let at = text.indexOf("\uFFFD");
    let offset = encoder.encode(text.slice(0, at)).length;
    while (
      at >= 0 && bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd
    ) {
      at = text.indexOf("\uFFFD", at + 1);
      offset = encoder.encode(text.slice(0, at)).length;
    }
    const before = text.slice(0, at).split("\n");
    const line = before.length;
    const column = (before.at(-1) ?? "").length + 1;
    throw new ConfigError(path, [
      `${path}: byte ${offset} (line ${line} column ${column}): the file is not valid UTF-8 (byte 0x${
        (bytes[offset] ?? 0).toString(16).padStart(2, "0")
      }); save it as UTF-8`,
    ]);
  }
}

/**
 * Parses and validates config text.
 *
 * @param text The YAML text.
 * @param options The file name (for messages and relative paths), environment and file reader.
 * @returns The resolved config.
 * @throws {ConfigError} With every problem found, one line each.
 */
export function parseConfig(text: string, options: ParseConfigOptions): Config {
  const file = options.file;
  const fail = (lines: readonly string[]): never => {
    throw new ConfigError(file, lines.map((line) => redact(`${file}: ${line}`)));
  };
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    fail(document.errors.map((error) => {
      const position = error.linePos?.[0];
      const at = position === undefined ? "" : `line ${position.line} column ${position.col}: `;
      const reason = (error.message.split("\n")[0] ?? "").replace(
        / at line \d+, column \d+:?$/,
        "",
      );
      return `${at}cannot parse YAML: ${reason}`;
    }));
  }
  let raw: unknown;
  try {
    raw = document.toJS();
  } catch (error) {
    // yaml refuses alias bombs ("Excessive alias count") when building values.
    const reason = error instanceof Error ? error.message : String(error);
    fail([`cannot read YAML: ${reason}; expand the aliases (*name) or use fewer`]);
  }
  if (raw === null || raw === undefined) {
    fail(["the file is empty; expected a mapping with at least shotgrid and plugins sections"]);
  }
  if (typeof raw !== "object" || Array.isArray(raw)) {
    fail([
      "the file is not a mapping; expected sections shotgrid, daemon, plugins, logging, email, http",
    ]);
  }
  const substituted = substituteEnv(raw, options.env ?? Deno.env.toObject());
  const problems = substituted.problems.map((problem) =>
    `${formatPath(problem.path)}: ${problem.message}`
  );
  const tree = substituted.value as Record<string, unknown>;
  const { schema, knownKeys } = configSchema({
    baseDir: dirname(resolve(file)),
    readFile: options.readFile ?? Deno.readTextFileSync,
  });
  const result = schema.safeParse(tree);
  if (!result.success) problems.push(...issueLines(result.error.issues, tree, knownKeys));
  problems.push(...crossChecks(tree));
  if (problems.length > 0 || !result.success) fail(problems);
  return toConfig(file, result.data as ParsedConfig);
}

function section(tree: Record<string, unknown>, name: string): Record<string, unknown> {
  const value = tree[name];
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

const present = (mapping: Record<string, unknown>, key: string) =>
  mapping[key] !== undefined && mapping[key] !== null;

/** Checks that involve more than one key, on the raw tree so they add to the zod problems. */
/** A plugin in two ordered groups, or groups beside `order: strict`, is refused. */
function orderChecks(plugins: Record<string, unknown>): string[] {
  const groups = plugins["ordered_groups"];
  if (!Array.isArray(groups) || groups.length === 0) return [];
  if (plugins["order"] === "strict") {
    return [
      "plugins.ordered_groups: set with order: strict, which already orders every plugin; keep one",
    ];
  }
  const problems: string[] = [];
  const seen = new Map<string, number>();
  groups.forEach((group, index) => {
    if (!Array.isArray(group)) return;
    for (const name of new Set(group)) {
      const first = seen.get(name);
      if (first === undefined) seen.set(name, index);
      else {
        problems.push(
          `plugins.ordered_groups[${index}]: plugin ${
            JSON.stringify(name)
          } is already in group [${first}]; a plugin can be in one group only`,
        );
      }
    }
  });
  return problems;
}

function crossChecks(tree: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const shotgrid = section(tree, "shotgrid");
  if (present(shotgrid, "script_key") && present(shotgrid, "script_key_file")) {
    problems.push("shotgrid: script_key and script_key_file are both set; keep one");
  } else if (!present(shotgrid, "script_key") && !present(shotgrid, "script_key_file")) {
    problems.push("shotgrid.script_key: missing; set script_key or script_key_file");
  }
  const daemon = section(tree, "daemon");
  if (present(daemon, "state_file") && present(daemon, "state_url")) {
    problems.push(
      "daemon: state_file and state_url are both set; keep one (state_url: PostgreSQL, state_file: a JSON file)",
    );
  }
  if (present(daemon, "state_password_file") && !present(daemon, "state_url")) {
    problems.push(
      "daemon.state_password_file: set without daemon.state_url; remove it or add the URL",
    );
  }
  if (
    present(daemon, "state_password_file") && typeof daemon["state_url"] === "string" &&
    URL.canParse(daemon["state_url"]) && new URL(daemon["state_url"]).password !== ""
  ) {
    problems.push(
      "daemon: state_url has a password and state_password_file is set too; keep one",
    );
  }
  const email = section(tree, "email");
  if (present(email, "password") && present(email, "password_file")) {
    problems.push("email: password and password_file are both set; keep one");
  }
  const to = email["to"];
  const noRecipients = to === undefined || to === null || to === "" ||
    (Array.isArray(to) && to.length === 0);
  if (parseBoolean(email["enabled"]) === true && noRecipients) {
    problems.push("email.to: missing; expected at least one address when email.enabled is true");
  }
  problems.push(...orderChecks(section(tree, "plugins")));
  const logging = section(tree, "logging");
  if (parseBoolean(logging["timing"]) === true && !present(logging, "dir")) {
    problems.push("logging.timing: true needs logging.dir, where timing.log is written");
  }
  const http = tree["http"];
  if (typeof http === "object" && http !== null && !Array.isArray(http)) {
    const mapping = http as Record<string, unknown>;
    const listen = mapping["listen"] ?? "127.0.0.1:8422";
    const address = parseListen(listen);
    if (address && !isLoopback(address.hostname) && !present(mapping, "token_file")) {
      problems.push(
        `http.token_file: missing; expected a token file when http.listen ${
          JSON.stringify(listen)
        } is not a loopback address`,
      );
    }
  }
  return problems;
}

function permissionsOf(parsed: Record<string, unknown> | null): PluginPermissions | null {
  if (parsed === null) return null;
  return Object.fromEntries(
    Object.entries(parsed).filter(([, value]) => value !== undefined),
  ) as PluginPermissions;
}

function toConfig(source: string, parsed: ParsedConfig): Config {
  const { shotgrid, daemon, plugins, logging, email, http } = parsed;
  const settings: Record<string, PluginSettings> = {};
  for (const [name, entry] of Object.entries(plugins.settings ?? {})) {
    settings[name] = {
      enabled: entry.enabled,
      isolate: entry.isolate,
      permissions: permissionsOf(entry.permissions),
      callbackTimeoutMs: entry.callback_timeout,
      retries: entry.retries,
      startAt: entry.start_at,
      projects: entry.projects.length > 0 ? entry.projects : null,
    };
  }
  const levels: Record<string, Config["logging"]["level"]> = { ...logging.levels };
  return {
    source,
    shotgrid: {
      url: shotgrid.url,
      scriptName: shotgrid.script_name,
      scriptKey: shotgrid.script_key ?? shotgrid.script_key_file ?? "",
      proxy: shotgrid.proxy,
      useSessionUuid: shotgrid.use_session_uuid,
      timeoutMs: shotgrid.timeout,
    },
    daemon: {
      stateFile: daemon.state_file,
      stateUrl: daemon.state_url,
      statePassword: daemon.state_password_file,
      name: daemon.name,
      leaseTimeoutMs: daemon.lease_timeout,
      fetchIntervalMs: daemon.fetch_interval,
      maxEventBatchSize: daemon.max_event_batch_size,
      backlogTimeoutMs: daemon.backlog_timeout,
      startAt: daemon.start_at,
      maxConnRetries: daemon.max_conn_retries,
      connRetrySleepMs: daemon.conn_retry_sleep,
      progressIntervalMs: daemon.progress_interval,
      shutdownTimeoutMs: daemon.shutdown_timeout,
      ignoreScriptUsers: daemon.ignore_script_users,
      narrowReads: daemon.narrow_reads,
      readAhead: daemon.read_ahead,
    },
    plugins: {
      paths: plugins.paths,
      callbackTimeoutMs: plugins.callback_timeout,
      retries: plugins.retries,
      rescanIntervalMs: plugins.rescan_interval,
      workers: plugins.workers,
      settings,
      order: plugins.order,
      orderedGroups: plugins.ordered_groups,
    },
    logging: {
      level: logging.level,
      dir: logging.dir,
      perPlugin: logging.per_plugin,
      timing: logging.timing,
      format: logging.format,
      levels,
      maxFileBytes: logging.max_file_size,
      maxFiles: logging.max_files,
    },
    email: {
      enabled: email.enabled,
      server: email.server,
      port: email.port,
      // Credentials never travel in clear text by default; a plain local relay needs none.
      security: email.security ?? (email.username === null ? "none" : "starttls"),
      username: email.username,
      password: email.password ?? email.password_file,
      from: email.from,
      to: email.to,
      subject: email.subject,
      rateLimit: email.rate_limit,
      rateWindowMs: email.rate_window,
    },
    http: http === null ? null : {
      listen: `${
        http.listen.hostname.includes(":") ? `[${http.listen.hostname}]` : http.listen.hostname
      }:${http.listen.port}`,
      hostname: http.listen.hostname,
      port: http.listen.port,
      token: http.token_file,
      webhookSecret: http.webhook_secret_file,
    },
  };
}
