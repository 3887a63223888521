/**
 * Rows to the REST API's JSON:API-like resources: scalars under `attributes`, entity links
 * under `relationships` (`data: null` when empty or retired), dates `YYYY-MM-DDTHH:MM:SSZ`.
 *
 * @module
 */

import type { EntityDef, FieldDef, SimSchema } from "./schema.ts";
import { isoSeconds, type LinkInput, type Row, type SimStore } from "./store.ts";

/** One resource of a `data` array. */
export interface Resource {
  type: string;
  id: number;
  attributes: Record<string, unknown>;
  relationships: Record<string, unknown>;
  links: { self: string };
}

/**
 * Which fields a request asked for.
 *
 * Dotted ("deep") fields such as `entity.Shot.code` are kept when every part exists (checked
 * against `schema`); {@link renderRow} follows them.
 *
 * @param def The entity type.
 * @param fields `"*"`, `"a,b"`, an array, or nothing (= all).
 * @param schema The site's types, to check dotted fields (without it they are ignored).
 * @returns Known field names (unknown ones are ignored, as real sites do for reads).
 */
export function parseFields(def: EntityDef, fields: unknown, schema?: SimSchema): string[] {
  const all = Object.keys(def.fields).filter((f) => f !== "id");
  if (fields === undefined || fields === null || fields === "") return all;
  const names = Array.isArray(fields) ? fields.map(String) : String(fields).split(",");
  const trimmed = names.map((n) => n.trim());
  if (trimmed.includes("*")) return all;
  return trimmed.filter((n) => {
    if (n === "id") return false;
    if (!n.includes(".")) return n in def.fields;
    return schema !== undefined && deepField(schema, def, n) !== undefined;
  });
}

/**
 * The field a dotted path (`entity.Shot.code`) ends at, checked link by link.
 *
 * @param schema The site's entity types.
 * @param def The type the path starts from.
 * @param path The dotted path: link field, entity type, link field, ..., field.
 * @returns The last field's definition, or `undefined` when any part does not exist.
 */
export function deepField(schema: SimSchema, def: EntityDef, path: string): FieldDef | undefined {
  const parts = path.split(".");
  if (parts.length < 3 || parts.length % 2 === 0) return undefined;
  let current: EntityDef | undefined = def;
  for (let i = 0; i + 2 < parts.length; i += 2) {
    const link: FieldDef | undefined = current?.fields[parts[i]!];
    const type = parts[i + 1]!;
    if (link?.type !== "entity" && link?.type !== "multi_entity") return undefined;
    if (link.linkTypes?.length && !link.linkTypes.includes(type)) return undefined;
    current = schema.entityDef(type);
    if (current?.type !== type) return undefined;
  }
  const last = parts.at(-1)!;
  return last === "id" ? { type: "number" } : current?.fields[last];
}

/**
 * The stored value at the end of a dotted path (`entity.Shot.code`, `project.Project.name`);
 * `null` when a link on the way is empty, retired, or of another type. A multi-entity link on
 * the way is followed through its first link.
 *
 * @param store Reads the linked rows.
 * @param row The row the path starts from.
 * @param path The dotted path.
 * @returns The value, as stored (links `{type, id}`, dates epoch ms).
 */
export function deepValue(store: SimStore, row: Row, path: string): unknown {
  const parts = path.split(".");
  let current: Row | undefined = row;
  for (let i = 0; i + 2 < parts.length; i += 2) {
    const stored: unknown = current?.[parts[i]!];
    const link = (Array.isArray(stored) ? stored[0] : stored) as LinkInput | null | undefined;
    const type = parts[i + 1]!;
    if (!link || link.type !== type) return null;
    current = store.row(type, link.id);
    if (!current) return null;
  }
  const last = parts.at(-1)!;
  return (last === "id" ? current?.id : current?.[last]) ?? null;
}

function relationship(store: SimStore, link: LinkInput | null | undefined): unknown {
  const l = store.resolveLink(link);
  if (!l) return { data: null };
  return {
    data: { id: l.id, name: l.name, type: l.type },
    links: { related: store.schema.recordPath(l.type, l.id) },
  };
}

/**
 * Render one row.
 *
 * @param store Resolves link names and retired targets.
 * @param def The row's entity type.
 * @param row The row.
 * @param fields Field names to include.
 * @returns The resource.
 */
export function renderRow(
  store: SimStore,
  def: EntityDef,
  row: Row,
  fields: readonly string[],
): Resource {
  const attributes: Record<string, unknown> = {};
  const relationships: Record<string, unknown> = {};
  for (const name of fields) {
    // A deep field is returned under its dotted name, typed as its last field is.
    const deep = !(name in def.fields);
    const f = deep ? deepField(store.schema, def, name) : def.fields[name];
    const value: unknown = deep ? deepValue(store, row, name) : row[name] ?? null;
    switch (f?.type) {
      case "entity":
        relationships[name] = relationship(store, value as LinkInput | null);
        break;
      case "multi_entity": {
        const links = ((value ?? []) as LinkInput[]).map((l) => store.resolveLink(l)).filter((l) =>
          l !== null
        );
        relationships[name] = {
          data: links.map((l) => ({ id: l.id, name: l.name, type: l.type })),
        };
        break;
      }
      case "date_time":
        attributes[name] = value === null ? null : isoSeconds(value as number);
        break;
      case "image":
        attributes[name] = value === null ? null : `/thumbnail/api_image/${value}`;
        break;
      default:
        attributes[name] = value;
    }
  }
  return {
    type: def.type,
    id: row.id,
    attributes,
    relationships,
    links: { self: store.schema.recordPath(def.type, row.id) },
  };
}
