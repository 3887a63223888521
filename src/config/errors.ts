/**
 * The error thrown for a configuration that cannot be used.
 *
 * @module
 */

/**
 * A configuration file that cannot be read, parsed or validated. Its `message` lists every
 * problem, one line each, as `file: key.path: what is wrong; what is expected`.
 * The CLI maps it to exit code 2.
 */
export class ConfigError extends Error {
  /** The config file, as the user named it. */
  readonly file: string;
  /** One line per problem, each starting with the file name. */
  readonly problems: readonly string[];

  /**
   * @param file The config file, as the user named it.
   * @param problems The problems found, one line each.
   * @param options `cause` when a single underlying error explains it.
   */
  constructor(file: string, problems: readonly string[], options?: ErrorOptions) {
    const head = problems.length === 1
      ? problems[0] ?? ""
      : `Cannot use config "${file}": ${problems.length} problems\n${problems.join("\n")}`;
    super(head, options);
    this.name = "ConfigError";
    this.file = file;
    this.problems = problems;
  }
}
