/**
 * The simulated site's data: entities, and the EventLogEntry rows every write logs, exactly
 * as ShotGrid logs them (one `_New` row plus one in-create `_Change` row per populated field,
 * attribute changes with old/new values, multi-entity added/removed, retirement, revival,
 * and the transient/final thumbnail pair).
 *
 * @module
 */

import type { ShotGridEvent } from "../shotgrid/types.ts";
import {
  assetCode,
  baseCounts,
  baseHumanUsers,
  baseProjects,
  type Link,
  projectOf,
  shotCode,
  taskContent,
  taskShot,
} from "./dataset.ts";
import { badRequest, SimRequestError } from "./errors.ts";
import { EventLog, type EventRow } from "./event_log.ts";
import { type EntityDef, entityDef, type FieldDef } from "./schema.ts";

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

interface Entity {
  readonly type: string;
  readonly id: number;
  retired: boolean;
  readonly fields: Record<string, unknown>;
}

type Sink = (rows: EventRow[]) => void;

/** The part of a logged row a write decides; the rest comes from the entity and the actor. */
type LogRow = Pick<EventRow, "event_type" | "attribute_name" | "description" | "meta">;

/**
 * Writes whose event ids are allocated now but become visible only at {@link commit}, as a
 * long database transaction on a real site. Entity changes apply at once.
 */
export class Transaction implements Writer {
  readonly #rows: EventRow[] = [];
  readonly #commit: (rows: EventRow[]) => void;
  #writer: Writer;
  #state: "open" | "committed" | "abandoned" = "open";

  /**
   * @param makeWriter Builds the writer that sends rows to this transaction.
   * @param commit Makes rows visible.
   */
  constructor(makeWriter: (sink: Sink) => Writer, commit: (rows: EventRow[]) => void) {
    this.#commit = commit;
    this.#writer = makeWriter((rows) => {
      if (this.#state !== "open") {
        throw new Error(`Cannot write in a transaction already ${this.#state}`);
      }
      this.#rows.push(...rows);
    });
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

/** How a store starts. */
export interface SimStoreOptions {
  /** Seed of synthesized events (default 1). */
  readonly seed?: number;
  /** Epoch ms clock for `created_at` (default Date.now). */
  readonly clock?: () => number;
  /** Synthesized EventLogEntry rows already present, ids 1..n. */
  readonly preload?: number;
  /** Script names to create ApiUsers for. */
  readonly scripts?: readonly string[];
  /** Extra HumanUser logins beyond the base ones. */
  readonly logins?: readonly string[];
  /** Whether the scripts' ApiUsers have event logging on (a real site's default: off). */
  readonly logScriptWrites?: boolean;
}

/** Milliseconds between consecutive preloaded events' `created_at`. */
const preloadStepMs = 50;

/**
 * Format epoch ms as ShotGrid does: `YYYY-MM-DDTHH:MM:SSZ`.
 *
 * @param ms Epoch ms.
 * @returns The UTC date string.
 */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + "Z";
}

function linkKey(l: LinkInput): string {
  return `${l.type}:${l.id}`;
}

/** All data of one simulated site. */
export class SimStore implements Writer {
  /** The EventLogEntry table. */
  readonly events: EventLog;
  readonly #clock: () => number;
  readonly #entities = new Map<string, Map<number, Entity>>();
  readonly #nextId = new Map<string, number>();
  readonly #writer: Writer;
  #nextAttachment = 11_000;

  /**
   * @param options Seed, clock, preload and the users to create.
   */
  constructor(options: SimStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.events = new EventLog(options.seed ?? 1);
    this.#writer = this.#makeWriter((rows) => this.events.commit(rows));
    this.#seedBase(options);
    const preload = options.preload ?? 0;
    if (preload > 0) {
      this.events.appendSynthetic(preload, this.#clock() - preload * preloadStepMs, preloadStepMs);
    }
  }

  #seedBase(options: SimStoreOptions): void {
    for (const p of baseProjects) this.#insert("Project", { name: p.name, sg_status: "Active" });
    for (const u of baseHumanUsers) {
      this.#insert("HumanUser", { name: u.name, login: u.login, email: `${u.login}@example.com` });
    }
    for (const login of options.logins ?? []) {
      if (!this.findBy("HumanUser", "login", login)) {
        this.#insert("HumanUser", { name: login, login, email: `${login}@example.com` });
      }
    }
    for (const script of options.scripts ?? []) {
      this.#insert("ApiUser", {
        firstname: script,
        description: "Script of the simulated site",
        generate_events: options.logScriptWrites ?? false,
      });
    }
    for (let id = 1; id <= baseCounts.shots; id++) {
      const p = projectOf(id);
      this.#insert("Shot", { code: shotCode(id), project: { type: p.type, id: p.id } });
    }
    for (let id = 1; id <= baseCounts.assets; id++) {
      const p = projectOf(id);
      this.#insert("Asset", {
        code: assetCode(id),
        sg_asset_type: "Prop",
        project: { type: p.type, id: p.id },
      });
    }
    for (let id = 1; id <= baseCounts.tasks; id++) {
      const shot = taskShot(id);
      const p = projectOf(shot);
      this.#insert("Task", {
        content: taskContent(id),
        entity: { type: "Shot", id: shot },
        project: { type: p.type, id: p.id },
      });
    }
  }

  /** Insert without logging (the base data a site already holds). */
  #insert(type: string, fields: Record<string, unknown>): Entity {
    const def = this.#def(type);
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

  #def(type: string): EntityDef {
    const def = entityDef(type);
    if (!def || def.type === "EventLogEntry") {
      throw badRequest(`Entity type "${type}" is not valid`);
    }
    return def;
  }

  /** Highest committed event id. */
  get lastEventId(): number {
    return this.events.lastId;
  }

  /** Number of visible events. */
  get eventCount(): number {
    return this.events.count;
  }

  /**
   * One event, flat, as plugins see it.
   *
   * @param id Event id.
   * @returns The event, or `undefined` when absent or not committed yet.
   */
  getEvent(id: number): ShotGridEvent | undefined {
    const row = this.events.get(id);
    if (!row) return undefined;
    return {
      type: "EventLogEntry",
      id: row.id,
      event_type: row.event_type,
      attribute_name: row.attribute_name,
      description: row.description,
      meta: row.meta as ShotGridEvent["meta"],
      entity: this.resolveLink(row.entity),
      user: this.resolveLink(row.user),
      project: this.resolveLink(row.project),
      session_uuid: row.session_uuid,
      created_at: isoSeconds(row.created_at),
    };
  }

  /**
   * Append `n` synthesized events at once (fast, memory-free), for tests and benchmarks.
   *
   * @param n How many.
   * @returns The new last event id.
   */
  appendEvents(n: number): number {
    this.events.appendSynthetic(n, this.#clock());
    return this.events.lastId;
  }

  /**
   * Allocate ids that will never commit (as a rolled-back transaction leaves on a real site).
   *
   * @param n How many.
   * @returns The lost ids.
   */
  allocateLostIds(n: number): number[] {
    return Array.from({ length: n }, () => this.events.allocate());
  }

  /**
   * Start a transaction that commits late.
   *
   * @returns The transaction.
   */
  begin(): Transaction {
    return new Transaction((sink) => this.#makeWriter(sink), (rows) => this.events.commit(rows));
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
    return { type: e.type, id: e.id, name: this.#displayName(e) };
  }

  #displayName(e: Entity): string | null {
    const v = e.fields[this.#def(e.type).displayField];
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
   * A visible row as filters see it.
   *
   * @param type CamelCase type.
   * @param id Record id.
   * @returns The row, or `undefined` (absent, retired, or an event not committed).
   */
  row(type: string, id: number): Row | undefined {
    if (type === "EventLogEntry") return this.events.get(id) as Row | undefined;
    const e = this.#entities.get(type)?.get(id);
    return e && !e.retired ? { type, id, ...e.fields } : undefined;
  }

  /**
   * Ids of visible rows of a type in `[from, to]`, in id order.
   *
   * @param type CamelCase type.
   * @param from Lowest id.
   * @param to Highest id.
   * @param descending Order.
   * @returns The ids.
   */
  ids(type: string, from: number, to: number, descending: boolean): Iterable<number> {
    if (type === "EventLogEntry") {
      return descending ? this.events.descending(from, to) : this.events.ascending(from, to);
    }
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
    return e && !e.retired ? this.#record(e) : undefined;
  }

  #record(e: Entity): SimRecord {
    const def = this.#def(e.type);
    const out: Record<string, unknown> = { type: e.type, id: e.id };
    for (const [name, value] of Object.entries(e.fields)) {
      out[name] = this.#metaValue(def.fields[name], value);
    }
    return out as SimRecord;
  }

  /** A field value as it appears in `meta` and in flat records. */
  #metaValue(f: FieldDef | undefined, value: unknown): unknown {
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

  #entity(type: string, id: number, action: string): Entity {
    this.#def(type);
    const e = this.#entities.get(type)?.get(id);
    if (!e || e.retired) {
      throw new SimRequestError(404, 104, "Record not found", {
        detail: `API ${action}() ${type} with id ${id} not found`,
      });
    }
    return e;
  }

  /** Check and convert one written value to its stored form. */
  #normalize(def: EntityDef, name: string, value: unknown, action: string): unknown {
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

  #actor(options: WriteOptions | undefined): Link | null {
    if (options?.user === null) return null;
    return this.resolveLink(options?.user ?? { type: "HumanUser", id: 1 });
  }

  /** Whether writes by this actor are logged (ApiUsers only with event logging on). */
  #logs(actor: Link | null): boolean {
    if (actor?.type !== "ApiUser") return true;
    return this.#entities.get("ApiUser")?.get(actor.id)?.fields.generate_events === true;
  }

  #makeWriter(sink: Sink): Writer {
    const log = (
      e: Entity,
      options: WriteOptions | undefined,
      rows: LogRow[],
    ) => {
      const actor = this.#actor(options);
      if (!this.#logs(actor)) return;
      const createdAt = this.#clock();
      const entity: Link = { type: e.type, id: e.id, name: this.#displayName(e) };
      const p = e.type === "Project"
        ? { type: "Project", id: e.id }
        : e.fields.project as LinkInput | null;
      const project = p ? { ...p, name: this.resolveLink(p)?.name ?? null } : null;
      sink(rows.map((r) => ({
        type: "EventLogEntry",
        id: this.events.allocate(),
        ...r,
        entity,
        project,
        user: actor,
        session_uuid: options?.sessionUuid ?? null,
        created_at: createdAt,
      })));
    };
    const who = (options: WriteOptions | undefined) => this.#actor(options)?.name ?? "Someone";
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
      const label = `${e.type} ${this.#displayName(e) ?? e.id}`;
      if (f.type === "multi_entity") {
        const was = new Set((before as LinkInput[]).map(linkKey));
        const now = new Set((after as LinkInput[]).map(linkKey));
        const added = (after as LinkInput[]).filter((l) => !was.has(linkKey(l))).map((l) =>
          this.resolveLink(l)
        );
        const removed = (before as LinkInput[]).filter((l) => !now.has(linkKey(l)))
          .map((l) => ({ type: l.type, id: l.id, name: this.resolveLink(l)?.name ?? null }));
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
      const oldValue = this.#metaValue(f, before);
      const newValue = this.#metaValue(f, after);
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
      e.fields.updated_at = this.#clock();
      e.fields.updated_by = this.#actor(options);
    };

    return {
      create: (type, fields, options) => {
        const def = this.#def(type);
        const values: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(fields)) {
          if (name === "type") continue;
          values[name] = this.#normalize(def, name, value, "create");
        }
        const e = this.#insert(type, values);
        const actor = this.#actor(options);
        e.fields.created_by = e.fields.updated_by = actor;
        const userName = who(options);
        const rows: LogRow[] = [{
          event_type: `Shotgun_${type}_New`,
          attribute_name: null,
          description: `${userName} created new ${type} ${this.#displayName(e) ?? e.id}`,
          meta: { type: "new_entity", entity_type: type, entity_id: e.id },
        }];
        for (const [name, f] of Object.entries(def.fields)) {
          if (name === "id" || f.system) continue;
          const empty = f.type === "multi_entity" ? [] : null;
          const row = change(e, name, f, empty, e.fields[name], true, userName);
          if (row) rows.push(row);
        }
        log(e, options, rows);
        return this.#record(e);
      },
      update: (type, id, fields, options) => {
        const def = this.#def(type);
        const e = this.#entity(type, id, "update");
        const values: [string, unknown][] = Object.entries(fields)
          .filter(([name]) => name !== "type" && name !== "id")
          .map(([name, value]) => [name, this.#normalize(def, name, value, "update")]);
        const userName = who(options);
        const rows: LogRow[] = [];
        for (const [name, value] of values) {
          const row = change(e, name, def.fields[name]!, e.fields[name], value, false, userName);
          e.fields[name] = value;
          if (row) rows.push(row);
        }
        if (rows.length > 0) touch(e, options);
        log(e, options, rows);
        return this.#record(e);
      },
      retire: (type, id, options) => {
        const e = this.#entity(type, id, "delete");
        const displayName = this.#displayName(e);
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
            retirement_date: isoSeconds(this.#clock()),
          },
        }]);
      },
      revive: (type, id, options) => {
        this.#def(type);
        const e = this.#entities.get(type)?.get(id);
        if (!e) throw this.#entityMissing(type, id, "revive");
        if (!e.retired) throw badRequest(`API revive() ${type} with id ${id} is not retired`);
        e.retired = false;
        log(e, options, [{
          event_type: `Shotgun_${type}_Revival`,
          attribute_name: null,
          description: `${who(options)} revived ${type} ${this.#displayName(e) ?? id}`,
          meta: { type: "entity_revival", entity_type: type, entity_id: id },
        }]);
        return this.#record(e);
      },
      uploadThumbnail: (type, id, options) => {
        const def = this.#def(type);
        const f = def.fields.image;
        if (!f) throw badRequest(`API upload() ${type}.image doesn't exist.`);
        const e = this.#entity(type, id, "upload");
        const before = (e.fields.image ?? null) as number | null;
        const attachment = this.#nextAttachment++;
        e.fields.image = attachment;
        touch(e, options);
        const userName = who(options);
        const meta = (oldValue: number | null, transient: boolean) => ({
          event_type: `Shotgun_${type}_Change`,
          attribute_name: "image",
          description: `${userName} changed "image" on ${type} ${this.#displayName(e) ?? id}`,
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

  #entityMissing(type: string, id: number, action: string): SimRequestError {
    return new SimRequestError(404, 104, "Record not found", {
      detail: `API ${action}() ${type} with id ${id} not found`,
    });
  }
}
