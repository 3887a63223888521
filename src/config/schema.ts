/**
 * The zod schema of the YAML config (snake_case keys, unknown keys refused). Leaves parse
 * their values to the resolved form (milliseconds, bytes, absolute paths); `load.ts` turns
 * the result into the camelCase {@link Config}.
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import * as z from "zod";
import { registerSecret } from "../log/redact.ts";
import {
  checkedLeaf,
  duration,
  durationText,
  integerIn,
  integerText,
  leaf,
  levelText,
  listenText,
  listLeaf,
  oneOf,
  parseAddress,
  parseBoolean,
  parseDaemonName,
  parseLevel,
  parseListen,
  parseNameGroup,
  parsePostgresUrl,
  parseSizeValue,
  parseStartAt,
  parseText,
  parseUrl,
  positiveDurationText,
  startAtText,
  stringList,
} from "./fields.ts";
import type { PluginPermissions } from "./types.ts";

/** What the schema needs from its caller: where relative paths start, how to read files. */
export interface SchemaContext {
  /** The config file's folder. */
  readonly baseDir: string;
  readonly readFile: (path: string) => string;
}

const booleanText = "true or false";
const textText = "a non-empty string";
const pathText = "a path (relative paths start at the config file's folder)";

/** The schema of one load and the keys allowed at each mapping (for unknown-key messages). */
export interface ConfigSchema {
  readonly schema: ReturnType<typeof buildSchema>["schema"];
  /** Allowed keys per mapping path; `*` stands for a plugin name. */
  readonly knownKeys: Readonly<Record<string, readonly string[]>>;
}

/**
 * Builds the schema for one load.
 *
 * @param context Folder and file reader for paths and secret files.
 * @returns The zod schema and the keys allowed at each mapping.
 */
export function configSchema(context: SchemaContext): ConfigSchema {
  return buildSchema(context);
}

function buildSchema(context: SchemaContext) {
  const toPath = (value: unknown): string | undefined => {
    const text = parseText(value);
    return text === undefined ? undefined : resolve(context.baseDir, text);
  };
  const secretFile = (value: unknown) => {
    const path = toPath(value);
    if (path === undefined) return undefined;
    let text: string;
    try {
      text = context.readFile(path).trim();
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "no such file"
        : error instanceof Error
        ? error.message
        : String(error);
      return { problem: `cannot read "${path}": ${reason}` };
    }
    if (text === "") return { problem: `"${path}" is empty; expected the secret in it` };
    registerSecret(text);
    return { value: text };
  };
  const secret = (value: unknown) => {
    const text = parseText(value);
    if (text !== undefined) registerSecret(text);
    return text;
  };
  const postgresUrl = (value: unknown) => {
    const url = parsePostgresUrl(value);
    if (url !== undefined) {
      const password = decodeURIComponent(new URL(url).password);
      if (password !== "") registerSecret(password);
    }
    return url;
  };
  const access = (paths: boolean) => (value: unknown) => {
    const bool = parseBoolean(value);
    if (bool !== undefined) return bool;
    const list = stringList(false)(value);
    if (list === undefined) return undefined;
    // Only read/write entries are paths; net hosts, env names and commands stay as written.
    return paths
      ? list.map((item) => isAbsolute(item) ? item : resolve(context.baseDir, item))
      : list;
  };
  const accessText = "true, false or a list of strings";

  const shotgrid = {
    url: leaf(parseUrl, "an http(s) URL such as https://mysite.shotgrid.autodesk.com"),
    script_name: leaf(parseText, textText),
    script_key: leaf(secret, textText, { value: null }),
    script_key_file: checkedLeaf(secretFile, pathText, { value: null }),
    proxy: leaf(parseUrl, "an http(s) URL or null", { value: null }),
    use_session_uuid: leaf(parseBoolean, booleanText, { value: false }),
    timeout: leaf(duration(true), positiveDurationText, { value: 30_000 }),
  };
  const daemon = {
    state_file: leaf(toPath, pathText, { value: resolve(context.baseDir, "var/state.json") }),
    state_url: leaf(postgresUrl, "a postgres://user@host:port/database URL", { value: null }),
    state_password_file: checkedLeaf(secretFile, pathText, { value: null }),
    name: leaf(parseDaemonName, "a name of letters, digits, '.', '_' or '-' (at most 63)", {
      value: "default",
    }),
    lease_timeout: leaf(duration(true), positiveDurationText, { value: 10_000 }),
    fetch_interval: leaf(duration(true), positiveDurationText, { value: 5000 }),
    max_event_batch_size: leaf(integerIn(1, 5000), integerText(1, 5000), { value: 500 }),
    backlog_timeout: leaf(duration(false), durationText, { value: 300_000 }),
    start_at: leaf(parseStartAt, startAtText, { value: "latest" as const }),
    max_conn_retries: leaf(integerIn(0), integerText(0), { value: 5 }),
    conn_retry_sleep: leaf(duration(false), durationText, { value: 60_000 }),
    progress_interval: leaf(duration(true), positiveDurationText, { value: 30_000 }),
    shutdown_timeout: leaf(duration(false), durationText, { value: 10_000 }),
    ignore_script_users: listLeaf(parseText, "a script name", {
      expected: "a list of script names",
      fallback: { value: [] },
    }),
    narrow_reads: leaf(parseBoolean, booleanText, { value: true }),
    read_ahead: leaf(integerIn(1, 64), integerText(1, 64), { value: 4 }),
  };
  const permissions = {
    net: leaf(access(false), accessText, { value: undefined }),
    read: leaf(access(true), accessText, { value: undefined }),
    write: leaf(access(true), accessText, { value: undefined }),
    env: leaf(access(false), accessText, { value: undefined }),
    run: leaf(access(false), accessText, { value: undefined }),
  };
  const pluginSettings = {
    enabled: leaf(parseBoolean, booleanText, { value: true }),
    isolate: leaf(parseBoolean, booleanText, { value: false }),
    permissions: z.strictObject(permissions).nullable().default(null),
    callback_timeout: leaf(duration(true), positiveDurationText, { value: null }),
    retries: leaf(integerIn(0), integerText(0), { value: null }),
    start_at: leaf(parseStartAt, startAtText, { value: null }),
    projects: listLeaf(integerIn(1), "a project id (an integer of at least 1)", {
      expected: "a non-empty list of project ids",
      nonEmpty: true,
      // Absent: every project (an empty list, which would mean none, is refused).
      fallback: { value: [] },
    }),
  };
  const plugins = {
    paths: listLeaf(toPath, pathText, {
      expected: "a non-empty list of plugin folders",
      nonEmpty: true,
    }),
    callback_timeout: leaf(duration(true), positiveDurationText, { value: 60_000 }),
    retries: leaf(integerIn(0), integerText(0), { value: 3 }),
    rescan_interval: leaf(duration(false), durationText, { value: 30_000 }),
    // null: one per core (never more than plugins).
    workers: leaf(integerIn(1, 256), integerText(1, 256), { value: null }),
    settings: z.record(z.string(), z.preprocess((v) => v ?? {}, z.strictObject(pluginSettings)))
      .nullable().default({}),
    order: leaf(oneOf(["per_plugin", "strict"] as const), "one of: per_plugin, strict", {
      value: "per_plugin" as const,
    }),
    ordered_groups: listLeaf(parseNameGroup, "a list of two or more distinct plugin names", {
      expected: "a list of plugin name lists, e.g. [[publish, notify]]",
      fallback: { value: [] },
    }),
  };
  const logging = {
    level: leaf(parseLevel, levelText, { value: "info" as const }),
    dir: leaf(toPath, `${pathText}, or null for the console only`, { value: null }),
    per_plugin: leaf(parseBoolean, booleanText, { value: true }),
    timing: leaf(parseBoolean, booleanText, { value: false }),
    format: leaf(
      oneOf(["auto", "pretty", "plain", "json"] as const),
      "one of: auto, pretty, plain, json",
      {
        value: "auto" as const,
      },
    ),
    levels: z.record(z.string(), leaf(parseLevel, levelText)).nullable().default({}),
    max_file_size: leaf(parseSizeValue, "a size above 0; use e.g. 10MB, 512KB or bytes", {
      value: 10 * 1024 * 1024,
    }),
    max_files: leaf(integerIn(1), integerText(1), { value: 5 }),
  };
  const email = {
    enabled: leaf(parseBoolean, booleanText, { value: false }),
    server: leaf(parseText, "a host name", { value: "localhost" }),
    port: leaf(integerIn(1, 65535), integerText(1, 65535), { value: 25 }),
    security: leaf(oneOf(["starttls", "tls", "none"] as const), "one of: starttls, tls, none", {
      value: null,
    }),
    username: leaf(parseText, textText, { value: null }),
    password: leaf(secret, textText, { value: null }),
    password_file: checkedLeaf(secretFile, pathText, { value: null }),
    from: leaf(parseText, "a mail address", { value: "sgevents@localhost" }),
    to: listLeaf(parseAddress, "a mail address", {
      expected: "a list of mail addresses",
      split: true,
      fallback: { value: [] },
    }),
    subject: leaf(parseText, textText, { value: "sgevents: {plugin} error" }),
    rate_limit: leaf(integerIn(1), integerText(1), { value: 10 }),
    rate_window: leaf(duration(true), positiveDurationText, { value: 3_600_000 }),
  };
  const http = {
    listen: leaf(parseListen, listenText, { value: { hostname: "127.0.0.1", port: 8422 } }),
    token_file: checkedLeaf(secretFile, pathText, { value: null }),
    webhook_secret_file: checkedLeaf(secretFile, pathText, { value: null }),
  };
  const section = <T extends z.core.$ZodLooseShape>(shape: T) =>
    z.preprocess((v) => v ?? {}, z.strictObject(shape)).prefault({});

  const schema = z.strictObject({
    shotgrid: z.preprocess((v) => v ?? {}, z.strictObject(shotgrid)),
    daemon: section(daemon),
    plugins: z.preprocess((v) => v ?? {}, z.strictObject(plugins)),
    logging: section(logging),
    email: section(email),
    // Absent (or null): no HTTP server.
    http: z.strictObject(http).nullable().default(null),
  });
  const knownKeys: Readonly<Record<string, readonly string[]>> = {
    "": ["shotgrid", "daemon", "plugins", "logging", "email", "http"],
    shotgrid: Object.keys(shotgrid),
    daemon: Object.keys(daemon),
    plugins: Object.keys(plugins),
    "plugins.settings.*": Object.keys(pluginSettings),
    "plugins.settings.*.permissions": Object.keys(permissions),
    logging: Object.keys(logging),
    email: Object.keys(email),
    http: Object.keys(http),
  };
  return { schema, knownKeys };
}

/** The parsed (snake_case) config. */
export type ParsedConfig = z.output<ConfigSchema["schema"]>;

/** Permissions as parsed, before `undefined` entries are dropped. */
export type ParsedPermissions = {
  [K in keyof PluginPermissions]: PluginPermissions[K] | undefined;
};
