/**
 * `sim --schema FILE`: custom fields and custom entities, declared in YAML or JSON, so the
 * simulator can run plugins written for a real site's schema.
 *
 * ```yaml
 * entities:
 *   Shot:                    # a built-in entity: only sg_* fields may be added
 *     fields:
 *       sg_vendor: text
 *       sg_episode: { type: entity, link_types: [CustomEntity01] }
 *   CustomEntity01:          # a custom entity: code, description, sg_status_list, project
 *     display_name: Episode  # and the stamps come with it
 *     fields:
 *       sg_air_date: date_time
 *       sg_shots: { type: multi_entity, link_types: [Shot], display_name: Shots }
 * ```
 *
 * A field is a type name or `{type, link_types?, default?, display_name?}`.
 *
 * @module
 */

import { parse } from "yaml";
import { ConfigError } from "../config/errors.ts";
import {
  customEntityFields,
  type EntityDef,
  entityDef,
  type FieldDef,
  type FieldType,
  SimSchema,
} from "./schema.ts";

const fieldTypes: readonly FieldType[] = [
  "number",
  "text",
  "status_list",
  "list",
  "checkbox",
  "date_time",
  "entity",
  "multi_entity",
  "image",
  "serializable",
];
const customTypePattern = /^Custom(?:NonProject|Threaded)?Entity\d{2}$/;
const fieldNamePattern = /^[a-z][a-z0-9_]*$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `CustomEntity01` -> `custom_entity01s`, the plural REST links use. */
function pluralOf(type: string): string {
  return type.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase() + "s";
}

/**
 * Read the custom schema in `text`.
 *
 * @param text The file's content (YAML; JSON is YAML too).
 * @param file The file name, as the user gave it, for messages.
 * @returns The site's schema with the custom fields and entities.
 * @throws {ConfigError} Naming the file and the key of every problem.
 */
export function parseSchemaFile(text: string, file: string): SimSchema {
  const problems: string[] = [];
  const problem = (key: string, why: string) => problems.push(`${file}: ${key}: ${why}`);
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError(file, [`Cannot read schema "${file}": ${why}`], { cause: error });
  }
  if (!isObject(doc) || !isObject(doc.entities)) {
    throw new ConfigError(file, [
      `Cannot read schema "${file}": expected a mapping with an "entities" mapping`,
    ]);
  }
  for (const key of Object.keys(doc)) {
    if (key !== "entities") problem(key, 'unknown key (expected "entities")');
  }
  const defs: EntityDef[] = [];
  const declared = new Set(Object.keys(doc.entities));
  for (const [type, spec] of Object.entries(doc.entities)) {
    const at = `entities.${type}`;
    const builtIn = entityDef(type);
    if (!builtIn && !customTypePattern.test(type)) {
      problem(at, "not a built-in entity nor a custom one (CustomEntity01..99, ...)");
      continue;
    }
    if (builtIn?.type === "EventLogEntry") {
      problem(at, "EventLogEntry cannot be given fields");
      continue;
    }
    if (!isObject(spec)) {
      problem(at, "expected a mapping with fields (and display_name)");
      continue;
    }
    for (const key of Object.keys(spec)) {
      if (key !== "fields" && key !== "display_name") {
        problem(`${at}.${key}`, 'unknown key (expected "fields" or "display_name")');
      }
    }
    if (spec.display_name !== undefined && typeof spec.display_name !== "string") {
      problem(`${at}.display_name`, "expected a string");
    }
    if (spec.fields !== undefined && !isObject(spec.fields)) {
      problem(`${at}.fields`, "expected a mapping of field name to type");
      continue;
    }
    const fields: Record<string, FieldDef> = { ...(builtIn?.fields ?? customEntityFields) };
    for (const [name, fieldSpec] of Object.entries(spec.fields ?? {})) {
      const key = `${at}.fields.${name}`;
      if (name in fields) {
        problem(key, `${type} already has this field`);
        continue;
      }
      if (!fieldNamePattern.test(name) || (builtIn && !name.startsWith("sg_"))) {
        problem(key, builtIn ? "custom fields are named sg_*" : "expected a snake_case name");
        continue;
      }
      const f = parseField(fieldSpec, key, declared, problem);
      if (f) fields[name] = f;
    }
    const displayName = typeof spec.display_name === "string" ? spec.display_name : undefined;
    defs.push({
      type,
      plural: builtIn?.plural ?? pluralOf(type),
      displayField: builtIn?.displayField ?? "code",
      ...(displayName !== undefined
        ? { displayName }
        : builtIn?.displayName !== undefined
        ? { displayName: builtIn.displayName }
        : {}),
      fields,
    });
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
  return new SimSchema(defs);
}

function parseField(
  spec: unknown,
  key: string,
  declared: ReadonlySet<string>,
  problem: (key: string, why: string) => void,
): FieldDef | undefined {
  const o = typeof spec === "string" ? { type: spec } : spec;
  if (!isObject(o)) {
    problem(key, `expected a type (${fieldTypes.join(", ")}) or {type, link_types, default}`);
    return undefined;
  }
  let ok = true;
  for (const k of Object.keys(o)) {
    if (!["type", "link_types", "default", "display_name"].includes(k)) {
      problem(
        `${key}.${k}`,
        'unknown key (expected "type", "link_types", "default", "display_name")',
      );
      ok = false;
    }
  }
  const type = o.type as FieldType;
  if (!fieldTypes.includes(type)) {
    problem(`${key}.type`, `${JSON.stringify(o.type)} is not one of ${fieldTypes.join(", ")}`);
    return undefined;
  }
  const f: { -readonly [K in keyof FieldDef]: FieldDef[K] } = { type };
  if (o.link_types !== undefined) {
    const links = o.link_types;
    if (type !== "entity" && type !== "multi_entity") {
      problem(`${key}.link_types`, "only entity and multi_entity fields link");
      ok = false;
    } else if (!Array.isArray(links) || links.some((l) => typeof l !== "string")) {
      problem(`${key}.link_types`, "expected a list of entity types");
      ok = false;
    } else {
      for (const l of links as string[]) {
        if (!entityDef(l) && !declared.has(l)) {
          problem(`${key}.link_types`, `unknown entity type ${JSON.stringify(l)}`);
          ok = false;
        }
      }
      f.linkTypes = links as string[];
    }
  }
  if (o.default !== undefined) f.default = o.default;
  if (o.display_name !== undefined) {
    if (typeof o.display_name !== "string") {
      problem(`${key}.display_name`, "expected a string");
      ok = false;
    } else f.displayName = o.display_name;
  }
  return ok ? f : undefined;
}

/**
 * Read a schema file.
 *
 * @param path The file, as the user named it.
 * @returns The site's schema.
 * @throws {ConfigError} When it cannot be read or is invalid.
 */
export async function loadSchemaFile(path: string): Promise<SimSchema> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new ConfigError(path, [`Cannot read schema "${path}": ${why}`], { cause: error });
  }
  return parseSchemaFile(text, path);
}
