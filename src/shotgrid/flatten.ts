/**
 * JSON:API records from the REST API, folded into the flat records the Python API
 * returns: `{type, id, ...attributes, link: {type, id, name} | null}`.
 *
 * This runs on the daemon's hot path (tens of thousands of events a second), so it
 * copies fields with plain loops into one new object per record and reuses the
 * freshly parsed link objects instead of rebuilding them.
 *
 * @module
 */
import type { FlatRecord, ShotGridEvent } from "./types.ts";

/** A record as the REST API sends it. */
export interface JsonApiRecord {
  readonly type: string;
  readonly id: number;
  readonly attributes?: Readonly<Record<string, unknown>> | null;
  readonly relationships?:
    | Readonly<Record<string, { readonly data?: unknown } | null | undefined>>
    | null;
  readonly links?: unknown;
}

/**
 * Flatten one JSON:API record.
 *
 * Attributes are copied as they are (a `meta` sent as a JSON string is decoded);
 * each relationship becomes its `data`: a link `{type, id, name}`, an array of
 * links for multi-entity fields, or `null` when empty.
 *
 * @param record One element of a response's `data`.
 * @returns The flat record. The link objects are the ones in `record` (not copied).
 * @throws {TypeError} When `record` has no `type` or numeric `id`.
 */
export function flattenRecord(record: JsonApiRecord): FlatRecord {
  if (
    typeof record !== "object" || record === null || typeof record.type !== "string" ||
    typeof record.id !== "number"
  ) {
    throw new TypeError("Cannot flatten record: it has no type and numeric id");
  }
  const out: Record<string, unknown> = { type: record.type, id: record.id };
  const attributes = record.attributes;
  if (attributes) {
    for (const key in attributes) out[key] = attributes[key];
    const meta = out.meta;
    if (typeof meta === "string") out.meta = decodeMeta(meta);
  }
  const relationships = record.relationships;
  if (relationships) {
    for (const key in relationships) {
      const data = relationships[key]?.data;
      out[key] = data === undefined ? null : data;
    }
  }
  return out as FlatRecord;
}

function decodeMeta(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Flatten a page of EventLogEntry records (a parsed `_search` response body).
 *
 * Besides {@link flattenRecord}, fills the fields every plugin reads
 * (`attribute_name`, `meta`, `entity`, `user`, `project`, `session_uuid`) with `null`
 * when the response left them out, so the result has the {@link ShotGridEvent} shape.
 *
 * @param body The parsed response: `{data: [...]}`.
 * @returns The events in response order.
 * @throws {TypeError} When the body has no `data` array.
 */
export function flattenEvents(body: unknown): ShotGridEvent[] {
  const data = typeof body === "object" && body !== null
    ? (body as { data?: unknown }).data
    : undefined;
  if (!Array.isArray(data)) {
    throw new TypeError("Cannot read events: the response has no data array");
  }
  const events = new Array<ShotGridEvent>(data.length);
  for (let i = 0; i < data.length; i++) {
    const event = flattenRecord(data[i] as JsonApiRecord) as Record<string, unknown>;
    if (event.attribute_name === undefined) event.attribute_name = null;
    if (event.meta === undefined) event.meta = null;
    if (event.entity === undefined) event.entity = null;
    if (event.user === undefined) event.user = null;
    if (event.project === undefined) event.project = null;
    if (event.session_uuid === undefined) event.session_uuid = null;
    events[i] = event as unknown as ShotGridEvent;
  }
  return events;
}

/**
 * Flatten the `data` array of a search response.
 *
 * @param body The parsed response: `{data: [...]}`.
 * @returns The flat records.
 * @throws {TypeError} When the body has no `data` array.
 */
export function flattenRecords(body: unknown): FlatRecord[] {
  const data = typeof body === "object" && body !== null
    ? (body as { data?: unknown }).data
    : undefined;
  if (!Array.isArray(data)) {
    throw new TypeError("Cannot read records: the response has no data array");
  }
  const records = new Array<FlatRecord>(data.length);
  for (let i = 0; i < data.length; i++) records[i] = flattenRecord(data[i] as JsonApiRecord);
  return records;
}
