/**
 * The shapes ShotGrid records take once the client has flattened the REST API's
 * JSON:API documents into what the Python API (and so every existing plugin) sees.
 *
 * @module
 */

/** A link to another entity, as the Python API returns it. */
export interface EntityLink {
  readonly type: string;
  readonly id: number;
  readonly name?: string | null;
}

/** A JSON value as ShotGrid stores it in a field or in `meta`. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** A flat record: `{type, id, field...}` with entity links folded into fields. */
export interface FlatRecord {
  readonly type: string;
  readonly id: number;
  readonly [field: string]: unknown;
}

/**
 * One EventLogEntry, flat, as plugins receive it.
 *
 * `entity`, `user` and `project` are `null` when empty or when the target was retired.
 */
export interface ShotGridEvent extends FlatRecord {
  readonly type: "EventLogEntry";
  readonly id: number;
  readonly event_type: string;
  readonly attribute_name: string | null;
  readonly meta: { readonly [key: string]: JsonValue } | null;
  readonly entity: EntityLink | null;
  readonly user: EntityLink | null;
  readonly project: EntityLink | null;
  readonly session_uuid: string | null;
  /** UTC, `YYYY-MM-DDTHH:MM:SSZ`. */
  readonly created_at: string;
  readonly description?: string | null;
}

/** The EventLogEntry fields the daemon asks for. */
export const eventFields: readonly string[] = [
  "id",
  "event_type",
  "attribute_name",
  "meta",
  "entity",
  "user",
  "project",
  "session_uuid",
  "created_at",
  "description",
];

/** A single condition: `[field, relation, value]` (values may be several for `between`). */
export type FilterCondition = readonly [string, string, ...unknown[]];

/** The nested and/or form ShotGrid accepts as `api3_hash` filters. */
export interface FilterGroup {
  readonly filter_operator?: "all" | "any";
  readonly logical_operator?: "and" | "or";
  readonly filters?: readonly Filter[];
  readonly conditions?: readonly Filter[];
}

/** A filter: a condition or a nested group. */
export type Filter = FilterCondition | FilterGroup;
