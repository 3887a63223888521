/**
 * Reading `shotgunEventDaemon.conf` as the Python daemon does: Python's `configparser`
 * INI dialect (`key: value` or `key = value`, `#`/`;` comment lines, indented continuation
 * lines, case-insensitive option names) with its basic interpolation, `%(name)s` looked up
 * in the same section, then `[DEFAULT]`, then the environment (the daemon builds its
 * parser with `os.environ` as defaults), and `%%` for a literal `%`.
 *
 * @module
 */
import { ConfigError } from "../config/errors.ts";

/** The .conf or the pickled state cannot be migrated; the CLI exits 2 with the message. */
export class MigrationError extends ConfigError {
  /**
   * @param file The file concerned.
   * @param problems One line per problem, each naming the file and the option or value.
   * @param options `cause`.
   */
  constructor(file: string, problems: readonly string[], options?: ErrorOptions) {
    super(file, problems, options);
    this.name = "MigrationError";
  }
}

/** One option as written. */
export interface ConfOption {
  /** The name as written (`pidFile`); lookups are case-insensitive. */
  readonly key: string;
  /** The raw value, before interpolation. */
  readonly raw: string;
  /** 1-based line number. */
  readonly line: number;
}

/** A parsed .conf file. */
export interface ConfFile {
  readonly file: string;
  /** Sections in file order (`DEFAULT` excluded), options keyed by lower-case name. */
  readonly sections: ReadonlyMap<string, ReadonlyMap<string, ConfOption>>;
  readonly defaults: ReadonlyMap<string, ConfOption>;
  /** Variables for `%(name)s` after the file's own options. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

const reference = /%\(([^)]*)\)s|%%|%/g;

/**
 * Parses .conf text.
 *
 * @param text The file's content.
 * @param options The file name (for messages) and the environment for `%(VAR)s`.
 * @returns The sections and options, not yet interpolated.
 * @throws {MigrationError} On a line that is no section, option, comment or continuation.
 */
export function parseConf(
  text: string,
  options: { readonly file: string; readonly env: Readonly<Record<string, string | undefined>> },
): ConfFile {
  const { file } = options;
  const sections = new Map<string, Map<string, ConfOption>>();
  const defaults = new Map<string, ConfOption>();
  const problems: string[] = [];
  let current: Map<string, ConfOption> | null = null;
  let last: { map: Map<string, ConfOption>; name: string; indent: number } | null = null;
  const lines = text.split(/\r?\n/);
  for (const [index, line] of lines.entries()) {
    const number = index + 1;
    const stripped = line.trim();
    const indent = line.length - line.trimStart().length;
    if (stripped === "" || stripped.startsWith("#") || stripped.startsWith(";")) {
      if (stripped === "") last = null;
      continue;
    }
    if (last !== null && indent > last.indent) {
      const option = last.map.get(last.name)!;
      last.map.set(last.name, { ...option, raw: `${option.raw}\n${stripped}` });
      continue;
    }
    const header = /^\[([^\]]+)\]$/.exec(stripped);
    if (header) {
      const name = header[1]!.trim();
      if (name === "DEFAULT") current = defaults;
      else if (sections.has(name)) {
        problems.push(`${file}:${number}: section "[${name}]" appears twice`);
        current = sections.get(name)!;
      } else sections.set(name, current = new Map());
      last = null;
      continue;
    }
    const split = /^([^:=]+?)\s*[:=]\s*(.*)$/.exec(stripped);
    if (!split) {
      // The line is not echoed: a mistyped "key s3cret" would print the secret.
      problems.push(
        `${file}:${number}: cannot parse this line; expected [section], key: value or key = value`,
      );
      continue;
    }
    if (current === null) {
      problems.push(`${file}:${number}: option "${split[1]}" comes before any [section]`);
      continue;
    }
    const key = split[1]!;
    const name = key.toLowerCase();
    if (current.has(name)) {
      problems.push(`${file}:${number}: option "${key}" is set twice in its section`);
    }
    current.set(name, { key, raw: split[2]!, line: number });
    last = { map: current, name, indent };
  }
  if (problems.length > 0) throw new MigrationError(file, problems);
  return { file, sections, defaults, env: options.env };
}

/**
 * The option, if the section has it (`[DEFAULT]` does not count, as a daemon option).
 *
 * @param conf The parsed file.
 * @param section The section name, e.g. `daemon`.
 * @param key The option, any case.
 * @returns The option or undefined.
 */
export function confOption(conf: ConfFile, section: string, key: string): ConfOption | undefined {
  return conf.sections.get(section)?.get(key.toLowerCase());
}

/**
 * An option's value after interpolation, as `ConfigParser.get` returns it.
 *
 * @param conf The parsed file.
 * @param section The section.
 * @param key The option (must exist).
 * @returns The interpolated value.
 * @throws {MigrationError} When a reference is unknown or malformed.
 */
export function confValue(conf: ConfFile, section: string, key: string): string {
  const option = confOption(conf, section, key);
  if (option === undefined) throw new RangeError(`No option "${key}" in [${section}]`);
  return interpolate(conf, section, option, 0);
}

function interpolate(conf: ConfFile, section: string, option: ConfOption, depth: number): string {
  const fail = (what: string): never => {
    throw new MigrationError(conf.file, [
      `${conf.file}:${option.line}: [${section}] ${option.key}: ${what}`,
    ]);
  };
  if (depth > 10) fail("interpolation nests deeper than 10 (a reference loop?)");
  return option.raw.replace(reference, (match, name: string | undefined) => {
    if (match === "%%") return "%";
    if (name === undefined) return fail(`"%" must be followed by "%" or "(name)s"`);
    const own = conf.sections.get(section)?.get(name.toLowerCase()) ??
      conf.defaults.get(name.toLowerCase());
    if (own !== undefined) return interpolate(conf, section, own, depth + 1);
    const env = envName(conf, name);
    if (env === undefined) {
      return fail(
        `"%(${name})s" is neither an option nor a set environment variable; set ${name} as the Python daemon had it`,
      );
    }
    return conf.env[env]!;
  });
}

/** The environment variable a `%(name)s` reference reads (names compare case-insensitively). */
function envName(conf: ConfFile, name: string): string | undefined {
  if (conf.env[name] !== undefined) return name;
  const lower = name.toLowerCase();
  return Object.keys(conf.env).find((key) =>
    key.toLowerCase() === lower && conf.env[key] !== undefined
  );
}

/**
 * When an option's whole value is one environment reference (`%(SG_ED_SITE_URL)s`), the
 * variable's name, so the new config can read it as `${SG_ED_SITE_URL}`.
 *
 * @param conf The parsed file.
 * @param section The section.
 * @param key The option.
 * @returns The variable name (as set in the environment, else as written), or null.
 */
export function envReference(conf: ConfFile, section: string, key: string): string | null {
  const option = confOption(conf, section, key);
  const match = option && /^%\(([A-Za-z_][A-Za-z0-9_]*)\)s$/.exec(option.raw.trim());
  if (!match) return null;
  const name = match[1]!;
  const lower = name.toLowerCase();
  if (conf.sections.get(section)?.has(lower) || conf.defaults.has(lower)) return null;
  return envName(conf, name) ?? name;
}
