/**
 * The schema read endpoints, in the shape the REST API answers them (the Python API's
 * `schema_entity_read()`/`schema_field_read()` return the inside of `data`):
 *
 * - `GET /api/v1/schema` -> `{"data": {"Shot": {"name": {"value": "Shot", "editable": false},
 *   "visible": {...}}, ...}}`,
 * - `GET /api/v1/schema/{type}/fields` -> `{"data": {"code": FIELD, ...}}`,
 * - `GET /api/v1/schema/{type}/fields/{field}` -> `{"data": FIELD}`,
 *
 * where FIELD is `{"data_type": {"value": "text", "editable": false}, "name": {...},
 * "entity_type": {...}, "editable": {...}, "mandatory": {...}, "unique": {...}, "visible":
 * {...}, "description": {...}, "properties": {"default_value": {...}, "valid_types": {...}
 * (links), "valid_values": {...} (status and list fields)}}`.
 *
 * @module
 */

import type { EntityDef, FieldDef, SimSchema } from "./schema.ts";
import type { SimStore } from "./store.ts";

/** `{"value": v, "editable": e}`, the shape of every schema property. */
function prop(value: unknown, editable = false): { value: unknown; editable: boolean } {
  return { value, editable };
}

/** `sg_status_list` -> `Status List`, as a site shows a field it was not given a name for. */
function titleOf(name: string): string {
  const words = name.replace(/^sg_/, "").split("_").filter((w) => w !== "");
  return words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(" ");
}

/**
 * Every entity type, as `GET /api/v1/schema` answers.
 *
 * @param schema The site's schema.
 * @returns The answer's `data`.
 */
export function schemaEntities(schema: SimSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const def of schema.defs) {
    out[def.type] = { name: prop(def.displayName ?? def.type, true), visible: prop(true) };
  }
  return out;
}

/**
 * One field's schema.
 *
 * @param store Supplies the status codes a `status_list` field takes.
 * @param def The entity type.
 * @param name The field.
 * @returns The field's schema, or `undefined` when the type has no such field.
 */
export function schemaField(
  store: SimStore,
  def: EntityDef,
  name: string,
): Record<string, unknown> | undefined {
  const f: FieldDef | undefined = def.fields[name];
  if (!f) return undefined;
  const properties: Record<string, unknown> = {
    default_value: prop(f.default ?? null, true),
    summary_default: prop("none", true),
  };
  if (f.type === "entity" || f.type === "multi_entity") {
    properties.valid_types = prop(f.linkTypes ?? [], true);
  }
  if (f.type === "status_list") properties.valid_values = prop(statusCodes(store), true);
  return {
    data_type: prop(f.type),
    name: prop(f.displayName ?? (name === "id" ? "Id" : titleOf(name)), true),
    entity_type: prop(def.type),
    editable: prop(!f.system && name !== "id"),
    mandatory: prop(false),
    unique: prop(false),
    visible: prop(true),
    description: prop("", true),
    properties,
  };
}

/**
 * Every field of a type.
 *
 * @param store Supplies the status codes.
 * @param def The entity type.
 * @returns The answer's `data`: field name -> schema.
 */
export function schemaFields(store: SimStore, def: EntityDef): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(def.fields)) out[name] = schemaField(store, def, name);
  return out;
}

function statusCodes(store: SimStore): string[] {
  const codes: string[] = [];
  for (const id of store.ids("Status", 1, Number.MAX_SAFE_INTEGER, false)) {
    const code = store.row("Status", id)?.code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}
