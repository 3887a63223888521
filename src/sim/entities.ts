/**
 * The entity tables of a simulated site: typed storage, value checking, and links as readers
 * see them (current name, `null` once the target is retired).
 *
 * @module
 */

import type { Link } from "./dataset.ts";
import { badRequest, SimRequestError } from "./errors.ts";
import type { EntityDef, FieldDef, SimSchema } from "./schema.ts";

/** A link given by a caller: `{type, id}` (a `name` is ignored). */
export interface LinkInput {
  readonly type: string;
  readonly id: number;
}

/** Who did a write, and in which session. */
export interface WriteOptions {
  /** The HumanUser or ApiUser the rows name (default: HumanUser 1, `jo`). */
  readonly user?: LinkInput | null;
  /** `session_uuid` of the logged rows (default null). */
  readonly sessionUuid?: string | null;
}

/** A record as the Python API shows it: flat, links as `{type, id, name}`, dates ISO. */
export interface SimRecord {
  readonly type: string;
  readonly id: number;
  readonly [field: string]: unknown;
}

/** An internal row as filters see it: links `{type, id, name?}`, dates in epoch ms. */
export type Row = { readonly type: string; readonly id: number; readonly [field: string]: unknown };

/** One stored entity: links as `{type, id}`, dates in epoch ms. */
export interface Entity {
  readonly type: string;
  readonly id: number;
  retired: boolean;
  readonly fields: Record<string, unknown>;
}

/**
 * Format epoch ms as ShotGrid does: `YYYY-MM-DDTHH:MM:SSZ`.
 *
 * @param ms Epoch ms.
 * @returns The UTC date string.
 */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + "Z";
}

/** Every entity of a site, by type and id. */
export class EntityTable {
  readonly #clock: () => number;
  readonly #schema: SimSchema;
  #entities = new Map<string, Map<number, Entity>>();
  #nextId = new Map<string, number>();
  #nextAttachment = 11_000;

  /**
   * @param clock Epoch ms clock for `created_at`/`updated_at`.
   * @param schema The site's entity types.
   */
  constructor(clock: () => number, schema: SimSchema) {
    this.#clock = clock;
    this.#schema = schema;
  }

  /** The site's entity types. */
  get schema(): SimSchema {
    return this.#schema;
  }

  /**
   * Remember every entity as it is now, for a batch that may fail.
   *
   * @returns Puts every entity (and the id counters) back as they were at this call.
   */
  snapshot(): () => void {
    // Field values are replaced on write, never mutated, so copying each fields object suffices.
    const entities = new Map<string, Map<number, Entity>>();
    for (const [type, table] of this.#entities) {
      const copy = new Map<number, Entity>();
      for (const [id, e] of table) copy.set(id, { ...e, fields: { ...e.fields } });
      entities.set(type, copy);
    }
    const nextId = new Map(this.#nextId);
    const nextAttachment = this.#nextAttachment;
    return () => {
      this.#entities = entities;
      this.#nextId = nextId;
      this.#nextAttachment = nextAttachment;
    };
  }

  /**
   * Insert an entity without logging.
   *
   * @param type Entity type.
   * @param fields Stored values.
   * @returns The entity.
   */
  insert(type: string, fields: Record<string, unknown>): Entity {
    const def = this.def(type);
    const id = this.#nextId.get(type) ?? 1;
    this.#nextId.set(type, id + 1);
    const now = this.#clock();
    const values: Record<string, unknown> = {};
    for (const [name, f] of Object.entries(def.fields)) {
      if (name === "id" || f.system) continue;
      values[name] = f.type === "multi_entity" ? [] : (f.default ?? null);
    }
    Object.assign(values, fields, {
      created_at: now,
      updated_at: now,
      created_by: null,
      updated_by: null,
    });
    const entity: Entity = { type, id, retired: false, fields: values };
    let table = this.#entities.get(type);
    if (!table) this.#entities.set(type, table = new Map());
    table.set(id, entity);
    return entity;
  }

  /**
   * The definition of a writable entity type.
   *
   * @param type Entity type.
   * @returns Its definition.
   * @throws {SimRequestError} 400 for an unknown type or EventLogEntry.
   */
  def(type: string): EntityDef {
    const def = this.#schema.entityDef(type);
    if (!def || def.type === "EventLogEntry") {
      throw badRequest(`Entity type "${type}" is not valid`);
    }
    return def;
  }

  /**
   * A live entity, for a write.
   *
   * @param type Entity type.
   * @param id Entity id.
   * @param action The API action named in the error (`update`, `delete`...).
   * @returns The entity.
   * @throws {SimRequestError} 404 code 104 when absent or retired.
   */
  entity(type: string, id: number, action: string): Entity {
    this.def(type);
    const e = this.find(type, id);
    if (!e || e.retired) throw this.missing(type, id, action);
    return e;
  }

  /**
   * An entity, live or retired.
   *
   * @param type Entity type.
   * @param id Entity id.
   * @returns The entity, or `undefined`.
   */
  find(type: string, id: number): Entity | undefined {
    return this.#entities.get(type)?.get(id);
  }

  /**
   * The 404 a write on an unknown record gets.
   *
   * @param type Entity type.
   * @param id Entity id.
   * @param action The API action.
   * @returns The error.
   */
  missing(type: string, id: number, action: string): SimRequestError {
    return new SimRequestError(404, 104, "Record not found", {
      detail: `API ${action}() ${type} with id ${id} not found`,
    });
  }

  /**
   * A new attachment id for a thumbnail.
   *
   * @returns The id.
   */
  nextAttachment(): number {
    return this.#nextAttachment++;
  }

  /**
   * The link as a reader sees it now: `null` once the target is retired; the current name.
   *
   * @param link A stored link.
   * @returns The link, or `null`.
   */
  resolveLink(link: LinkInput | null | undefined): Link | null {
    if (!link) return null;
    const e = this.#entities.get(link.type)?.get(link.id);
    if (!e) return { type: link.type, id: link.id, name: (link as Partial<Link>).name ?? null };
    if (e.retired) return null;
    return { type: e.type, id: e.id, name: this.displayName(e) };
  }

  /**
   * The link name of an entity (its display field).
   *
   * @param e The entity.
   * @returns The name, or `null`.
   */
  displayName(e: Entity): string | null {
    const v = e.fields[this.def(e.type).displayField];
    return typeof v === "string" ? v : null;
  }

  /**
   * Find a live entity by one field's value.
   *
   * @param type Entity type.
   * @param field Field name.
   * @param value Value to match.
   * @returns The entity's link, or `undefined`.
   */
  findBy(type: string, field: string, value: unknown): Link | undefined {
    for (const e of this.#entities.get(type)?.values() ?? []) {
      if (!e.retired && e.fields[field] === value) return this.resolveLink(e) ?? undefined;
    }
    return undefined;
  }

  /**
   * A live entity as filters see it.
   *
   * @param type CamelCase type.
   * @param id Record id.
   * @returns The row, or `undefined` (absent or retired).
   */
  liveRow(type: string, id: number): Row | undefined {
    const e = this.#entities.get(type)?.get(id);
    return e && !e.retired ? { type, id, ...e.fields } : undefined;
  }

  /**
   * Ids of live entities of a type in `[from, to]`, in id order.
   *
   * @param type CamelCase type.
   * @param from Lowest id.
   * @param to Highest id.
   * @param descending Order.
   * @returns The ids.
   */
  liveIds(type: string, from: number, to: number, descending: boolean): Iterable<number> {
    const ids: number[] = [];
    for (const e of this.#entities.get(type)?.values() ?? []) {
      if (!e.retired && e.id >= from && e.id <= to) ids.push(e.id);
    }
    return descending ? ids.reverse() : ids;
  }

  /**
   * The flat record (Python API shape) of a live entity.
   *
   * @param type Entity type.
   * @param id Entity id.
   * @returns The record, or `undefined` when absent or retired.
   */
  get(type: string, id: number): SimRecord | undefined {
    const e = this.#entities.get(type)?.get(id);
    return e && !e.retired ? this.record(e) : undefined;
  }

  /**
   * The flat record (Python API shape) of an entity.
   *
   * @param e The entity.
   * @returns The record.
   */
  record(e: Entity): SimRecord {
    const def = this.def(e.type);
    const out: Record<string, unknown> = { type: e.type, id: e.id };
    for (const [name, value] of Object.entries(e.fields)) {
      out[name] = this.metaValue(def.fields[name], value);
    }
    return out as SimRecord;
  }

  /**
   * A stored value as it appears in `meta` and in flat records (links named, dates ISO).
   *
   * @param f The field's definition.
   * @param value The stored value.
   * @returns The shown value.
   */
  metaValue(f: FieldDef | undefined, value: unknown): unknown {
    if (value === null || value === undefined) return null;
    switch (f?.type) {
      case "entity":
        return this.resolveLink(value as LinkInput);
      case "multi_entity":
        return (value as LinkInput[]).map((l) => this.resolveLink(l)).filter((l) => l !== null);
      case "date_time":
        return isoSeconds(value as number);
      default:
        return value;
    }
  }

  /**
   * Check and convert one written value to its stored form.
   *
   * @param def The entity type.
   * @param name Field name.
   * @param value Value as sent.
   * @param action The API action named in errors.
   * @returns The stored value.
   * @throws {SimRequestError} 400 for an unknown, read-only or mistyped field.
   */
  normalize(def: EntityDef, name: string, value: unknown, action: string): unknown {
    const f = def.fields[name];
    if (!f) throw badRequest(`API ${action}() ${def.type}.${name} doesn't exist.`);
    if (f.system || name === "id") {
      throw badRequest(`API ${action}() ${def.type}.${name} is read only.`);
    }
    const invalid = () =>
      badRequest(`API ${action}() ${def.type}.${name}: invalid value ${JSON.stringify(value)}`);
    const toLink = (v: unknown): LinkInput => {
      const l = v as Partial<LinkInput> | null;
      if (!l || typeof l !== "object" || typeof l.type !== "string" || typeof l.id !== "number") {
        throw invalid();
      }
      if (f.linkTypes?.length && !f.linkTypes.includes(l.type)) throw invalid();
      const target = this.#entities.get(l.type)?.get(l.id);
      if (!target || target.retired) throw invalid();
      return { type: l.type, id: l.id };
    };
    if (f.type === "multi_entity") {
      if (value === null) return [];
      if (!Array.isArray(value)) throw invalid();
      return value.map(toLink);
    }
    if (value === null) return null;
    switch (f.type) {
      case "entity":
        return toLink(value);
      case "number":
      case "image":
        if (typeof value !== "number") throw invalid();
        return value;
      case "checkbox":
        if (typeof value !== "boolean") throw invalid();
        return value;
      case "date_time": {
        const ms = typeof value === "string" ? Date.parse(value) : NaN;
        if (Number.isNaN(ms)) throw invalid();
        return ms;
      }
      case "serializable":
        return value;
      default:
        if (typeof value !== "string") throw invalid();
        return value;
    }
  }
}
