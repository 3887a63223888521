/**
 * Write bodies beyond a plain field map: multi-entity update modes, and the `_batch`
 * transaction.
 *
 * REST shapes relied on (not in the reference):
 * - update modes: `PUT /api/v1/entity/{type}/{id}` with
 *   `{"shots": {"multi_entity_update_mode": "add", "value": [{"type": "Shot", "id": 1}]}}`
 *   (a live site was probed with this body; the mode sent as a query parameter is ignored and
 *   the whole list replaced, so it goes in the body);
 * - batch: `POST /api/v1/entity/_batch` with `{"requests": [{"request_type": "create",
 *   "entity": "Shot", "data": {...}}, {"request_type": "update", "entity": "Shot",
 *   "record_id": 1, "data": {...}}, {"request_type": "delete", "entity": "Shot",
 *   "record_id": 1}]}`, one transaction (all or nothing), answered `{"data": [...]}` with one
 *   entry per request: the record for a create or update; for a delete an entry that is not a
 *   record (`null` from the simulator), which becomes `true` as in the Python API.
 *
 * @module
 */
import { flattenRecord, type JsonApiRecord } from "./flatten.ts";
import { recordPath } from "./paths.ts";
import type { FlatRecord } from "./types.ts";

/** How a multi-entity field is written: replace the list, or add or remove links. */
export type UpdateMode = "set" | "add" | "remove";

/** Multi-entity update modes by field, as the Python API's `multi_entity_update_modes`. */
export type UpdateModes = Readonly<Record<string, UpdateMode>>;

/** One request of {@link ShotGridClient.batch}, Python-API shape. */
export type BatchRequest =
  | {
    readonly request_type: "create";
    readonly entity_type: string;
    readonly data: Record<string, unknown>;
    readonly multi_entity_update_modes?: UpdateModes;
  }
  | {
    readonly request_type: "update";
    readonly entity_type: string;
    readonly entity_id: number;
    readonly data: Record<string, unknown>;
    readonly multi_entity_update_modes?: UpdateModes;
  }
  | { readonly request_type: "delete"; readonly entity_type: string; readonly entity_id: number };

/**
 * A write body with the update modes folded into its multi-entity values.
 *
 * @param data Field values; the moded ones are lists of links.
 * @param modes Field -> `set`/`add`/`remove`.
 * @returns A new body (or `data` itself when there are no modes).
 * @throws {RangeError} For an unknown mode.
 * @throws {TypeError} When a moded field's value is not a list of links.
 */
export function withUpdateModes(
  data: Record<string, unknown>,
  modes: UpdateModes | undefined,
): Record<string, unknown> {
  if (modes === undefined) return data;
  const out = { ...data };
  for (const [field, mode] of Object.entries(modes)) {
    if (mode !== "set" && mode !== "add" && mode !== "remove") {
      throw new RangeError(
        `Invalid update mode ${
          JSON.stringify(mode)
        } for "${field}": expected "set", "add" or "remove"`,
      );
    }
    if (!(field in data)) continue;
    const value = data[field];
    if (!Array.isArray(value)) {
      throw new TypeError(
        `Invalid value of "${field}" with update mode "${mode}": expected a list of {type, id}`,
      );
    }
    out[field] = { multi_entity_update_mode: mode, value };
  }
  return out;
}

/**
 * The `_batch` body of some requests.
 *
 * @param requests Python-API-shaped requests.
 * @returns `{requests: [...]}`.
 * @throws {TypeError} For a request with an unknown type, no entity type, a bad id or no data.
 */
export function encodeBatch(requests: readonly BatchRequest[]): { requests: unknown[] } {
  if (!Array.isArray(requests)) throw new TypeError("Invalid batch: expected an array of requests");
  return {
    requests: requests.map((r, index) => {
      const at = `batch request ${index}`;
      if (typeof r !== "object" || r === null) throw new TypeError(`Invalid ${at}: not an object`);
      // recordPath checks the entity type and id the way every other call does.
      if (r.request_type === "create") {
        recordPath(r.entity_type, 1);
        return {
          request_type: "create",
          entity: r.entity_type,
          data: withUpdateModes(dataOf(r.data, at), r.multi_entity_update_modes),
        };
      }
      if (r.request_type === "update" || r.request_type === "delete") {
        recordPath(r.entity_type, r.entity_id);
        const out: Record<string, unknown> = {
          request_type: r.request_type,
          entity: r.entity_type,
          record_id: r.entity_id,
        };
        if (r.request_type === "update") {
          out.data = withUpdateModes(dataOf(r.data, at), r.multi_entity_update_modes);
        }
        return out;
      }
      throw new TypeError(
        `Invalid ${at}: request_type ${
          JSON.stringify((r as { request_type?: unknown }).request_type)
        } is not "create", "update" or "delete"`,
      );
    }),
  };
}

function dataOf(data: unknown, at: string): Record<string, unknown> {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new TypeError(`Invalid ${at}: data must be an object of field values`);
  }
  return data as Record<string, unknown>;
}

/**
 * The results of a `_batch` answer.
 *
 * @param body The parsed answer.
 * @param count How many requests were sent.
 * @returns Flat records for creates and updates, `true` for deletes.
 * @throws {TypeError} When the answer has no `data` array of that length.
 */
export function decodeBatch(body: unknown, count: number): (FlatRecord | true)[] {
  const data = typeof body === "object" && body !== null
    ? (body as { data?: unknown }).data
    : undefined;
  if (!Array.isArray(data) || data.length !== count) {
    throw new TypeError(`Cannot read batch results: expected a data array of ${count}`);
  }
  return data.map((entry) =>
    typeof entry === "object" && entry !== null && "type" in entry && "id" in entry
      ? flattenRecord(entry as JsonApiRecord)
      : true
  );
}
