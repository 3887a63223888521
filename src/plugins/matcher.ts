/**
 * `matchEvents`: which events a callback wants, validated once and compiled into a fast
 * predicate (the host runs it for every event of every page, for every plugin).
 *
 * Semantics, as in the Python daemon with its bug fixed:
 * - `null`, `undefined` or `{}`: every event.
 * - Keys are event types; `"*"` is any type and `*` inside a key is a wildcard
 *   (`"Shotgun_*_Change"`).
 * - Values: `null`, `"*"` or a list containing `"*"` match any attribute; a string is ONE
 *   exact attribute name (the Python daemon tested `in` on a string, a substring match);
 *   a list matches an event whose `attribute_name` is in it.
 * - An event matches when any key that matches its type accepts its attribute (Python
 *   looked only at `"*"` when that key existed, ignoring the others).
 *
 * @module
 */
import type { MatchEvents } from "./mod.ts";

/** The part of an event the matcher reads. */
export interface MatchableEvent {
  readonly event_type: string;
  readonly attribute_name: string | null;
}

/** A compiled `matchEvents`. */
export type EventMatcher = (event: MatchableEvent) => boolean;

/** `matchEvents` after validation: a fresh plain object, values `null` (any) or lists. */
export type NormalizedMatchEvents = Readonly<Record<string, readonly string[] | null>>;

/**
 * Validate `matchEvents` and return a normalized copy (safe to send to another isolate).
 *
 * @param matchEvents What the plugin registered.
 * @returns `{}` for "every event", otherwise each key with `null` (any attribute) or a list.
 * @throws {TypeError} When the shape is invalid, with a message naming the bad key or value.
 */
export function normalizeMatchEvents(matchEvents: unknown): NormalizedMatchEvents {
  if (matchEvents === null || matchEvents === undefined) return {};
  if (typeof matchEvents !== "object" || Array.isArray(matchEvents)) {
    throw new TypeError(
      `Invalid matchEvents: expected an object mapping event types to attribute names, got ${
        describe(matchEvents)
      }`,
    );
  }
  const proto = Object.getPrototypeOf(matchEvents);
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(
      `Invalid matchEvents: expected a plain object, got ${describe(matchEvents)}`,
    );
  }
  const out: Record<string, readonly string[] | null> = {};
  for (const [key, value] of Object.entries(matchEvents)) {
    if (key.trim() === "" || key !== key.trim()) {
      throw new TypeError(`Invalid matchEvents key "${key}": expected an event type name`);
    }
    out[key] = normalizeAttributes(key, value);
  }
  return out;
}

function normalizeAttributes(key: string, value: unknown): readonly string[] | null {
  if (value === null || value === "*") return null;
  if (typeof value === "string") {
    if (value.trim() === "") {
      throw new TypeError(`Invalid matchEvents["${key}"]: an attribute name cannot be empty`);
    }
    return [value];
  }
  if (!Array.isArray(value)) {
    throw new TypeError(
      `Invalid matchEvents["${key}"]: expected null, "*", an attribute name or a list of them, got ${
        describe(value)
      }`,
    );
  }
  if (value.length === 0) {
    throw new TypeError(
      `Invalid matchEvents["${key}"]: an empty list matches nothing; use null or "*" for any attribute`,
    );
  }
  const names: string[] = [];
  for (const [i, name] of value.entries()) {
    if (typeof name !== "string" || name.trim() === "") {
      throw new TypeError(
        `Invalid matchEvents["${key}"][${i}]: expected an attribute name, got ${describe(name)}`,
      );
    }
    if (name === "*") return null;
    names.push(name);
  }
  return names;
}

/**
 * Compile `matchEvents` into a predicate.
 *
 * @param matchEvents What the plugin registered (validated here).
 * @returns A function telling whether an event is wanted.
 * @throws {TypeError} When the shape is invalid.
 * @example
 * ```ts
 * const wants = compileMatchEvents({ "Shotgun_*_Change": ["sg_status_list"] });
 * wants({ event_type: "Shotgun_Task_Change", attribute_name: "sg_status_list" }); // true
 * ```
 */
export function compileMatchEvents(matchEvents: MatchEvents | null | undefined): EventMatcher {
  const normalized = normalizeMatchEvents(matchEvents);
  const keys = Object.keys(normalized);
  if (keys.length === 0) return () => true;

  const exact = new Map<string, ReadonlySet<string> | null>();
  const patterns: { regex: RegExp; attributes: ReadonlySet<string> | null }[] = [];
  let anyType: ReadonlySet<string> | null | undefined;
  for (const key of keys) {
    const list = normalized[key] ?? null;
    const attributes = list === null ? null : new Set(list);
    if (key === "*") anyType = attributes;
    else if (key.includes("*")) patterns.push({ regex: wildcard(key), attributes });
    else exact.set(key, attributes);
  }
  if (anyType === null) return () => true;

  const accepts = (attributes: ReadonlySet<string> | null, name: string | null) =>
    attributes === null || (name !== null && attributes.has(name));

  return (event) => {
    const name = event.attribute_name;
    if (anyType !== undefined && accepts(anyType, name)) return true;
    const attributes = exact.get(event.event_type);
    if (attributes !== undefined && accepts(attributes, name)) return true;
    for (const pattern of patterns) {
      if (pattern.regex.test(event.event_type) && accepts(pattern.attributes, name)) return true;
    }
    return false;
  };
}

/**
 * The event types a plugin's callbacks can match, for narrowing reads on the site.
 *
 * @param matchEvents Each callback's normalized `matchEvents`.
 * @returns The sorted types (keys with `*` inside kept as patterns), or null when some
 *   callback matches every type (`{}`, a `"*"` key, or a key of only wildcards).
 */
export function eventTypesOf(matchEvents: readonly NormalizedMatchEvents[]): string[] | null {
  const types = new Set<string>();
  for (const normalized of matchEvents) {
    const keys = Object.keys(normalized);
    if (keys.length === 0 || keys.some((key) => key.replaceAll("*", "") === "")) return null;
    for (const key of keys) types.add(key);
  }
  return [...types].sort();
}

function wildcard(pattern: string): RegExp {
  const body = pattern.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${body.join(".*")}$`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an instance of ${value.constructor?.name ?? "Object"}`;
  return `${typeof value} ${JSON.stringify(value) ?? String(value)}`;
}
