/**
 * Filter evaluation and paging for `_search` and list reads.
 *
 * Both filter forms are compiled into one predicate; `id` conditions at the top level of an
 * AND are also turned into an id range (or id list) so that `id > N` pages walk the index
 * instead of the whole table.
 *
 * @module
 */

import { badRequest } from "./errors.ts";
import type { EntityDef, FieldDef } from "./schema.ts";
import { deepField, deepValue } from "./render.ts";
import type { Row, SimStore } from "./store.ts";

/** A compiled filter. */
export type Predicate = (row: Row) => boolean;

/** Ids a filter can match at most: a range, optionally narrowed to a list. */
export interface IdBounds {
  min: number;
  max: number;
  /** Sorted, unique; present when an `id in [...]`/`id is` condition applies. */
  list?: number[];
}

/** A compiled search. */
export interface CompiledFilter {
  readonly predicate: Predicate;
  readonly bounds: IdBounds;
}

/** One sort key. */
export interface SortKey {
  readonly field: string;
  readonly descending: boolean;
}

interface Condition {
  readonly field: string;
  readonly relation: string;
  readonly values: readonly unknown[];
}

type Node =
  | { readonly kind: "cond"; readonly cond: Condition }
  | { readonly kind: "group"; readonly or: boolean; readonly children: readonly Node[] };

const listRelations = new Set(["in", "not_in"]);
const rangeRelations = new Set(["between", "not_between"]);

function parseCondition(field: unknown, relation: unknown, rest: readonly unknown[]): Node {
  if (typeof field !== "string" || typeof relation !== "string") {
    throw badRequest("Request Parameters invalid.");
  }
  // `["id", "in", [1, 2]]` and `["id", "in", 1, 2]` are both accepted, as by the Python API.
  const values = (listRelations.has(relation) || rangeRelations.has(relation)) &&
      rest.length === 1 && Array.isArray(rest[0])
    ? rest[0] as unknown[]
    : rest;
  return { kind: "cond", cond: { field, relation, values } };
}

function parseNode(node: unknown): Node {
  if (Array.isArray(node)) return parseCondition(node[0], node[1], node.slice(2));
  if (node && typeof node === "object") {
    const o = node as Record<string, unknown>;
    if ("path" in o) {
      const values = Array.isArray(o.values) ? o.values : [o.values];
      return parseCondition(o.path, o.relation, values);
    }
    return parseGroup(o);
  }
  throw badRequest("Request Parameters invalid.");
}

function parseGroup(o: Record<string, unknown>): Node {
  const op = o.logical_operator ?? o.filter_operator ?? "and";
  const children = o.conditions ?? o.filters ?? [];
  if (!Array.isArray(children) || !["and", "or", "all", "any"].includes(String(op))) {
    throw badRequest("Request Parameters invalid.");
  }
  return { kind: "group", or: op === "or" || op === "any", children: children.map(parseNode) };
}

/**
 * Parse filters in either form.
 *
 * @param filters `[[field, relation, value], ...]` (api3_array) or `{logical_operator, conditions}` (api3_hash).
 * @param form Which content type the request used.
 * @returns The tree.
 * @throws {SimRequestError} 400 when the shape does not match the form.
 */
function parseFilters(filters: unknown, form: "array" | "hash"): Node {
  if (filters === undefined || filters === null) return { kind: "group", or: false, children: [] };
  if (form === "array") {
    if (!Array.isArray(filters)) throw badRequest("Request Parameters invalid.");
    return { kind: "group", or: false, children: filters.map(parseNode) };
  }
  if (typeof filters !== "object" || Array.isArray(filters)) {
    throw badRequest("Request Parameters invalid.");
  }
  return parseGroup(filters as Record<string, unknown>);
}

function linkMatches(value: unknown, target: unknown): boolean {
  if (target === null || target === undefined) return value === null || value === undefined;
  const v = value as { type?: unknown; id?: unknown } | null;
  const t = target as { type?: unknown; id?: unknown };
  return !!v && v.type === t.type && v.id === Number(t.id);
}

function scalar(f: FieldDef, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (f.type === "date_time") return typeof v === "number" ? v : Date.parse(String(v));
  if (f.type === "number" && typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) {
    return Number(v);
  }
  return v;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

function compileCondition(def: EntityDef, c: Condition, store: SimStore | undefined): Predicate {
  // A dotted field (`entity.Shot.sg_status_list`) filters on the linked record's field.
  const deep = c.field.includes(".") && store !== undefined;
  const f = deep ? deepField(store.schema, def, c.field) : def.fields[c.field];
  if (!f) throw badRequest(`API read() ${def.type}.${c.field} doesn't exist.`);
  if (f.unfilterable) {
    throw badRequest(
      `API read() ${def.type}.${c.field} of type ${f.type} cannot be used in filters.`,
    );
  }
  const name = c.field;
  const read = deep ? (row: Row) => deepValue(store, row, name) : (row: Row) => row[name];
  // Dates compare at the one-second precision ShotGrid stores and shows.
  const get = f.type === "date_time"
    ? (row: Row) => {
      const v = read(row);
      return typeof v === "number" ? Math.floor(v / 1000) * 1000 : v;
    }
    : read;
  const first = c.values[0];
  const isLink = f.type === "entity" || f.type === "multi_entity";
  const eq = isLink
    ? (value: unknown, target: unknown) =>
      f.type === "multi_entity"
        ? (target === null
          ? (value as unknown[]).length === 0
          : (value as unknown[]).some((l) => linkMatches(l, target)))
        : linkMatches(value, target)
    : (value: unknown, target: unknown) => {
      const t = scalar(f, target);
      return typeof value === "string" && typeof t === "string"
        ? value.toLowerCase() === t.toLowerCase()
        : value === t;
    };
  const text = (fn: (v: string, t: string) => boolean): Predicate => {
    const t = String(first ?? "").toLowerCase();
    return (row) => {
      const v = get(row);
      return typeof v === "string" && fn(v.toLowerCase(), t);
    };
  };
  const ordered = (fn: (n: number) => boolean): Predicate => {
    const t = scalar(f, first);
    return (row) => {
      const v = get(row);
      return v !== null && v !== undefined && fn(compare(v, t));
    };
  };
  switch (c.relation) {
    case "is":
      return (row) => eq(get(row), first);
    case "is_not":
      return (row) => !eq(get(row), first);
    case "in":
      return (row) => c.values.some((t) => eq(get(row), t));
    case "not_in":
      return (row) => !c.values.some((t) => eq(get(row), t));
    case "greater_than":
      return ordered((n) => n > 0);
    case "less_than":
      return ordered((n) => n < 0);
    case "between":
    case "not_between": {
      const lo = scalar(f, c.values[0]);
      const hi = scalar(f, c.values[1]);
      const inside = (row: Row) => {
        const v = get(row);
        return v !== null && v !== undefined && compare(v, lo) >= 0 && compare(v, hi) <= 0;
      };
      return c.relation === "between" ? inside : (row) => !inside(row);
    }
    case "contains":
      return text((v, t) => v.includes(t));
    case "not_contains":
      return (row) => !text((v, t) => v.includes(t))(row);
    case "starts_with":
      return text((v, t) => v.startsWith(t));
    case "ends_with":
      return text((v, t) => v.endsWith(t));
    case "type_is":
      return (row) => (get(row) as { type?: string } | null)?.type === first;
    case "type_is_not":
      return (row) => (get(row) as { type?: string } | null)?.type !== first;
    default:
      throw badRequest(`API read() ${def.type}.${c.field}: relation "${c.relation}" is not valid`);
  }
}

function compileNode(def: EntityDef, node: Node, store: SimStore | undefined): Predicate {
  if (node.kind === "cond") return compileCondition(def, node.cond, store);
  const preds = node.children.map((child) => compileNode(def, child, store));
  if (preds.length === 0) return () => !node.or || node.children.length === 0;
  return node.or ? (row) => preds.some((p) => p(row)) : (row) => preds.every((p) => p(row));
}

/** Narrow the id range with the `id` conditions of the top-level AND. */
function boundsOf(node: Node): IdBounds {
  const bounds: IdBounds = { min: 1, max: Number.MAX_SAFE_INTEGER };
  if (node.kind !== "group" || node.or) return bounds;
  for (const child of node.children) {
    if (child.kind !== "cond" || child.cond.field !== "id") continue;
    const nums = child.cond.values.map(Number);
    const n = nums[0]!;
    switch (child.cond.relation) {
      case "is":
        if (Number.isFinite(n)) narrowList(bounds, [n]);
        break;
      case "in":
        if (nums.every(Number.isFinite)) narrowList(bounds, nums);
        break;
      case "greater_than":
        if (Number.isFinite(n)) bounds.min = Math.max(bounds.min, Math.floor(n) + 1);
        break;
      case "less_than":
        if (Number.isFinite(n)) bounds.max = Math.min(bounds.max, Math.ceil(n) - 1);
        break;
      case "between":
        if (Number.isFinite(n)) bounds.min = Math.max(bounds.min, Math.ceil(n));
        if (Number.isFinite(nums[1])) bounds.max = Math.min(bounds.max, Math.floor(nums[1]!));
        break;
    }
  }
  return bounds;
}

function narrowList(bounds: IdBounds, ids: number[]): void {
  const set = new Set(ids.filter(Number.isInteger));
  const list = bounds.list
    ? bounds.list.filter((id) => set.has(id))
    : [...set].sort((a, b) => a - b);
  bounds.list = list;
}

/**
 * Compile filters for one entity type.
 *
 * @param def The entity type searched.
 * @param filters Filters as sent.
 * @param form `array` for api3_array, `hash` for api3_hash.
 * @param store Follows dotted fields (`entity.Shot.code`); without it they are unknown fields.
 * @returns Predicate and id bounds.
 * @throws {SimRequestError} 400 for a bad shape, an unknown field, `meta`, or an unknown relation.
 */
export function compileFilter(
  def: EntityDef,
  filters: unknown,
  form: "array" | "hash",
  store?: SimStore,
): CompiledFilter {
  const tree = parseFilters(filters, form);
  return { predicate: compileNode(def, tree, store), bounds: boundsOf(tree) };
}

/**
 * Parse a `sort` parameter: `"id"`, `"-id"`, `"created_at,-id"`.
 *
 * @param def The entity type.
 * @param sort As sent (string or array).
 * @returns Sort keys (default: id ascending).
 * @throws {SimRequestError} 400 for an unknown field.
 */
export function parseSort(def: EntityDef, sort: unknown): SortKey[] {
  if (sort === undefined || sort === null || sort === "") {
    return [{ field: "id", descending: false }];
  }
  const parts = Array.isArray(sort) ? sort.map(String) : String(sort).split(",");
  return parts.map((p) => p.trim()).filter((p) => p !== "").map((p) => {
    const descending = p.startsWith("-");
    const field = descending ? p.slice(1) : p;
    if (!def.fields[field]) throw badRequest(`API read() ${def.type}.${field} doesn't exist.`);
    return { field, descending };
  });
}

/** One page to fetch. */
export interface PageRequest {
  readonly size: number;
  readonly number: number;
}

/**
 * Run a search: rows matching `filter`, sorted, one page of them.
 *
 * Sorting on `id` alone walks the id index and stops after the page; any other sort
 * collects every match first (fine for the small entity tables).
 *
 * @param store The site's data.
 * @param def The entity type.
 * @param options Compiled filter, sort keys and page.
 * @returns The page's rows.
 */
export function runSearch(
  store: SimStore,
  def: EntityDef,
  options: { filter: CompiledFilter; sort: readonly SortKey[]; page: PageRequest },
): Row[] {
  const { filter, sort, page } = options;
  const skip = (page.number - 1) * page.size;
  const { min, max, list } = filter.bounds;
  const byIdOnly = sort.length === 0 || (sort.length === 1 && sort[0]!.field === "id");
  const descending = byIdOnly && sort[0]?.descending === true;
  let ids: Iterable<number>;
  if (list) {
    const inRange = list.filter((id) => id >= min && id <= max);
    ids = descending ? inRange.reverse() : inRange;
  } else {
    ids = store.ids(def.type, min, max, descending);
  }
  const out: Row[] = [];
  let matched = 0;
  for (const id of ids) {
    const row = store.row(def.type, id);
    if (!row || !filter.predicate(row)) continue;
    if (byIdOnly) {
      if (matched++ < skip) continue;
      out.push(row);
      if (out.length >= page.size) break;
    } else {
      out.push(row);
    }
  }
  if (byIdOnly) return out;
  out.sort((a, b) => {
    for (const key of sort) {
      const c = compare(a[key.field], b[key.field]);
      if (c !== 0) return key.descending ? -c : c;
    }
    return 0;
  });
  return out.slice(skip, skip + page.size);
}
