/**
 * Turns zod issues into the one-line messages users read:
 * `config.yaml: daemon.fetch_interval: "5x" is not a duration; use e.g. 5s, 500ms, 2m`.
 *
 * @module
 */
import type * as z from "zod";
import { redact } from "../log/redact.ts";

type Path = readonly PropertyKey[];

const secretKeys = new Set(["script_key", "password"]);

/**
 * Writes a key path as users write it: `daemon.fetch_interval`, `plugins.paths[0]`,
 * `logging.levels["sgevents.engine"]`.
 *
 * @param path The key path.
 * @returns The printable path, `(top level)` for the root.
 */
export function formatPath(path: Path): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(segment))) {
      text += text === "" ? String(segment) : `.${String(segment)}`;
    } else text += `[${JSON.stringify(String(segment))}]`;
  }
  return text === "" ? "(top level)" : text;
}

/**
 * Describes a bad value briefly: strings quoted, lists and mappings by kind, secrets as `***`.
 *
 * @param value The value found in the file.
 * @param path Where it was found (to hide secrets).
 * @returns The description.
 */
export function describeValue(value: unknown, path: Path): string {
  if (secretKeys.has(String(path.at(-1)))) return "***";
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : "a list";
  if (value === null) return "null";
  if (typeof value === "object") return "a mapping";
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function valueAt(tree: unknown, path: Path): unknown {
  let node = tree;
  for (const segment of path) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      row[j] = Math.min(
        current + 1,
        (row[j - 1] ?? 0) + 1,
        previous + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}

function unknownKey(key: string, allowed: readonly string[]): string {
  const normalized = key.toLowerCase().replace(/[-_]/g, "");
  const scored = allowed.map((name) => ({
    name,
    score: name.replace(/_/g, "") === normalized ? 0 : distance(key, name),
  })).filter((entry) => entry.score <= 2).sort((a, b) => a.score - b.score);
  const hint = scored[0] === undefined ? "" : `did you mean "${scored[0].name}"? `;
  return `unknown key; ${hint}expected one of: ${allowed.join(", ")}`;
}

function keysPattern(path: Path): string {
  return path.map((segment, index) => index === 2 && path[1] === "settings" ? "*" : String(segment))
    .join(".");
}

/**
 * Maps zod issues to message lines (without the file name).
 *
 * @param issues The issues of a failed parse.
 * @param tree The parsed YAML the schema saw (to quote bad values).
 * @param knownKeys Allowed keys per mapping path, `*` standing for a plugin name.
 * @returns One line per problem, `key.path: problem`.
 */
export function issueLines(
  issues: readonly z.core.$ZodIssue[],
  tree: unknown,
  knownKeys: Readonly<Record<string, readonly string[]>>,
): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = issue.path;
    const value = valueAt(tree, path);
    const where = formatPath(path);
    if (issue.code === "unrecognized_keys") {
      const allowed = knownKeys[keysPattern(path)] ?? [];
      for (const key of issue.keys) {
        lines.push(`${formatPath([...path, key])}: ${unknownKey(key, allowed)}`);
      }
    } else if (issue.code === "custom") {
      const kind = (issue.params as { kind?: string } | undefined)?.kind;
      if (kind === "missing") lines.push(`${where}: missing; expected ${issue.message}`);
      else if (kind === "full") lines.push(`${where}: ${issue.message}`);
      else lines.push(`${where}: ${describeValue(value, path)} is not ${issue.message}`);
    } else if (issue.code === "invalid_type") {
      const expected = issue.expected === "object" || issue.expected === "record"
        ? "a mapping"
        : issue.expected;
      lines.push(
        value === undefined
          ? `${where}: missing; expected ${expected}`
          : `${where}: ${describeValue(value, path)} is not ${expected}`,
      );
    } else {
      lines.push(`${where}: ${describeValue(value, path)}: ${issue.message}`);
    }
  }
  return lines.map(redact);
}
