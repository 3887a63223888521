/**
 * From `shotgunEventDaemon.conf` options to sgevents' `config.yaml`: each option maps to
 * its key (the README's table), or becomes a comment line saying why it has none.
 *
 * Secrets (`[shotgun] key`, `[emails] password`) never go into config.yaml or the output:
 * a value that is one environment reference (`%(SG_KEY)s`) is written as `${SG_KEY}`;
 * a literal value is written to its own file (`script_key`, `smtp_password`, mode 0600)
 * named by `script_key_file` / `password_file`.
 *
 * @module
 */
import { parseUrl } from "../config/fields.ts";
import {
  type ConfFile,
  type ConfOption,
  confOption,
  confValue,
  envReference,
  MigrationError,
} from "./conf.ts";

/** One line of the mapping as printed: where an option went, or why nowhere. */
export interface MappedOption {
  /** `[daemon] fetch_interval`. */
  readonly from: string;
  /** `daemon.fetch_interval: 5s` (secrets shown by reference only), or null: no equivalent. */
  readonly to: string | null;
  /** Why it has no equivalent, or what changed in the meaning. */
  readonly note: string | null;
}

/** A secret to write beside the config, mode 0600. */
export interface SecretFile {
  /** File name inside the output folder. */
  readonly name: string;
  readonly text: string;
}

/** The result of mapping a .conf. */
export interface ConfigMapping {
  /** The config.yaml text (never a secret's value). */
  readonly yaml: string;
  readonly options: readonly MappedOption[];
  readonly secrets: readonly SecretFile[];
  /** The site URL, resolved (the state file is bound to it). */
  readonly site: string;
  /** The plugin folders as the .conf names them (keys of the pickled state). */
  readonly pluginPaths: readonly string[];
  /** `[daemon] eventIdFile`, resolved, when set. */
  readonly eventIdFile: string | null;
}

/** Options of {@link mapConf}. */
export interface MapConfOptions {
  /** The state file name the config names (relative to the config). */
  readonly stateFile: string;
  /** `daemon.start_at` to write (an old text id file gives every plugin one start). */
  readonly startAt?: number;
}

type Yaml = string;
interface Entry {
  readonly key: string;
  readonly value: Yaml;
  readonly comment: string;
}

const noEquivalent: Record<string, Record<string, string>> = {
  daemon: {
    pidfile:
      "sgevents holds an OS lock on <state_file>.lock, so a stale pid file cannot block a start; stop it with SIGTERM",
    logfile:
      "sgevents writes sgevents.log (and plugin-<name>.log) in logging.dir, rotated by size instead of nightly",
  },
};

const sectionTargets: Record<string, string> = {
  shotgun: "shotgrid",
  daemon: "daemon",
  plugins: "plugins",
  emails: "email",
};

const levels: [number, string][] = [
  [5, "trace"],
  [10, "debug"],
  [20, "info"],
  [30, "warning"],
  [40, "error"],
  [50, "fatal"],
];

/**
 * Maps a parsed .conf to config.yaml text and a printable list of what went where.
 *
 * @param conf The parsed .conf.
 * @param options The state file to name in the config, and a start position.
 * @returns The YAML, the mapping lines, the secret files to write, the site and paths.
 * @throws {MigrationError} With every problem found (a missing required option, a bad value).
 */
export function mapConf(conf: ConfFile, options: MapConfOptions): ConfigMapping {
  const problems: string[] = [];
  const mapped: MappedOption[] = [];
  const secrets: SecretFile[] = [];
  const out: Record<string, Entry[]> = {
    shotgrid: [],
    daemon: [],
    plugins: [],
    logging: [],
    email: [],
  };
  // Comment lines per YAML section; "" collects those of .conf sections sgevents has no twin for.
  const comments: Record<string, string[]> = { "": [] };
  for (const key of Object.keys(out)) comments[key] = [];
  const handled = new Set<string>();
  const where = (section: string, option: ConfOption) => `[${section}] ${option.key}`;
  const value = (section: string, key: string): string | undefined => {
    if (confOption(conf, section, key) === undefined) return undefined;
    try {
      return confValue(conf, section, key).trim();
    } catch (error) {
      if (!(error instanceof MigrationError)) throw error;
      problems.push(...error.problems);
      return undefined;
    }
  };
  const bad = (section: string, key: string, expected: string): undefined => {
    const option = confOption(conf, section, key)!;
    problems.push(
      `${conf.file}:${option.line}: ${where(section, option)}: "${
        value(section, key)
      }" is not ${expected}`,
    );
    return undefined;
  };
  const put = (
    section: string,
    key: string,
    target: [string, string],
    yaml: Yaml,
    options: { shown?: string; note?: string } = {},
  ) => {
    const option = confOption(conf, section, key)!;
    handled.add(`${section}.${key.toLowerCase()}`);
    out[target[0]]!.push({ key: target[1], value: yaml, comment: where(section, option) });
    mapped.push({
      from: where(section, option),
      to: `${target.join(".")}: ${options.shown ?? yaml}`,
      note: options.note ?? null,
    });
  };
  const text = (section: string, key: string, target: [string, string]) => {
    const env = envReference(conf, section, key);
    const resolved = value(section, key);
    if (resolved === undefined) return;
    put(section, key, target, JSON.stringify(env === null ? resolved : `\${${env}}`));
  };
  const integer = (section: string, key: string): number | undefined => {
    const text = value(section, key);
    if (text === undefined) return undefined;
    if (!/^[+-]?\d+$/.test(text)) return bad(section, key, "an integer");
    return Number(text);
  };
  const seconds = (section: string, key: string, target: [string, string], min: number) => {
    const text = value(section, key);
    if (text === undefined) return;
    const n = Number(text);
    if (text === "" || !Number.isFinite(n) || n < 0) {
      return bad(section, key, "a number of seconds");
    }
    const raised = n < min;
    put(section, key, target, `${raised ? min : n}s`, {
      ...(raised ? { note: `raised to ${min}s: sgevents needs a pause between polls` } : {}),
    });
  };
  const boolean = (section: string, key: string): boolean | undefined => {
    const text = value(section, key)?.toLowerCase();
    if (text === undefined) return undefined;
    if (["1", "yes", "true", "on"].includes(text)) return true;
    if (["0", "no", "false", "off"].includes(text)) return false;
    return bad(section, key, "a boolean (1/0, yes/no, true/false, on/off)");
  };
  const secret = (section: string, key: string, target: string, file: string) => {
    const env = envReference(conf, section, key);
    const resolved = value(section, key);
    if (resolved === undefined || resolved === "") return;
    if (env !== null) {
      put(
        section,
        key,
        [target.split(".")[0]!, target.split(".")[1]!],
        JSON.stringify(`\${${env}}`),
      );
      return;
    }
    secrets.push({ name: file, text: resolved + "\n" });
    const [sectionKey, leaf] = target.split(".") as [string, string];
    put(section, key, [sectionKey, `${leaf}_file`], JSON.stringify(`./${file}`), {
      note: `the value is written to ./${file} (mode 0600), never into config.yaml`,
    });
  };
  const require = (section: string, key: string) => {
    if (confOption(conf, section, key) === undefined) {
      problems.push(`${conf.file}: [${section}] ${key}: missing; the Python daemon needs it too`);
      return false;
    }
    return true;
  };

  // [shotgun]
  let site = "";
  if (require("shotgun", "server")) {
    const url = value("shotgun", "server");
    if (url !== undefined) {
      const parsed = parseUrl(url);
      if (parsed === undefined) bad("shotgun", "server", "an http(s) URL");
      else site = parsed;
      text("shotgun", "server", ["shotgrid", "url"]);
    }
  }
  if (require("shotgun", "name")) text("shotgun", "name", ["shotgrid", "script_name"]);
  if (require("shotgun", "key")) secret("shotgun", "key", "shotgrid.script_key", "script_key");
  if (confOption(conf, "shotgun", "proxy_server") !== undefined) {
    const proxy = value("shotgun", "proxy_server");
    if (proxy !== undefined) {
      const url = proxy === "" ? null : /^https?:\/\//.test(proxy) ? proxy : `http://${proxy}`;
      put(
        "shotgun",
        "proxy_server",
        ["shotgrid", "proxy"],
        url === null ? "null" : JSON.stringify(url),
        {
          shown: url === null ? "null" : url.replace(/\/\/[^@/]*@/, "//***@"),
          ...(url !== proxy && url !== null ? { note: "sgevents wants a URL: http:// added" } : {}),
        },
      );
    }
  }
  if (confOption(conf, "shotgun", "use_session_uuid") !== undefined) {
    const on = boolean("shotgun", "use_session_uuid");
    if (on !== undefined) {
      put("shotgun", "use_session_uuid", ["shotgrid", "use_session_uuid"], String(on));
    }
  }

  // [daemon]
  const eventIdOption = confOption(conf, "daemon", "eventIdFile");
  const eventIdFile = eventIdOption ? value("daemon", "eventIdFile") ?? null : null;
  if (eventIdOption !== undefined) {
    put("daemon", "eventIdFile", ["daemon", "state_file"], JSON.stringify(options.stateFile), {
      note: `the pickled state is imported by "migrate --state ${
        eventIdFile ?? "FILE"
      }" (JSON, written atomically)`,
    });
  } else {
    out.daemon!.push({ key: "state_file", value: JSON.stringify(options.stateFile), comment: "" });
  }
  if (options.startAt !== undefined) {
    out.daemon!.push({
      key: "start_at",
      value: String(options.startAt),
      comment: "the old id file's last id + 1: every plugin starts there",
    });
  }
  for (const key of ["conn_retry_sleep", "fetch_interval"]) {
    if (confOption(conf, "daemon", key) !== undefined) {
      seconds("daemon", key, ["daemon", key], key === "fetch_interval" ? 1 : 0);
    }
  }
  if (confOption(conf, "daemon", "max_conn_retries") !== undefined) {
    const n = integer("daemon", "max_conn_retries");
    if (n !== undefined) {
      put("daemon", "max_conn_retries", ["daemon", "max_conn_retries"], String(Math.max(0, n)));
    }
  }
  if (confOption(conf, "daemon", "max_event_batch_size") !== undefined) {
    const n = integer("daemon", "max_event_batch_size");
    if (n !== undefined) {
      const clamped = Math.min(5000, Math.max(1, n));
      put("daemon", "max_event_batch_size", ["daemon", "max_event_batch_size"], String(clamped), {
        ...(clamped !== n ? { note: `clamped to ${clamped}: sgevents takes 1 to 5000` } : {}),
      });
    }
  }
  if (confOption(conf, "daemon", "logMode") !== undefined) {
    const mode = integer("daemon", "logMode");
    if (mode !== undefined && mode !== 0 && mode !== 1) bad("daemon", "logMode", "0 or 1");
    else if (mode !== undefined) {
      put("daemon", "logMode", ["logging", "per_plugin"], String(mode === 1));
    }
  }
  if (confOption(conf, "daemon", "logPath") !== undefined) {
    text("daemon", "logPath", ["logging", "dir"]);
  } else if (confOption(conf, "daemon", "logFile") !== undefined) {
    out.logging!.push({
      key: "dir",
      value: JSON.stringify("./log"),
      comment: "no logPath: the Python daemon wrote logFile in its working folder",
    });
  }
  if (confOption(conf, "daemon", "logging") !== undefined) {
    const n = integer("daemon", "logging");
    if (n !== undefined) {
      const level = [...levels].reverse().find(([at]) => n >= at)?.[1] ?? "trace";
      const exact = levels.some(([at]) => at === n);
      put("daemon", "logging", ["logging", "level"], level, {
        ...(exact ? {} : { note: `Python level ${n} rounded down to ${level}` }),
      });
    }
  }
  if (confOption(conf, "daemon", "timing_log") !== undefined) {
    const on = boolean("daemon", "timing_log");
    if (on !== undefined) put("daemon", "timing_log", ["logging", "timing"], String(on));
  }

  // [plugins]
  let pluginPaths: string[] = [];
  if (require("plugins", "paths")) {
    const paths = value("plugins", "paths");
    if (paths !== undefined) {
      pluginPaths = paths.split(",").map((p) => p.trim()).filter((p) => p !== "");
      put("plugins", "paths", ["plugins", "paths"], JSON.stringify(pluginPaths), {
        note: "sgevents loads .ts/.js plugins: port each .py plugin (README: Porting a plugin)",
      });
    }
  }

  // [emails]
  if (conf.sections.has("emails")) {
    const simple: [string, string][] = [["server", "server"], ["username", "username"], [
      "from",
      "from",
    ]];
    for (const [from, to] of simple) {
      if (confOption(conf, "emails", from) !== undefined) text("emails", from, ["email", to]);
    }
    if (confOption(conf, "emails", "port") !== undefined) {
      const port = integer("emails", "port");
      if (port !== undefined) put("emails", "port", ["email", "port"], String(port));
    }
    if (confOption(conf, "emails", "useTLS") !== undefined) {
      const tls = boolean("emails", "useTLS");
      if (tls !== undefined) {
        put("emails", "useTLS", ["email", "security"], tls ? "starttls" : "none");
      }
    }
    if (confOption(conf, "emails", "password") !== undefined) {
      secret("emails", "password", "email.password", "smtp_password");
    }
    const to = confOption(conf, "emails", "to") === undefined ? undefined : value("emails", "to");
    const addresses = (to ?? "").split(",").map((a) => a.trim()).filter((a) => a !== "");
    if (to !== undefined) put("emails", "to", ["email", "to"], JSON.stringify(addresses));
    const subject = confOption(conf, "emails", "subject") === undefined
      ? undefined
      : value("emails", "subject");
    if (subject !== undefined) {
      put("emails", "subject", ["email", "subject"], JSON.stringify(`${subject} {plugin} error`), {
        note: "{plugin} is the failing plugin's name (the Python daemon appended the level)",
      });
    }
    const server = confOption(conf, "emails", "server") === undefined
      ? ""
      : value("emails", "server") ?? "";
    const from = confOption(conf, "emails", "from") === undefined
      ? ""
      : value("emails", "from") ?? "";
    if (confOption(conf, "emails", "enabled") !== undefined) {
      const on = boolean("emails", "enabled");
      if (on !== undefined) {
        put("emails", "enabled", ["email", "enabled"], String(on && addresses.length > 0));
      }
    } else {
      // The Python daemon mails when server, from, to and subject are all set.
      const on = server !== "" && from !== "" && addresses.length > 0 && (subject ?? "") !== "";
      out.email!.push({
        key: "enabled",
        value: String(on),
        comment: "the Python daemon mailed when server, from, to and subject were all set",
      });
    }
  }

  // Everything else: known options without an equivalent, then options the daemon never read.
  for (const [section, options] of conf.sections) {
    for (const [name, option] of options) {
      if (handled.has(`${section}.${name}`)) continue;
      const known = noEquivalent[section]?.[name];
      const why = known ??
        "the Python daemon never reads it (a plugin reading it must get it another way)";
      // Values are shown only for known harmless options: an unknown one may hold a secret.
      const shown = known !== undefined ? ` "${option.raw}": no equivalent` : ": not mapped";
      const target = sectionTargets[section] ?? "";
      comments[target]!.push(`# ${where(section, option)}${shown}; ${why}`);
      mapped.push({ from: where(section, option), to: null, note: why });
    }
  }
  if (problems.length > 0) throw new MigrationError(conf.file, [...new Set(problems)]);

  const lines = [
    `# sgevents configuration written by "sgevents migrate" from ${conf.file}.`,
    "# Each key's comment names the .conf option it came from. Check it: sgevents validate -c <this file>",
    "",
  ];
  for (const [section, entries] of Object.entries(out)) {
    if (entries.length === 0 && comments[section]!.length === 0) continue;
    lines.push(`${section}:`);
    for (const entry of entries) {
      lines.push(`  ${entry.key}: ${entry.value}${entry.comment ? ` # ${entry.comment}` : ""}`);
    }
    for (const comment of comments[section]!) lines.push(`  ${comment}`);
    lines.push("");
  }
  lines.push(...comments[""]!);
  return { yaml: lines.join("\n"), options: mapped, secrets, site, pluginPaths, eventIdFile };
}
