/**
 * Writes and the EventLogEntry rows they log, exactly as ShotGrid logs them: one `_New` row
 * plus one in-create `_Change` row per populated field, attribute changes with old/new
 * values, multi-entity added/removed, retirement, revival, and the transient/final
 * thumbnail pair. Also {@link Transaction}, whose rows commit late.
 *
 * @module
 */

import type { Link } from "./dataset.ts";
import { badRequest } from "./errors.ts";
import {
  type EntityTable,
  isoSeconds,
  type LinkInput,
  type SimRecord,
  type WriteOptions,
} from "./entities.ts";
import type { EventLog, EventRow } from "./event_log.ts";
import type { FieldDef } from "./schema.ts";
import type { Entity } from "./entities.ts";

/** The writes a store or a transaction offers. */
export interface Writer {
  /**
   * Create an entity.
   *
   * @param type Entity type, e.g. `Shot`.
   * @param fields Field values (`{type, id}` for links).
   * @param options Who writes.
   * @returns The new record.
   * @throws {SimRequestError} For an unknown type or field, or an invalid value.
   */
  create(type: string, fields: Record<string, unknown>, options?: WriteOptions): SimRecord;
  /**
   * Change fields of an entity; only fields whose value changes are logged.
   *
   * @returns The updated record.
   * @throws {SimRequestError} 404 for an unknown or retired id.
   */
  update(
    type: string,
    id: number,
    fields: Record<string, unknown>,
    options?: WriteOptions,
  ): SimRecord;
  /**
   * Retire (delete) an entity.
   *
   * @throws {SimRequestError} 404 for an unknown or already retired id.
   */
  retire(type: string, id: number, options?: WriteOptions): void;
  /**
   * Bring a retired entity back.
   *
   * @returns The revived record.
   * @throws {SimRequestError} 404 for an unknown id, 400 when it is not retired.
   */
  revive(type: string, id: number, options?: WriteOptions): SimRecord;
  /**
   * Upload a new thumbnail: logs the `is_transient: true` then `false` pair.
   *
   * @returns The attachment id now in `image`.
   * @throws {SimRequestError} When the type has no `image` field or the id is unknown.
   */
  uploadThumbnail(type: string, id: number, options?: WriteOptions): number;
}

/** Where logged rows go: committed at once, or held by a transaction. */
export type Sink = (rows: EventRow[]) => void;

/** The part of a logged row a write decides; the rest comes from the entity and the actor. */
type LogRow = Pick<EventRow, "event_type" | "attribute_name" | "description" | "meta">;

function linkKey(l: LinkInput): string {
  return `${l.type}:${l.id}`;
}

/**
 * A multi-entity value with an update mode, as the REST API takes it in a create or update
 * body: `{"shots": {"multi_entity_update_mode": "add", "value": [{"type": "Shot", "id": 1}]}}`
 * (the Python API's `multi_entity_update_modes={"shots": "add"}`). The shape is the one a live
 * site was probed with; a plain array still sets the whole list.
 */
interface ModedValue {
  readonly multi_entity_update_mode: unknown;
  readonly value?: unknown;
}

function isModed(value: unknown): value is ModedValue {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    "multi_entity_update_mode" in value;
}

/** The new list of links a moded value gives, from the current one. */
function applyMode(
  current: readonly LinkInput[],
  mode: unknown,
  links: readonly LinkInput[],
  where: string,
): LinkInput[] {
  const keys = new Set(links.map(linkKey));
  switch (mode) {
    case "set":
      return [...links];
    case "add": {
      const have = new Set(current.map(linkKey));
      return [...current, ...links.filter((l) => !have.has(linkKey(l)))];
    }
    case "remove":
      return current.filter((l) => !keys.has(linkKey(l)));
    default:
      throw badRequest(
        `${where}: invalid multi_entity_update_mode ${
          JSON.stringify(mode)
        }: expected "set", "add" or "remove"`,
      );
  }
}

/** What a writer works on. */
export interface WriterParts {
  readonly entities: EntityTable;
  readonly events: EventLog;
  readonly clock: () => number;
}

/**
 * Build the writes of a site, logging rows to `sink`.
 *
 * @param parts Entities, event log and clock.
 * @param sink Receives each write's rows (ids already allocated).
 * @returns The writer.
 */
export function makeWriter(parts: WriterParts, sink: Sink): Writer {
  const { entities, events, clock } = parts;
  const actorOf = (options: WriteOptions | undefined): Link | null => {
    if (options?.user === null) return null;
    return entities.resolveLink(options?.user ?? { type: "HumanUser", id: 1 });
  };
  // A script's writes are logged only when its ApiUser has event logging on.
  const logs = (user: Link | null): boolean =>
    user?.type !== "ApiUser" || entities.find("ApiUser", user.id)?.fields.generate_events === true;
  const log = (
    e: Entity,
    options: WriteOptions | undefined,
    rows: LogRow[],
  ) => {
    const actor = actorOf(options);
    if (!logs(actor)) return;
    const createdAt = clock();
    const entity: Link = { type: e.type, id: e.id, name: entities.displayName(e) };
    const p = e.type === "Project"
      ? { type: "Project", id: e.id }
      : e.fields.project as LinkInput | null;
    const project = p ? { ...p, name: entities.resolveLink(p)?.name ?? null } : null;
    sink(rows.map((r) => ({
      type: "EventLogEntry",
      id: events.allocate(),
      ...r,
      entity,
      project,
      user: actor,
      session_uuid: options?.sessionUuid ?? null,
      created_at: createdAt,
    })));
  };
  const who = (options: WriteOptions | undefined) => actorOf(options)?.name ?? "Someone";
  const change = (
    e: Entity,
    name: string,
    f: FieldDef,
    before: unknown,
    after: unknown,
    inCreate: boolean,
    userName: string,
  ) => {
    const base = {
      type: "attribute_change",
      attribute_name: name,
      entity_type: e.type,
      entity_id: e.id,
      field_data_type: f.type,
    };
    const label = `${e.type} ${entities.displayName(e) ?? e.id}`;
    if (f.type === "multi_entity") {
      const was = new Set((before as LinkInput[]).map(linkKey));
      const now = new Set((after as LinkInput[]).map(linkKey));
      const added = (after as LinkInput[]).filter((l) => !was.has(linkKey(l))).map((l) =>
        entities.resolveLink(l)
      );
      const removed = (before as LinkInput[]).filter((l) => !now.has(linkKey(l)))
        .map((l) => ({ type: l.type, id: l.id, name: entities.resolveLink(l)?.name ?? null }));
      if (added.length === 0 && removed.length === 0) return undefined;
      return {
        event_type: `Shotgun_${e.type}_Change`,
        attribute_name: name,
        description: `${userName} changed "${name}" on ${label}`,
        meta: { ...base, added, removed, in_create: inCreate },
      };
    }
    const same = f.type === "entity"
      ? linkKey((before ?? { type: "", id: 0 }) as LinkInput) ===
        linkKey((after ?? { type: "", id: 0 }) as LinkInput)
      : before === after;
    if (same) return undefined;
    const oldValue = entities.metaValue(f, before);
    const newValue = entities.metaValue(f, after);
    return {
      event_type: `Shotgun_${e.type}_Change`,
      attribute_name: name,
      description: `${userName} changed "${name}" from ${JSON.stringify(oldValue)} to ${
        JSON.stringify(newValue)
      } on ${label}`,
      meta: { ...base, old_value: oldValue, new_value: newValue, in_create: inCreate },
    };
  };
  const touch = (e: Entity, options: WriteOptions | undefined) => {
    e.fields.updated_at = clock();
    e.fields.updated_by = actorOf(options);
  };

  return {
    create: (type, fields, options) => {
      const def = entities.def(type);
      const values: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(fields)) {
        if (name === "type") continue;
        if (isModed(value) && def.fields[name]?.type === "multi_entity") {
          const links = entities.normalize(def, name, value.value ?? [], "create") as LinkInput[];
          values[name] = applyMode(
            [],
            value.multi_entity_update_mode,
            links,
            `API create() ${type}.${name}`,
          );
        } else values[name] = entities.normalize(def, name, value, "create");
      }
      const e = entities.insert(type, values);
      const actor = actorOf(options);
      e.fields.created_by = e.fields.updated_by = actor;
      const userName = who(options);
      const rows: LogRow[] = [{
        event_type: `Shotgun_${type}_New`,
        attribute_name: null,
        description: `${userName} created new ${type} ${entities.displayName(e) ?? e.id}`,
        meta: { type: "new_entity", entity_type: type, entity_id: e.id },
      }];
      for (const [name, f] of Object.entries(def.fields)) {
        if (name === "id" || f.system) continue;
        const empty = f.type === "multi_entity" ? [] : null;
        const row = change(e, name, f, empty, e.fields[name], true, userName);
        if (row) rows.push(row);
      }
      log(e, options, rows);
      return entities.record(e);
    },
    update: (type, id, fields, options) => {
      const def = entities.def(type);
      const e = entities.entity(type, id, "update");
      const values: [string, unknown][] = Object.entries(fields)
        .filter(([name]) => name !== "type" && name !== "id")
        .map(([name, value]) => {
          if (!isModed(value) || def.fields[name]?.type !== "multi_entity") {
            return [name, entities.normalize(def, name, value, "update")];
          }
          const links = entities.normalize(def, name, value.value ?? [], "update") as LinkInput[];
          const current = (e.fields[name] ?? []) as LinkInput[];
          const where = `API update() ${type}.${name}`;
          return [name, applyMode(current, value.multi_entity_update_mode, links, where)];
        });
      const userName = who(options);
      const rows: LogRow[] = [];
      for (const [name, value] of values) {
        const row = change(e, name, def.fields[name]!, e.fields[name], value, false, userName);
        e.fields[name] = value;
        if (row) rows.push(row);
      }
      if (rows.length > 0) touch(e, options);
      log(e, options, rows);
      return entities.record(e);
    },
    retire: (type, id, options) => {
      const e = entities.entity(type, id, "delete");
      const displayName = entities.displayName(e);
      e.retired = true;
      log(e, options, [{
        event_type: `Shotgun_${type}_Retirement`,
        attribute_name: null,
        description: `${who(options)} retired ${type} ${displayName ?? id}`,
        meta: {
          type: "entity_retirement",
          entity_type: type,
          entity_id: id,
          display_name: displayName,
          retirement_date: isoSeconds(clock()),
        },
      }]);
    },
    revive: (type, id, options) => {
      entities.def(type);
      const e = entities.find(type, id);
      if (!e) throw entities.missing(type, id, "revive");
      if (!e.retired) throw badRequest(`API revive() ${type} with id ${id} is not retired`);
      e.retired = false;
      log(e, options, [{
        event_type: `Shotgun_${type}_Revival`,
        attribute_name: null,
        description: `${who(options)} revived ${type} ${entities.displayName(e) ?? id}`,
        meta: { type: "entity_revival", entity_type: type, entity_id: id },
      }]);
      return entities.record(e);
    },
    uploadThumbnail: (type, id, options) => {
      const def = entities.def(type);
      const f = def.fields.image;
      if (!f) throw badRequest(`API upload() ${type}.image doesn't exist.`);
      const e = entities.entity(type, id, "upload");
      const before = (e.fields.image ?? null) as number | null;
      const attachment = entities.nextAttachment();
      e.fields.image = attachment;
      touch(e, options);
      const userName = who(options);
      const meta = (oldValue: number | null, transient: boolean) => ({
        event_type: `Shotgun_${type}_Change`,
        attribute_name: "image",
        description: `${userName} changed "image" on ${type} ${entities.displayName(e) ?? id}`,
        meta: {
          type: "attribute_change",
          attribute_name: "image",
          entity_type: type,
          entity_id: id,
          field_data_type: "image",
          old_value: oldValue,
          new_value: attachment,
          is_transient: transient,
        },
      });
      // The placeholder is replaced first (transient), then the real thumbnail lands.
      log(e, options, [meta(before, true), meta(null, false)]);
      return attachment;
    },
  };
}

/**
 * A {@link Writer} that hands every write to another one: the store and transactions are
 * writers whose logged rows go to different places.
 */
export abstract class ForwardingWriter implements Writer {
  #target: Writer | null = null;

  /**
   * Set the writer every write goes to (once, from the subclass's constructor).
   *
   * @param target The writer.
   */
  protected forwardTo(target: Writer): void {
    this.#target = target;
  }

  get #writer(): Writer {
    if (!this.#target) throw new TypeError("ForwardingWriter used before forwardTo()");
    return this.#target;
  }

  /** See {@link Writer.create}. */
  create(type: string, fields: Record<string, unknown>, options?: WriteOptions): SimRecord {
    return this.#writer.create(type, fields, options);
  }
  /** See {@link Writer.update}. */
  update(
    type: string,
    id: number,
    fields: Record<string, unknown>,
    options?: WriteOptions,
  ): SimRecord {
    return this.#writer.update(type, id, fields, options);
  }
  /** See {@link Writer.retire}. */
  retire(type: string, id: number, options?: WriteOptions): void {
    this.#writer.retire(type, id, options);
  }
  /** See {@link Writer.revive}. */
  revive(type: string, id: number, options?: WriteOptions): SimRecord {
    return this.#writer.revive(type, id, options);
  }
  /** See {@link Writer.uploadThumbnail}. */
  uploadThumbnail(type: string, id: number, options?: WriteOptions): number {
    return this.#writer.uploadThumbnail(type, id, options);
  }
}

/**
 * Writes whose event ids are allocated now but become visible only at {@link commit}, as a
 * long database transaction on a real site. Entity changes apply at once.
 */
export class Transaction extends ForwardingWriter {
  readonly #rows: EventRow[] = [];
  readonly #commit: (rows: EventRow[]) => void;
  #state: "open" | "committed" | "abandoned" = "open";

  /**
   * @param makeWriter Builds the writer that sends rows to this transaction.
   * @param commit Makes rows visible.
   */
  constructor(makeWriter: (sink: Sink) => Writer, commit: (rows: EventRow[]) => void) {
    super();
    this.#commit = commit;
    this.forwardTo(makeWriter((rows) => {
      if (this.#state !== "open") {
        throw new Error(`Cannot write in a transaction already ${this.#state}`);
      }
      this.#rows.push(...rows);
    }));
  }

  /** Event ids allocated by this transaction's writes so far. */
  get ids(): number[] {
    return this.#rows.map((r) => r.id);
  }

  /** `open`, `committed` or `abandoned`. */
  get state(): string {
    return this.#state;
  }

  /** Make the logged rows visible (with their original `created_at`). */
  commit(): void {
    if (this.#state !== "open") return;
    this.#state = "committed";
    this.#commit(this.#rows);
  }

  /** Give up: the allocated ids never commit (entity changes stay, as the sim keeps it simple). */
  abandon(): void {
    if (this.#state === "open") this.#state = "abandoned";
  }
}
