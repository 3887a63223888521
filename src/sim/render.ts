/**
 * Rows to the REST API's JSON:API-like resources: scalars under `attributes`, entity links
 * under `relationships` (`data: null` when empty or retired), dates `YYYY-MM-DDTHH:MM:SSZ`.
 *
 * @module
 */

import type { EntityDef, FieldDef } from "./schema.ts";
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
 * Dotted ("deep") fields such as `entity.Shot.code` are kept when their first part is a
 * link field of `def`; {@link renderRow} follows them.
 *
 * @param def The entity type.
 * @param fields `"*"`, `"a,b"`, an array, or nothing (= all).
 * @returns Known field names (unknown ones are ignored, as real sites do for reads).
 */
export function parseFields(def: EntityDef, fields: unknown): string[] {
  const all = Object.keys(def.fields).filter((f) => f !== "id");
  if (fields === undefined || fields === null || fields === "") return all;
  const names = Array.isArray(fields) ? fields.map(String) : String(fields).split(",");
  const trimmed = names.map((n) => n.trim());
  if (trimmed.includes("*")) return all;
  return trimmed.filter((n) => {
    if (n === "id") return false;
    const dot = n.indexOf(".");
    if (dot < 0) return n in def.fields;
    const type = def.fields[n.slice(0, dot)]?.type;
    return /^[^.]+\.[A-Za-z0-9_]+\.[^.]/.test(n) && (type === "entity" || type === "multi_entity");
  });
}

/**
 * The value at the end of a dotted path (`entity.Shot.code`, `project.Project.name`), as the
 * stored value of the last field, with that field's definition; `null` when a link on the way
 * is empty, retired, or of another type. A multi-entity link on the way is followed through its
 * first link, which is what the Python API's deep reads return for them.
 */
function deepValue(
  store: SimStore,
  row: Row,
  path: string,
): { value: unknown; field: FieldDef | undefined } {
  const parts = path.split(".");
  let current: Row | undefined = row;
  let def: EntityDef | undefined = store.schema.entityDef(row.type);
  for (let i = 0; i + 2 < parts.length; i += 2) {
    const stored: unknown = current?.[parts[i]!];
    const link = (Array.isArray(stored) ? stored[0] : stored) as LinkInput | null | undefined;
    const type = parts[i + 1]!;
    if (!link || link.type !== type) return { value: null, field: undefined };
    current = store.row(type, link.id);
    def = store.schema.entityDef(type);
    if (!current || !def) return { value: null, field: undefined };
  }
  const last = parts.at(-1)!;
  if (last === "id") return { value: current?.id ?? null, field: { type: "number" } };
  return { value: current?.[last] ?? null, field: def?.fields[last] };
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
    let f = def.fields[name];
    let value: unknown = row[name] ?? null;
    // A deep field is returned under its dotted name, typed as its last field is.
    if (!f) ({ field: f, value } = deepValue(store, row, name));
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
