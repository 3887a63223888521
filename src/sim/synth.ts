/**
 * Synthesized EventLogEntry rows: a pure function of (id, seed), so a million preloaded
 * events cost no memory. The same id and seed always give the same row.
 *
 * @module
 */

import {
  assetCode,
  baseCounts,
  baseHumanUsers,
  type Link,
  projectOf,
  shotCode,
  statuses,
  taskContent,
  taskShot,
} from "./dataset.ts";
import type { EventRow } from "./event_log.ts";

/**
 * A 32-bit integer hash (the finalizer of MurmurHash3), good enough to spread ids.
 *
 * @param a Any integer.
 * @param b A second integer (the seed).
 * @returns An unsigned 32-bit hash.
 */
export function hash32(a: number, b: number): number {
  let h = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul(b | 0, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A seeded pseudo-random generator (mulberry32) returning floats in [0, 1).
 *
 * @param seed Any integer.
 * @returns The generator.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function statusChange(
  id: number,
  createdAt: number,
  h: number,
  entity: Link,
  project: Link,
  user: Link,
): EventRow {
  const oldValue = statuses[h % statuses.length]!;
  // Never the same status: a real site logs no change when nothing changed.
  const newValue =
    statuses[(h % statuses.length + 1 + (h >>> 8) % (statuses.length - 1)) % statuses.length]!;
  return {
    type: "EventLogEntry",
    id,
    event_type: `Shotgun_${entity.type}_Change`,
    attribute_name: "sg_status_list",
    description:
      `${user.name} changed "Status" from "${oldValue}" to "${newValue}" on ${entity.type} ${entity.name}`,
    meta: {
      type: "attribute_change",
      attribute_name: "sg_status_list",
      entity_type: entity.type,
      entity_id: entity.id,
      field_data_type: "status_list",
      old_value: oldValue,
      new_value: newValue,
      in_create: false,
    },
    entity,
    project,
    user,
    session_uuid: null,
    created_at: createdAt,
  };
}

/**
 * The synthesized event with this id.
 *
 * @param id Event id.
 * @param seed Site seed.
 * @param createdAt Epoch ms to show as `created_at`.
 * @returns A row referencing the base dataset's entities.
 */
export function synthesizeEvent(id: number, seed: number, createdAt: number): EventRow {
  const h = hash32(id, seed);
  const kind = h % 100;
  const u = baseHumanUsers[(h >>> 12) % baseHumanUsers.length]!;
  const user: Link = { type: "HumanUser", id: u.id, name: u.name };
  const base = {
    type: "EventLogEntry" as const,
    id,
    session_uuid: null,
    created_at: createdAt,
  };
  if (kind < 45) {
    const shot = (h >>> 16) % baseCounts.shots + 1;
    return statusChange(
      id,
      createdAt,
      h,
      { type: "Shot", id: shot, name: shotCode(shot) },
      projectOf(shot),
      user,
    );
  }
  if (kind < 65) {
    const task = (h >>> 16) % baseCounts.tasks + 1;
    return statusChange(
      id,
      createdAt,
      h,
      { type: "Task", id: task, name: taskContent(task) },
      projectOf(taskShot(task)),
      user,
    );
  }
  if (kind < 85) {
    const type = kind < 75 ? "Version" : "Note";
    const entityId = 100_000 + id;
    const name = type === "Version"
      ? `${shotCode((h >>> 16) % baseCounts.shots + 1)}_v${h % 97}`
      : `Note ${id}`;
    return {
      ...base,
      event_type: `Shotgun_${type}_New`,
      attribute_name: null,
      description: `${user.name} created new ${type} ${name}`,
      meta: { type: "new_entity", entity_type: type, entity_id: entityId },
      entity: { type, id: entityId, name },
      project: projectOf(h >>> 20),
      user,
    };
  }
  if (kind < 92) {
    const asset = (h >>> 16) % baseCounts.assets + 1;
    return {
      ...base,
      event_type: "Shotgun_Asset_Change",
      attribute_name: "description",
      description: `${user.name} changed "Description" on Asset ${assetCode(asset)}`,
      meta: {
        type: "attribute_change",
        attribute_name: "description",
        entity_type: "Asset",
        entity_id: asset,
        field_data_type: "text",
        old_value: null,
        new_value: `Revised brief #${h % 1000}`,
        in_create: false,
      },
      entity: { type: "Asset", id: asset, name: assetCode(asset) },
      project: projectOf(asset),
      user,
    };
  }
  if (kind < 96) {
    return {
      ...base,
      event_type: "Shotgun_User_Login",
      attribute_name: null,
      description: `${user.name} logged in`,
      meta: null,
      entity: user,
      project: null,
      user,
    };
  }
  return {
    ...base,
    event_type: "Toolkit_App_Startup",
    attribute_name: null,
    description: `${user.name} launched tk-multi-publish2`,
    meta: { core: "v0.20.28", app: "tk-multi-publish2", version: "v2.8.3" },
    entity: null,
    project: projectOf(h >>> 20),
    user,
  };
}
