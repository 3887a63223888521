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
import { EventLog } from "./event_log.ts";
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
}
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
    this.#entities = new EntityTable(this.#clock);
    this.#parts = { entities: this.#entities, events: this.events, clock: this.#clock };
    this.forwardTo(makeWriter(this.#parts, (rows) => this.events.commit(rows)));
    this.#seedBase(options);
    const preload = options.preload ?? 0;
    if (preload > 0) {
      this.events.appendSynthetic(preload, this.#clock() - preload * preloadStepMs, preloadStepMs);
    }
  }

  #seedBase(options: SimStoreOptions): void {
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
