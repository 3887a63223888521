/**
 * `POST /api/v1/entity/{type}/_summarize`: the Python API's `summarize()` over REST.
 *
 * Request (filters in either content type, as `_search`):
 * `{"filters": [...], "summary_fields": [{"field": "id", "type": "count"}],
 *   "grouping": [{"field": "sg_status_list", "type": "exact", "direction": "asc"}]}`.
 * Answer: `{"data": {"summaries": {"id": 5}, "groups": [{"group_name": "ip",
 * "group_value": "ip", "summaries": {"id": 3}}]}}` (the Python API returns `data` as is).
 * Summary types done here: `record_count`, `count` (non-empty values), `sum`, `minimum`,
 * `maximum`, `average`, `earliest`, `latest`, `checked`, `unchecked`.
 *
 * @module
 */

import { badRequest } from "./errors.ts";
import type { EntityDef } from "./schema.ts";
import { type CompiledFilter, runSearch } from "./search.ts";
import type { LinkInput, Row, SimStore } from "./store.ts";
import { isoSeconds } from "./store.ts";

/** One `summary_fields` entry. */
interface Summary {
  readonly field: string;
  readonly type: string;
}

/** One `grouping` entry (`exact` only). */
interface Grouping {
  readonly field: string;
  readonly descending: boolean;
}

const summaryTypes = new Set([
  "record_count",
  "count",
  "sum",
  "minimum",
  "maximum",
  "average",
  "earliest",
  "latest",
  "checked",
  "unchecked",
]);

function parseSummaries(def: EntityDef, value: unknown): Summary[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw badRequest("API summarize() summary_fields must be a non-empty array");
  }
  return value.map((s) => {
    const o = s as Partial<Summary> | null;
    if (!o || typeof o.field !== "string" || typeof o.type !== "string") {
      throw badRequest('API summarize() summary_fields entries are {"field", "type"}');
    }
    if (!(o.field in def.fields)) {
      throw badRequest(`API summarize() ${def.type}.${o.field} doesn't exist.`);
    }
    if (!summaryTypes.has(o.type)) {
      throw badRequest(`API summarize() summary type "${o.type}" is not supported`);
    }
    return { field: o.field, type: o.type };
  });
}

function parseGrouping(def: EntityDef, value: unknown): Grouping[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw badRequest("API summarize() grouping must be an array");
  return value.map((g) => {
    const o = g as { field?: unknown; type?: unknown; direction?: unknown } | null;
    if (!o || typeof o.field !== "string" || !(o.field in def.fields)) {
      throw badRequest(`API summarize() grouping field ${JSON.stringify(o?.field)} doesn't exist.`);
    }
    if (o.type !== undefined && o.type !== "exact") {
      throw badRequest(`API summarize() grouping type ${JSON.stringify(o.type)} is not supported`);
    }
    return { field: o.field, descending: o.direction === "desc" };
  });
}

function summarizeRows(def: EntityDef, rows: readonly Row[], summaries: readonly Summary[]) {
  const out: Record<string, unknown> = {};
  for (const { field, type } of summaries) {
    const values = rows.map((r) => (field === "id" ? r.id : r[field]))
      .filter((v) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0));
    const numbers = values.filter((v): v is number => typeof v === "number");
    const isDate = def.fields[field]?.type === "date_time";
    const shown = (n: number | undefined) => n === undefined ? null : isDate ? isoSeconds(n) : n;
    switch (type) {
      case "record_count":
        out[field] = rows.length;
        break;
      case "count":
        out[field] = values.length;
        break;
      case "sum":
        out[field] = numbers.reduce((a, b) => a + b, 0);
        break;
      case "average":
        out[field] = numbers.length ? numbers.reduce((a, b) => a + b, 0) / numbers.length : null;
        break;
      case "minimum":
      case "earliest":
        out[field] = shown(numbers.length ? Math.min(...numbers) : undefined);
        break;
      case "maximum":
      case "latest":
        out[field] = shown(numbers.length ? Math.max(...numbers) : undefined);
        break;
      case "checked":
        out[field] = rows.filter((r) => r[field] === true).length;
        break;
      case "unchecked":
        out[field] = rows.filter((r) => r[field] !== true).length;
        break;
    }
  }
  return out;
}

/** The group key and shown name of a value: links by `type:id` and their name. */
function groupOf(store: SimStore, value: unknown): { key: string; name: string; value: unknown } {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const link = store.resolveLink(value as LinkInput);
    if (!link) return { key: "", name: "", value: null };
    return { key: `${link.type}:${link.id}`, name: link.name ?? String(link.id), value: link };
  }
  if (value === null || value === undefined) return { key: "", name: "", value: null };
  return { key: JSON.stringify(value), name: String(value), value };
}

function groupRows(
  store: SimStore,
  def: EntityDef,
  rows: readonly Row[],
  grouping: readonly Grouping[],
  summaries: readonly Summary[],
): unknown[] {
  const [first, ...rest] = grouping;
  if (!first) return [];
  const groups = new Map<string, { name: string; value: unknown; rows: Row[] }>();
  for (const row of rows) {
    const g = groupOf(store, row[first.field]);
    let group = groups.get(g.key);
    if (!group) groups.set(g.key, group = { name: g.name, value: g.value, rows: [] });
    group.rows.push(row);
  }
  const sorted = [...groups.values()].sort((a, b) =>
    (first.descending ? -1 : 1) * a.name.localeCompare(b.name)
  );
  return sorted.map((g) => {
    const out: Record<string, unknown> = {
      group_name: g.name,
      group_value: g.value,
      summaries: summarizeRows(def, g.rows, summaries),
    };
    if (rest.length > 0) out.groups = groupRows(store, def, g.rows, rest, summaries);
    return out;
  });
}

/**
 * Answer one summarize request.
 *
 * @param store The site's data.
 * @param def The entity type.
 * @param request The compiled filter and the body's `summary_fields` and `grouping`.
 * @returns `{summaries, groups}`, the answer's `data`.
 * @throws {SimRequestError} 400 for an unknown field or summary type.
 */
export function summarize(
  store: SimStore,
  def: EntityDef,
  request: { filter: CompiledFilter; summaryFields: unknown; grouping: unknown },
): { summaries: Record<string, unknown>; groups: unknown[] } {
  const summaries = parseSummaries(def, request.summaryFields);
  const grouping = parseGrouping(def, request.grouping);
  const rows = runSearch(store, def, {
    filter: request.filter,
    sort: [{ field: "id", descending: false }],
    page: { size: Number.MAX_SAFE_INTEGER, number: 1 },
  });
  return {
    summaries: summarizeRows(def, rows, summaries),
    groups: groupRows(store, def, rows, grouping, summaries),
  };
}
