/**
 * The simulator's ShotGrid schema: one declarative table of built-in entity types and field
 * types, and {@link SimSchema}, one site's schema (the built-in types plus the custom fields
 * and entities of a `sim --schema` file).
 *
 * Kept deliberately small: enough realistic fields for plugins and tests to exercise every
 * kind of EventLogEntry row (scalar, status, entity link, multi-entity link, image).
 *
 * @module
 */

/** A ShotGrid field data type, as `meta.field_data_type` names it. */
export type FieldType =
  | "number"
  | "text"
  | "status_list"
  | "list"
  | "checkbox"
  | "date_time"
  | "entity"
  | "multi_entity"
  | "image"
  | "serializable";

/** One field of an entity type. */
export interface FieldDef {
  readonly type: FieldType;
  /** For `entity` and `multi_entity`: the types it may link to (empty = any). */
  readonly linkTypes?: readonly string[];
  /** Value a create sets when the caller gives none (logged like a given value). */
  readonly default?: unknown;
  /** Maintained by the site itself: never written by callers, never logged. */
  readonly system?: boolean;
  /** Cannot be used in a filter (`meta`). */
  readonly unfilterable?: boolean;
  /** The name a site's UI shows (schema reads); default: derived from the field name. */
  readonly displayName?: string;
}

/** One entity type. */
export interface EntityDef {
  /** CamelCase type, e.g. `EventLogEntry`. */
  readonly type: string;
  /** snake_case plural used in REST paths, e.g. `event_log_entries`. */
  readonly plural: string;
  /** The field whose value is the link `name`. */
  readonly displayField: string;
  /** The name a site's UI shows (`CustomEntity01` -> `Episode`); default: the type. */
  readonly displayName?: string;
  readonly fields: Readonly<Record<string, FieldDef>>;
}

const sys = { system: true } as const;
const stamps = {
  id: { type: "number", ...sys },
  created_at: { type: "date_time", ...sys },
  updated_at: { type: "date_time", ...sys },
  created_by: { type: "entity", linkTypes: ["HumanUser", "ApiUser"], ...sys },
  updated_by: { type: "entity", linkTypes: ["HumanUser", "ApiUser"], ...sys },
} as const satisfies Record<string, FieldDef>;
const project = { type: "entity", linkTypes: ["Project"] } as const;
const status = { type: "status_list", default: "wtg" } as const;
const users = ["HumanUser", "ApiUser"];

const defs: readonly EntityDef[] = [
  {
    // The statuses `status_list` fields take; a real site seeds the same codes.
    type: "Status",
    plural: "statuses",
    displayField: "name",
    fields: {
      ...stamps,
      code: { type: "text" },
      name: { type: "text" },
      bg_color: { type: "text" },
      icon: { type: "text" },
      description: { type: "text" },
    },
  },
  {
    type: "Project",
    plural: "projects",
    displayField: "name",
    fields: { ...stamps, name: { type: "text" }, sg_status: { type: "list", default: "Active" } },
  },
  {
    type: "HumanUser",
    plural: "human_users",
    displayField: "name",
    fields: {
      ...stamps,
      name: { type: "text" },
      login: { type: "text" },
      email: { type: "text" },
      sg_status_list: { type: "status_list", default: "act" },
    },
  },
  {
    type: "ApiUser",
    plural: "api_users",
    displayField: "firstname",
    fields: {
      ...stamps,
      firstname: { type: "text" },
      description: { type: "text" },
      // Stands for the "Generate Events" setting of a script (off by default on a real site).
      generate_events: { type: "checkbox", default: false },
    },
  },
  {
    type: "Shot",
    plural: "shots",
    displayField: "code",
    fields: {
      ...stamps,
      code: { type: "text" },
      description: { type: "text" },
      sg_status_list: status,
      sg_cut_in: { type: "number" },
      project,
      assets: { type: "multi_entity", linkTypes: ["Asset"] },
      image: { type: "image" },
    },
  },
  {
    type: "Asset",
    plural: "assets",
    displayField: "code",
    fields: {
      ...stamps,
      code: { type: "text" },
      description: { type: "text" },
      sg_status_list: status,
      sg_asset_type: { type: "list" },
      project,
      image: { type: "image" },
    },
  },
  {
    type: "Task",
    plural: "tasks",
    displayField: "content",
    fields: {
      ...stamps,
      content: { type: "text" },
      sg_status_list: status,
      entity: { type: "entity", linkTypes: ["Shot", "Asset"] },
      project,
      task_assignees: { type: "multi_entity", linkTypes: ["HumanUser"] },
      // Task dependencies, as on a real site (the simulator does not keep the two in step).
      upstream_tasks: { type: "multi_entity", linkTypes: ["Task"] },
      downstream_tasks: { type: "multi_entity", linkTypes: ["Task"] },
    },
  },
  {
    type: "Version",
    plural: "versions",
    displayField: "code",
    fields: {
      ...stamps,
      code: { type: "text" },
      description: { type: "text" },
      sg_status_list: { type: "status_list", default: "rev" },
      entity: { type: "entity", linkTypes: ["Shot", "Asset"] },
      sg_task: { type: "entity", linkTypes: ["Task"] },
      user: { type: "entity", linkTypes: users },
      project,
      image: { type: "image" },
    },
  },
  {
    type: "Note",
    plural: "notes",
    displayField: "subject",
    fields: {
      ...stamps,
      subject: { type: "text" },
      content: { type: "text" },
      user: { type: "entity", linkTypes: users },
      project,
      note_links: { type: "multi_entity", linkTypes: ["Shot", "Asset", "Version", "Task"] },
      addressings_to: { type: "multi_entity", linkTypes: ["HumanUser"] },
    },
  },
  {
    type: "EventLogEntry",
    plural: "event_log_entries",
    displayField: "description",
    fields: {
      id: { type: "number" },
      event_type: { type: "text" },
      attribute_name: { type: "text" },
      description: { type: "text" },
      meta: { type: "serializable", unfilterable: true },
      entity: { type: "entity" },
      project,
      user: { type: "entity", linkTypes: users },
      session_uuid: { type: "text" },
      created_at: { type: "date_time" },
      cached_display_name: { type: "text" },
    },
  },
];

const byType = new Map(defs.map((d) => [d.type, d]));
const byPlural = new Map(defs.map((d) => [d.plural, d]));

/** Every built-in entity type of the simulated site. */
export const entityDefs: readonly EntityDef[] = defs;

/**
 * Find a built-in entity type by its CamelCase name or its snake_case plural.
 *
 * @param name `EventLogEntry` or `event_log_entries`.
 * @returns The definition, or `undefined` for an unknown type.
 */
export function entityDef(name: string): EntityDef | undefined {
  return byType.get(name) ?? byPlural.get(name);
}

/** The fields every custom entity has, before those its schema file declares. */
export const customEntityFields: Readonly<Record<string, FieldDef>> = {
  ...stamps,
  code: { type: "text" },
  description: { type: "text" },
  sg_status_list: status,
  project,
};

/**
 * The entity types of one site: the built-in ones, with the custom fields and entities of a
 * schema file merged in (see `schema_file.ts`).
 */
export class SimSchema {
  readonly #byType: Map<string, EntityDef>;
  readonly #byPlural: Map<string, EntityDef>;

  /**
   * @param extra Definitions replacing built-in ones of the same type (with their custom
   *   fields added) or adding custom entity types.
   */
  constructor(extra: readonly EntityDef[] = []) {
    this.#byType = new Map(byType);
    for (const d of extra) this.#byType.set(d.type, d);
    this.#byPlural = new Map([...this.#byType.values()].map((d) => [d.plural, d]));
  }

  /** Every entity type, built-in first. */
  get defs(): readonly EntityDef[] {
    return [...this.#byType.values()];
  }

  /**
   * Find an entity type by its CamelCase name or its snake_case plural (both work in REST paths).
   *
   * @param name `EventLogEntry` or `event_log_entries`.
   * @returns The definition, or `undefined` for an unknown type.
   */
  entityDef(name: string): EntityDef | undefined {
    return this.#byType.get(name) ?? this.#byPlural.get(name);
  }

  /**
   * The REST path of one record: `/api/v1/entity/shots/12`.
   *
   * @param type CamelCase entity type.
   * @param id Record id.
   * @returns The path, snake_case plural as real links are.
   */
  recordPath(type: string, id: number): string {
    return `/api/v1/entity/${this.#byType.get(type)?.plural ?? type}/${id}`;
  }
}

/** The schema of a site with no schema file. */
export const baseSchema: SimSchema = new SimSchema();
