/**
 * `POST /api/v1/entity/_batch`: creates, updates and deletes as one transaction.
 *
 * Body: `{"requests": [{"request_type": "create", "entity": "Shot", "data": {...}},
 * {"request_type": "update", "entity": "Shot", "record_id": 1, "data": {...}},
 * {"request_type": "delete", "entity": "Shot", "record_id": 1}]}`. The first failing request
 * fails the batch with its own error (the detail naming the request) and undoes the earlier
 * ones; their event ids never commit. Answer `{"data": [...]}`, one entry per request: the
 * record for a create or update, `null` for a delete.
 *
 * @module
 */

import { badRequest, SimRequestError } from "./errors.ts";
import { parseFields, renderRow, type Resource } from "./render.ts";
import type { EntityDef } from "./schema.ts";
import type { SimStore, WriteOptions, Writer } from "./store.ts";

/**
 * Run one batch.
 *
 * @param store The site's data.
 * @param batch The body's `requests` and who writes.
 * @returns The answer's `data`.
 * @throws {SimRequestError} The first failing request's error; nothing was written.
 */
export function runBatch(
  store: SimStore,
  batch: { requests: unknown; options: WriteOptions },
): (Resource | null)[] {
  const { requests, options } = batch;
  if (!Array.isArray(requests)) throw badRequest("API batch() requests must be an array");
  const done = store.batch((writer) =>
    requests.map((request, index) => {
      try {
        return runOne(store, writer, request, options);
      } catch (error) {
        if (!(error instanceof SimRequestError)) throw error;
        throw new SimRequestError(error.status, error.code, error.message, {
          detail: `requests[${index}]: ${error.detail ?? error.message}`,
          cause: error,
        });
      }
    })
  );
  return done.map((r) => {
    if (r === null) return null;
    const row = store.row(r.def.type, r.id)!;
    return renderRow(store, r.def, row, parseFields(r.def, undefined, store.schema));
  });
}

function runOne(
  store: SimStore,
  writer: Writer,
  request: unknown,
  options: WriteOptions,
): { def: EntityDef; id: number } | null {
  const r = (request ?? {}) as Record<string, unknown>;
  if (typeof r.entity !== "string") throw badRequest("API batch() entity is missing");
  const def = store.schema.entityDef(r.entity);
  if (!def) {
    throw new SimRequestError(404, 104, "Record not found", {
      detail: `Entity type "${r.entity}" not found`,
    });
  }
  const data = (r.data ?? {}) as Record<string, unknown>;
  const id = Number(r.record_id);
  const needId = () => {
    if (!Number.isInteger(id) || id < 1) throw badRequest("API batch() record_id is missing");
  };
  switch (r.request_type) {
    case "create":
      return { def, id: writer.create(def.type, data, options).id };
    case "update":
      needId();
      writer.update(def.type, id, data, options);
      return { def, id };
    case "delete":
      needId();
      writer.retire(def.type, id, options);
      return null;
    default:
      throw badRequest(
        `API batch() request_type ${
          JSON.stringify(r.request_type)
        }: expected "create", "update" or "delete"`,
      );
  }
}
