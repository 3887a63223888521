/**
 * Turning Python-API filters into the body and content type of a REST `_search`.
 *
 * A flat list of conditions goes as `api3_array` (ANDed); anything nested goes as
 * `api3_hash` `{logical_operator, conditions}`, converting the Python API's
 * `{filter_operator: "any"|"all", filters}` on the way.
 *
 * @module
 */
import type { Filter, FilterCondition, FilterGroup } from "./types.ts";

/** Content type for a flat list of ANDed conditions. */
export const arrayContentType = "application/vnd+shotgun.api3_array+json";
/** Content type for a nested `{logical_operator, conditions}` group. */
export const hashContentType = "application/vnd+shotgun.api3_hash+json";

/** A condition as the REST API takes it: `[field, relation, value]`. */
export type RestCondition = readonly [string, string, unknown];

/** A group as the REST API takes it. */
export interface RestGroup {
  readonly logical_operator: "and" | "or";
  readonly conditions: readonly (RestCondition | RestGroup)[];
}

/** The `filters` value of a `_search` body and the content type it must be sent with. */
export interface EncodedFilters {
  readonly contentType: typeof arrayContentType | typeof hashContentType;
  readonly filters: readonly RestCondition[] | RestGroup;
}

/**
 * Encode filters for `_search`.
 *
 * @param filters `[["id","greater_than",5], ...]`, `{filter_operator, filters}` or
 *   `{logical_operator, conditions}`.
 * @returns The `filters` value and its content type.
 * @throws {TypeError} When a condition or group is malformed.
 */
export function encodeFilters(filters: readonly Filter[] | FilterGroup): EncodedFilters {
  if (Array.isArray(filters)) {
    const list = filters as readonly Filter[];
    if (list.every((f) => Array.isArray(f))) {
      return {
        contentType: arrayContentType,
        filters: list.map((f) => encodeCondition(f as FilterCondition)),
      };
    }
    return {
      contentType: hashContentType,
      filters: { logical_operator: "and", conditions: list.map(encodeFilter) },
    };
  }
  return { contentType: hashContentType, filters: encodeGroup(filters as FilterGroup) };
}

function encodeFilter(filter: Filter): RestCondition | RestGroup {
  return Array.isArray(filter)
    ? encodeCondition(filter as FilterCondition)
    : encodeGroup(filter as FilterGroup);
}

function encodeGroup(group: FilterGroup): RestGroup {
  if (typeof group !== "object" || group === null) {
    throw new TypeError(`Cannot encode filters: expected a condition or group, got ${show(group)}`);
  }
  let operator: "and" | "or";
  let members: readonly Filter[] | undefined;
  if (group.logical_operator !== undefined || group.conditions !== undefined) {
    operator = group.logical_operator ?? "and";
    members = group.conditions;
  } else {
    const python = group.filter_operator ?? "all";
    if (python !== "all" && python !== "any") {
      throw new TypeError(`Cannot encode filters: unknown filter_operator ${show(python)}`);
    }
    operator = python === "any" ? "or" : "and";
    members = group.filters;
  }
  if (operator !== "and" && operator !== "or") {
    throw new TypeError(`Cannot encode filters: unknown logical_operator ${show(operator)}`);
  }
  if (!Array.isArray(members)) {
    throw new TypeError(`Cannot encode filters: a group has no conditions list: ${show(group)}`);
  }
  return { logical_operator: operator, conditions: members.map(encodeFilter) };
}

function encodeCondition(condition: FilterCondition): RestCondition {
  if (
    condition.length < 3 || typeof condition[0] !== "string" || typeof condition[1] !== "string"
  ) {
    throw new TypeError(
      `Cannot encode filters: a condition must be [field, relation, value], got ${show(condition)}`,
    );
  }
  if (condition.length === 3) return condition as unknown as RestCondition;
  // The Python API also takes `["id", "between", 1, 9]` and `["id", "in", 1, 2, 3]`.
  return [condition[0], condition[1], condition.slice(2)];
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
