/**
 * Rows to the REST API's JSON:API-like resources: scalars under `attributes`, entity links
 * under `relationships` (`data: null` when empty or retired), dates `YYYY-MM-DDTHH:MM:SSZ`.
 *
 * @module
 */

import type { EntityDef } from "./schema.ts";
import { recordPath } from "./schema.ts";
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
  return trimmed.filter((n) => n !== "id" && n in def.fields);
}

function relationship(store: SimStore, link: LinkInput | null | undefined): unknown {
  const l = store.resolveLink(link);
  if (!l) return { data: null };
  return {
    data: { id: l.id, name: l.name, type: l.type },
    links: { related: recordPath(l.type, l.id) },
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
    const f = def.fields[name]!;
    const value = row[name] ?? null;
    switch (f.type) {
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
    links: { self: recordPath(def.type, row.id) },
  };
}
