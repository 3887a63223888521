/**
 * The simulated site's data: entities and the EventLogEntry table, the in-process control
 * used by tests and benchmarks (writes, late transactions, lost ids, bulk events).
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
import {
  EntityTable,
  isoSeconds,
  type LinkInput,
  type Row,
  type SimRecord,
  type WriteOptions,
} from "./entities.ts";
import { EventLog, type EventRow } from "./event_log.ts";
import { baseSchema, type SimSchema } from "./schema.ts";
import {
  ForwardingWriter,
  makeWriter,
  Transaction,
  type Writer,
  type WriterParts,
} from "./writes.ts";

export {
  isoSeconds,
  type LinkInput,
  type Row,
  type SimRecord,
  Transaction,
  type WriteOptions,
  type Writer,
};

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
  /** Entity types, with a schema file's custom fields and entities (default: built-in only). */
  readonly schema?: SimSchema;
}

/** The statuses a new site has: code, name, background colour (`r,g,b`). */
const baseStatuses: readonly (readonly [string, string, string])[] = [
  ["wtg", "Waiting to Start", "220,220,220"],
  ["rdy", "Ready to Start", "255,255,160"],
  ["ip", "In Progress", "120,190,255"],
  ["rev", "Pending Review", "255,190,100"],
  ["apr", "Approved", "140,220,120"],
  ["fin", "Final", "70,170,70"],
  ["hld", "On Hold", "200,120,200"],
  ["omt", "Omit", "160,160,160"],
  ["cmpt", "Complete", "70,170,70"],
  ["act", "Active", "140,220,120"],
  ["dis", "Disabled", "200,80,80"],
  ["na", "N/A", "255,255,255"],
];
/** Milliseconds between consecutive preloaded events' `created_at`. */
const preloadStepMs = 50;

/** All data of one simulated site. */
export class SimStore extends ForwardingWriter {
  /** The EventLogEntry table. */
  readonly events: EventLog;
  readonly #clock: () => number;
  readonly #entities: EntityTable;
  readonly #parts: WriterParts;

  /**
   * @param options Seed, clock, preload and the users to create.
   */
  constructor(options: SimStoreOptions = {}) {
    super();
    this.#clock = options.clock ?? Date.now;
    this.events = new EventLog(options.seed ?? 1);
    this.#entities = new EntityTable(this.#clock, options.schema ?? baseSchema);
    this.#parts = { entities: this.#entities, events: this.events, clock: this.#clock };
    this.forwardTo(makeWriter(this.#parts, (rows) => this.events.commit(rows)));
    this.#seedBase(options);
    const preload = options.preload ?? 0;
    if (preload > 0) {
      this.events.appendSynthetic(preload, this.#clock() - preload * preloadStepMs, preloadStepMs);
    }
  }

  #seedBase(options: SimStoreOptions): void {
    for (const [code, name, bgColor] of baseStatuses) {
      this.#entities.insert("Status", { code, name, bg_color: bgColor, icon: null });
    }
    for (const p of baseProjects) {
      this.#entities.insert("Project", { name: p.name, sg_status: "Active" });
    }
    for (const u of baseHumanUsers) {
      this.#entities.insert("HumanUser", {
        name: u.name,
        login: u.login,
        email: `${u.login}@example.com`,
      });
    }
    for (const login of options.logins ?? []) {
      if (!this.#entities.findBy("HumanUser", "login", login)) {
        this.#entities.insert("HumanUser", { name: login, login, email: `${login}@example.com` });
      }
    }
    for (const script of options.scripts ?? []) {
      this.#entities.insert("ApiUser", {
        firstname: script,
        description: "Script of the simulated site",
        generate_events: options.logScriptWrites ?? false,
      });
    }
    for (let id = 1; id <= baseCounts.shots; id++) {
      const p = projectOf(id);
      this.#entities.insert("Shot", { code: shotCode(id), project: { type: p.type, id: p.id } });
    }
    for (let id = 1; id <= baseCounts.assets; id++) {
      const p = projectOf(id);
      this.#entities.insert("Asset", {
        code: assetCode(id),
        sg_asset_type: "Prop",
        project: { type: p.type, id: p.id },
      });
    }
    for (let id = 1; id <= baseCounts.tasks; id++) {
      const shot = taskShot(id);
      const p = projectOf(shot);
      this.#entities.insert("Task", {
        content: taskContent(id),
        entity: { type: "Shot", id: shot },
        project: { type: p.type, id: p.id },
      });
    }
  }

  /** The site's entity types. */
  get schema(): SimSchema {
    return this.#entities.schema;
  }

  /**
   * Run writes as one database transaction: all of them, or (when `run` throws) none. The
   * rows of a failed batch never commit; their ids stay unused, as on a real site.
   *
   * @param run Does the writes through the writer it is given.
   * @returns What `run` returns.
   * @throws Whatever `run` throws, after every entity change is undone.
   */
  batch<T>(run: (writer: Writer) => T): T {
    const restore = this.#entities.snapshot();
    const rows: EventRow[] = [];
    const writer = makeWriter(this.#parts, (logged) => rows.push(...logged));
    let result: T;
    try {
      result = run(writer);
    } catch (error) {
      restore();
      throw error;
    }
    this.events.commit(rows);
    return result;
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
      entity: this.#entities.resolveLink(row.entity),
      user: this.#entities.resolveLink(row.user),
      project: this.#entities.resolveLink(row.project),
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
    return new Transaction(
      (sink) => makeWriter(this.#parts, sink),
      (rows) => this.events.commit(rows),
    );
  }

  /**
   * The link as a reader sees it now: `null` once the target is retired; the current name.
   *
   * @param link A stored link.
   * @returns The link, or `null`.
   */
  resolveLink(link: LinkInput | null | undefined): Link | null {
    return this.#entities.resolveLink(link);
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
    return this.#entities.findBy(type, field, value);
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
    return this.#entities.liveRow(type, id);
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
    return this.#entities.liveIds(type, from, to, descending);
  }

  /**
   * The flat record (Python API shape) of a live entity.
   *
   * @param type Entity type.
   * @param id Entity id.
   * @returns The record, or `undefined` when absent or retired.
   */
  get(type: string, id: number): SimRecord | undefined {
    return this.#entities.get(type, id);
  }
}
