/**
 * `${VAR}` and `${VAR:-default}` substitution in the string values of a parsed config.
 *
 * @module
 */

/** The environment variables to substitute from. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A substitution that failed: where, and why (a sentence fragment after the key path). */
export interface EnvProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const reference = /\$\$|\$\{([^}]*)\}|\$\{/g;
const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Substitutes environment variables in one string: `${VAR}`, `${VAR:-default}` (the default
 * when VAR is unset or empty) and `$$` for a literal `$`. A `$` followed by anything else stays.
 *
 * @param text The string value from the config file.
 * @param env The environment.
 * @returns The substituted text, or the problem (a missing variable, a malformed reference).
 */
export function substituteString(
  text: string,
  env: Env,
): { readonly value: string } | { readonly problem: string } {
  let problem: string | null = null;
  const value = text.replace(reference, (match, inner: string | undefined) => {
    if (match === "$$") return "$";
    if (inner === undefined) {
      problem ??= `"${text}" has an unclosed "\${"; write \${NAME} or $$ for a literal $`;
      return match;
    }
    const split = inner.indexOf(":-");
    const name = split < 0 ? inner : inner.slice(0, split);
    if (!variableName.test(name)) {
      problem ??= `"\${${inner}}" is not a valid reference; use \${NAME} or \${NAME:-default}`;
      return match;
    }
    const found = env[name];
    if (split >= 0) return found === undefined || found === "" ? inner.slice(split + 2) : found;
    if (found === undefined) {
      problem ??= `environment variable "${name}" is not set; set it or write \${${name}:-default}`;
      return match;
    }
    return found;
  });
  return problem === null ? { value } : { problem };
}

/**
 * Substitutes environment variables in every string value of a parsed YAML tree (keys are
 * left alone). Returns a new tree and every problem found.
 *
 * @param tree The parsed YAML document.
 * @param env The environment.
 * @returns The substituted tree and the problems, each with its key path.
 */
export function substituteEnv(
  tree: unknown,
  env: Env,
): { readonly value: unknown; readonly problems: readonly EnvProblem[] } {
  const problems: EnvProblem[] = [];
  const visit = (value: unknown, path: (string | number)[]): unknown => {
    if (typeof value === "string") {
      const result = substituteString(value, env);
      if ("problem" in result) {
        problems.push({ path, message: result.problem });
        return value;
      }
      return result.value;
    }
    if (Array.isArray(value)) return value.map((item, index) => visit(item, [...path, index]));
    if (typeof value === "object" && value !== null) {
      const copy: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) copy[key] = visit(item, [...path, key]);
      return copy;
    }
    return value;
  };
  return { value: visit(tree, []), problems };
}
