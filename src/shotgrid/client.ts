/**
 * The typed ShotGrid REST client shared by the daemon (reading EventLogEntry pages on
 * its hot path) and every plugin callback (as `sg`).
 *
 * Why not the official `shotgun-nodejs` package: it is untyped CommonJS, it sends the
 * script key in the query string (where proxies and access logs keep it), and it
 * drops the filters when it follows `links.next` to page. This client speaks the REST
 * API directly, returns records in the flat shape the Python API returns (so ported
 * plugins keep working), retries only what is safe to retry, and stops promptly when
 * its AbortSignal fires.
 *
 * @example
 * ```ts
 * import { ShotGridClient } from "./client.ts";
 * await using sg = new ShotGridClient({
 *   url: "https://studio.shotgrid.autodesk.com",
 *   scriptName: "sgevents",
 *   scriptKey: "secret",
 * });
 * const shots = await sg.find("Shot", [["sg_status_list", "is", "ip"]], ["code", "project"]);
 * ```
 *
 * @module
 */
import {
  type BatchRequest,
  decodeBatch,
  encodeBatch,
  type UpdateModes,
  withUpdateModes,
} from "./batch.ts";
import {
  type Call,
  checkInteger,
  type Connection,
  type ConnectionOptions,
  openConnection,
  send,
  shaped,
} from "./connection.ts";
import { ShotGridError } from "./errors.ts";
import { encodeFilters } from "./filters.ts";
import { type OrderKey, trailingArgs } from "./find_args.ts";
import { flattenRecord, flattenRecords, type JsonApiRecord } from "./flatten.ts";
import { entityPath, recordPath } from "./paths.ts";
import type { Filter, FilterGroup, FlatRecord } from "./types.ts";
import { uploadThumbnail } from "./upload.ts";

/** How to reach and authenticate with a ShotGrid site, and the session of the writes. */
export interface ShotGridClientOptions extends ConnectionOptions {
  /**
   * The session of this client's writes: their events carry it as `session_uuid` (see
   * {@link ShotGridClient.withSessionUuid}). Sent as the token grant's `session_uuid`.
   */
  sessionUuid?: string | null;
}

/** Options of {@link ShotGridClient.find}. */
export interface FindOptions {
  /** Sort order, Python-API shape; default `id` ascending. */
  order?: readonly OrderKey[];
  /** Most records to return; 0 (default) for all. Paging stops at the limit or a short page. */
  limit?: number;
  /** Return only this page (1-based), `limit` (or `pageSize`) records per page. */
  page?: number;
  /** Records per request, 1..5000 (default 500). */
  pageSize?: number;
  /** Return only retired records. */
  retiredOnly?: boolean;
  /** Stops the call, including retries and waits. */
  signal?: AbortSignal;
}

/** Options taking only a signal. */
export interface CallOptions {
  /** Stops the call, including retries and waits. */
  signal?: AbortSignal;
}

/** Options of {@link ShotGridClient.create}. */
export interface CreateOptions extends CallOptions {
  /** Fields to return besides those set (`options[fields]`). */
  returnFields?: readonly string[];
}

/** Options of {@link ShotGridClient.update}. */
export interface UpdateOptions extends CallOptions {
  /** How multi-entity fields are written: field -> `set` (default), `add` or `remove`. */
  multiEntityUpdateModes?: UpdateModes;
  /** The Python API's spelling of {@link multiEntityUpdateModes}, for ported plugins. */
  multi_entity_update_modes?: UpdateModes;
}

/** Options of {@link ShotGridClient.summarize}. */
export interface SummarizeOptions extends CallOptions {
  /** `[{field, type: "exact", direction?}]`: summaries per distinct value, nested in order. */
  grouping?: readonly { field: string; type?: "exact"; direction?: "asc" | "desc" }[];
}

/** One summary asked of {@link ShotGridClient.summarize}. */
export interface SummaryField {
  readonly field: string;
  /** `record_count`, `count`, `sum`, `minimum`, `maximum`, `average`, ... (Python API names). */
  readonly type: string;
}

/** What {@link ShotGridClient.summarize} returns, as the Python API's `summarize()`. */
export interface Summary {
  readonly summaries: Readonly<Record<string, unknown>>;
  readonly groups: readonly unknown[];
}

/** A field's schema, Python-API shape: `{data_type: {value}, name: {value}, properties...}`. */
export type FieldSchema = Readonly<Record<string, unknown>>;

/** Passed through the constructor by `withSessionUuid()`: not part of the public options. */
const sharedKey = Symbol("shared");
type InternalOptions = ShotGridClientOptions & { [sharedKey]?: Connection };

const defaultPageSize = 500;
const maxPageSize = 5000;

/**
 * A ShotGrid REST client returning flat, Python-API-shaped records.
 *
 * Failures are {@link ShotGridError}s; network errors, timeouts, 429, 502, 503, 504
 * (and 500 on reads) are retried with backoff; every call takes an AbortSignal.
 */
export class ShotGridClient implements AsyncDisposable {
  readonly #shared: Connection;
  readonly #sessionUuid: string | null;
  readonly #ownsTransport: boolean;

  /**
   * @param options Site URL, credentials and transport settings.
   * @throws {TypeError} When the URL or the credentials are missing or invalid.
   */
  constructor(options: ShotGridClientOptions) {
    const internal = options as InternalOptions;
    this.#sessionUuid = options.sessionUuid ?? null;
    const shared = internal[sharedKey];
    if (shared !== undefined) {
      this.#shared = shared;
      this.#ownsTransport = false;
      return;
    }
    this.#shared = openConnection(options);
    this.#ownsTransport = true;
  }

  /** The session uuid sent with writes, or `null`. */
  get sessionUuid(): string | null {
    return this.#sessionUuid;
  }

  /**
   * Search records, following pages until `limit` or a short page.
   *
   * @param entityType `EventLogEntry`, `Shot`...
   * @param filters `[["id","greater_than",5]]`, `{filter_operator, filters}` or `{logical_operator, conditions}`.
   * @param fields Fields to return (default `["id"]`; `["*"]` for all).
   * @param options Order, limit, page, page size, retired only, signal.
   * @returns Flat records.
   * @throws {ShotGridError} On a failed call.
   * @throws {RangeError} On an invalid limit, page or page size.
   */
  find(
    entityType: string,
    filters: readonly Filter[] | FilterGroup,
    fields?: readonly string[],
    options?: FindOptions,
  ): Promise<FlatRecord[]>;
  /**
   * Search records, the Python API's positional way: `find(type, filters, fields, order)`,
   * optionally followed by its `filter_operator` (`"all"`/`"any"`) or by options.
   *
   * @param entityType The entity type.
   * @param filters As above.
   * @param fields Fields to return.
   * @param order `[{field_name, direction}]`.
   * @param options Options other than the order, or `"all"`/`"any"`.
   * @returns Flat records.
   * @throws {ShotGridError} On a failed call.
   * @throws {TypeError} On arguments of neither shape.
   */
  find(
    entityType: string,
    filters: readonly Filter[] | FilterGroup,
    fields: readonly string[] | undefined,
    order: readonly OrderKey[],
    options?: Omit<FindOptions, "order"> | "all" | "any",
  ): Promise<FlatRecord[]>;
  async find(
    entityType: string,
    givenFilters: readonly Filter[] | FilterGroup,
    fields?: readonly string[],
    fourth?: FindOptions | readonly OrderKey[],
    fifth?: Omit<FindOptions, "order"> | "all" | "any",
  ): Promise<FlatRecord[]> {
    // Untyped ported code passes the order positionally: it must not be ignored.
    const { order, filters, options } = trailingArgs<FindOptions>(givenFilters, fourth, fifth);
    const limit = options.limit ?? 0;
    const pageSize = options.pageSize ?? defaultPageSize;
    checkInteger("limit", limit, 0, Number.MAX_SAFE_INTEGER);
    checkInteger("pageSize", pageSize, 1, maxPageSize);
    const path = `${entityPath(entityType)}/_search`;
    const encoded = encodeFilters(filters);
    const body: Record<string, unknown> = {
      filters: encoded.filters,
      fields: fieldList(fields),
      sort: sortParam(order),
    };
    if (options.retiredOnly) body.options = { return_only: "retired" };
    const call = (number: number, size: number) =>
      this.#call({
        action: `search ${entityType}`,
        method: "POST",
        path,
        body: { ...body, page: { size, number } },
        contentType: encoded.contentType,
        write: false,
        signal: options.signal,
      });

    if (options.page !== undefined && options.page !== 0) {
      checkInteger("page", options.page, 1, Number.MAX_SAFE_INTEGER);
      const size = limit > 0 ? Math.min(limit, maxPageSize) : pageSize;
      return readRecords(`search ${entityType}`, await call(options.page, size));
    }
    const size = limit > 0 ? Math.min(limit, pageSize) : pageSize;
    const records: FlatRecord[] = [];
    for (let number = 1;; number++) {
      const page = readRecords(`search ${entityType}`, await call(number, size));
      for (let i = 0; i < page.length; i++) records.push(page[i]!);
      if (page.length < size) break;
      if (limit > 0 && records.length >= limit) break;
    }
    return limit > 0 && records.length > limit ? records.slice(0, limit) : records;
  }

  /**
   * The first record matching the filters, or `null`.
   *
   * @param entityType The entity type.
   * @param filters As for {@link find}.
   * @param fields Fields to return.
   * @param options As for {@link find} (`limit` is forced to 1), or an order (Python positional).
   * @param fifth After a positional order: options, or `"all"`/`"any"`.
   * @returns The record or `null`.
   * @throws {ShotGridError} On a failed call.
   */
  async findOne(
    entityType: string,
    filters: readonly Filter[] | FilterGroup,
    fields?: readonly string[],
    options: Omit<FindOptions, "limit" | "page" | "pageSize"> | readonly OrderKey[] = {},
    fifth?: Omit<FindOptions, "order" | "limit" | "page" | "pageSize"> | "all" | "any",
  ): Promise<FlatRecord | null> {
    const args = trailingArgs<FindOptions>(filters, options, fifth);
    const records = await this.find(entityType, args.filters, fields, {
      ...args.options,
      ...(args.order ? { order: args.order } : {}),
      limit: 1,
    });
    return records[0] ?? null;
  }

  /**
   * Read one record by id.
   *
   * @param entityType The entity type.
   * @param id The record id.
   * @param fields Fields to return (default `["id"]`).
   * @param options Signal.
   * @returns The record, or `null` when it does not exist (404, code 104) or is retired.
   * @throws {ShotGridError} On any other failure.
   */
  async findById(
    entityType: string,
    id: number,
    fields?: readonly string[],
    options: CallOptions = {},
  ): Promise<FlatRecord | null> {
    const action = `read ${entityType} ${id}`;
    try {
      const body = await this.#call({
        action,
        method: "GET",
        path: recordPath(entityType, id),
        query: new URLSearchParams({ fields: fieldList(fields) }),
        write: false,
        signal: options.signal,
      });
      return readRecord(action, body);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /**
   * Create a record.
   *
   * @param entityType The entity type.
   * @param data Field values; links as `{type, id}`.
   * @param options Extra fields to return, signal.
   * @returns The new record, flat.
   * @throws {ShotGridError} On a failed call.
   */
  async create(
    entityType: string,
    data: Record<string, unknown>,
    options: CreateOptions = {},
  ): Promise<FlatRecord> {
    const action = `create ${entityType}`;
    const call: Call = {
      action,
      method: "POST",
      path: entityPath(entityType),
      body: data,
      write: true,
      signal: options.signal,
      ...(options.returnFields?.length
        ? { query: new URLSearchParams({ "options[fields]": options.returnFields.join(",") }) }
        : {}),
    };
    return readRecord(action, await this.#call(call));
  }

  /**
   * Update a record.
   *
   * @param entityType The entity type.
   * @param id The record id.
   * @param data Field values to set.
   * @param options Multi-entity update modes (`{shots: "add"}`), signal.
   * @returns The updated record, flat.
   * @throws {ShotGridError} On a failed call.
   * @throws {RangeError} On an unknown update mode.
   */
  async update(
    entityType: string,
    id: number,
    data: Record<string, unknown>,
    options: UpdateOptions = {},
  ): Promise<FlatRecord> {
    const action = `update ${entityType} ${id}`;
    const modes = updateModesOf(options);
    const body = await this.#call({
      action,
      method: "PUT",
      path: recordPath(entityType, id),
      body: withUpdateModes(data, modes),
      write: true,
      signal: options.signal,
    });
    return readRecord(action, body);
  }

  /**
   * Retire a record.
   *
   * @param entityType The entity type.
   * @param id The record id.
   * @param options Signal.
   * @returns `true` when retired, `false` when there was no such active record (404).
   * @throws {ShotGridError} On any other failure.
   */
  async delete(entityType: string, id: number, options: CallOptions = {}): Promise<boolean> {
    try {
      await this.#call({
        action: `delete ${entityType} ${id}`,
        method: "DELETE",
        path: recordPath(entityType, id),
        write: true,
        signal: options.signal,
      });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /**
   * Revive a retired record.
   *
   * @param entityType The entity type.
   * @param id The record id.
   * @param options Signal.
   * @returns `true` when revived, `false` when there was no such record (404).
   * @throws {ShotGridError} On any other failure.
   */
  async revive(entityType: string, id: number, options: CallOptions = {}): Promise<boolean> {
    try {
      await this.#call({
        action: `revive ${entityType} ${id}`,
        method: "POST",
        path: recordPath(entityType, id),
        query: new URLSearchParams({ revive: "true" }),
        write: true,
        signal: options.signal,
      });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /**
   * Run creates, updates and deletes as one transaction on the site's `_batch` endpoint: all
   * of them happen, or (when one fails) none. Never retried on a 500, as other writes.
   *
   * @param requests `{request_type, entity_type, data}` (create), `{..., entity_id, data}`
   *   (update, with optional `multi_entity_update_modes`), `{request_type: "delete",
   *   entity_type, entity_id}`, as the Python API's `batch()`.
   * @param options Signal.
   * @returns One result per request: the record for a create or update, `true` for a delete.
   * @throws {ShotGridError} When the batch fails (nothing was written).
   * @throws {TypeError} On a malformed request.
   */
  async batch(
    requests: readonly BatchRequest[],
    options: CallOptions = {},
  ): Promise<(FlatRecord | true)[]> {
    const body = encodeBatch(requests);
    if (body.requests.length === 0) return [];
    const action = `run a batch of ${body.requests.length} requests`;
    const answer = await this.#call({
      action,
      method: "POST",
      path: "/api/v1/entity/_batch",
      body,
      write: true,
      signal: options.signal,
    });
    return shaped(
      action,
      answer,
      `"data" list of ${body.requests.length} results`,
      () => decodeBatch(answer, body.requests.length),
    );
  }

  /**
   * Summaries of the records matching the filters (REST `POST
   * /api/v1/entity/{type}/_summarize` with `{filters, summary_fields, grouping}`, answered
   * `{data: {summaries, groups}}`). Three required arguments, as the Python API's
   * `summarize()` has.
   *
   * @param entityType The entity type.
   * @param filters As for {@link find}.
   * @param summaryFields `[{field: "id", type: "count"}]`.
   * @param options Grouping, signal.
   * @returns `{summaries: {field: value}, groups: [{group_name, group_value, summaries}]}`.
   * @throws {ShotGridError} On a failed call.
   */
  async summarize(
    entityType: string,
    filters: readonly Filter[] | FilterGroup,
    summaryFields: readonly SummaryField[],
    options: SummarizeOptions = {},
  ): Promise<Summary> {
    const action = `summarize ${entityType}`;
    const encoded = encodeFilters(filters);
    const body: Record<string, unknown> = {
      filters: encoded.filters,
      summary_fields: summaryFields,
    };
    if (options.grouping) body.grouping = options.grouping;
    const answer = await this.#call({
      action,
      method: "POST",
      path: `${entityPath(entityType)}/_summarize`,
      body,
      contentType: encoded.contentType,
      write: false,
      signal: options.signal,
    });
    return shaped(action, answer, `"data.summaries"`, () => {
      const data = dataOf(answer) as Partial<Summary> | undefined;
      if (typeof data?.summaries !== "object" || data.summaries === null) {
        throw new TypeError("no data.summaries");
      }
      return { summaries: data.summaries, groups: Array.isArray(data.groups) ? data.groups : [] };
    });
  }

  /**
   * The site's entity types (REST `GET /api/v1/schema`), as the Python API's
   * `schema_entity_read()`: `{Shot: {name: {value: "Shot"}, visible: {...}}, ...}`.
   *
   * @param options Signal.
   * @returns Entity type -> its properties.
   * @throws {ShotGridError} On a failed call.
   */
  async schemaEntityRead(options: CallOptions = {}): Promise<Record<string, FieldSchema>> {
    const action = "read the schema";
    const answer = await this.#call({
      action,
      method: "GET",
      path: "/api/v1/schema",
      write: false,
      signal: options.signal,
    });
    return shaped(action, answer, `"data" object`, () => objectOf(dataOf(answer)));
  }

  /**
   * Every field of every entity type, as the Python API's `schema_read()`: one schema read
   * for the types, then one field read per type (REST has no single call for all).
   *
   * @param options Signal.
   * @returns Entity type -> field -> field schema.
   * @throws {ShotGridError} On a failed call.
   */
  async schemaRead(
    options: CallOptions = {},
  ): Promise<Record<string, Record<string, FieldSchema>>> {
    const types = Object.keys(await this.schemaEntityRead(options));
    const out: Record<string, Record<string, FieldSchema>> = {};
    for (const type of types) out[type] = await this.schemaFieldRead(type, undefined, options);
    return out;
  }

  /**
   * The fields of an entity type, or one of them (REST `GET /api/v1/schema/{type}/fields` and
   * `.../fields/{field}`), as the Python API's `schema_field_read()`: always
   * `{field: {data_type: {value}, name: {value}, properties: {...}, ...}}`.
   *
   * @param entityType The entity type.
   * @param field One field, or `undefined` for all.
   * @param options Signal.
   * @returns Field -> field schema.
   * @throws {ShotGridError} On a failed call (404 for an unknown type or field).
   */
  async schemaFieldRead(
    entityType: string,
    field?: string,
    options: CallOptions = {},
  ): Promise<Record<string, FieldSchema>> {
    const base = `/api/v1/schema/${entityPath(entityType).slice("/api/v1/entity/".length)}/fields`;
    if (field !== undefined && !/^[A-Za-z0-9_.]+$/.test(field)) {
      throw new TypeError(`Invalid field name ${JSON.stringify(field)}`);
    }
    const action = field === undefined
      ? `read the fields of ${entityType}`
      : `read field ${entityType}.${field}`;
    const answer = await this.#call({
      action,
      method: "GET",
      path: field === undefined ? base : `${base}/${field}`,
      write: false,
      signal: options.signal,
    });
    return shaped(action, answer, `"data" object`, () => {
      const data = objectOf(dataOf(answer));
      return field === undefined ? data as Record<string, FieldSchema> : { [field]: data };
    });
  }

  /**
   * Upload a thumbnail for a record, by the site's upload flow (see `upload.ts`): the site
   * logs the image change as it does for one made in its web page.
   *
   * @param entityType The entity type (one with an `image` field).
   * @param id The record id.
   * @param path The image file.
   * @param options Signal.
   * @throws {ShotGridError} When a step fails.
   * @throws {Deno.errors.NotFound} When the file does not exist.
   */
  async uploadThumbnail(
    entityType: string,
    id: number,
    path: string,
    options: CallOptions = {},
  ): Promise<void> {
    await uploadThumbnail({ entityType, id, path }, {
      connection: this.#shared,
      call: (call) => this.#call(call),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * A view of this client whose writes carry `sessionUuid`, sharing the HTTP connections.
   * The REST API takes the session at the token grant, so the view's writes use a token
   * granted with it (cached per uuid, least recently used dropped beyond
   * `maxSessionTokens`); its reads use the client's own token. Closing a view does nothing;
   * close the original.
   *
   * @param sessionUuid The uuid to send, or `null` for none.
   * @returns The view.
   */
  withSessionUuid(sessionUuid: string | null): ShotGridClient {
    const options: InternalOptions = { url: this.#shared.baseUrl, sessionUuid };
    options[sharedKey] = this.#shared;
    return new ShotGridClient(options);
  }

  /** Release the HTTP client (proxy connections). Idempotent; a no-op on views. */
  close(): Promise<void> {
    if (this.#ownsTransport) this.#shared.http.close();
    return Promise.resolve();
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** One call as this client or view makes it: writes in a session use that session's token. */
  #call(call: Call): Promise<unknown> {
    return send(this.#shared, call.write ? this.#sessionUuid : null, call);
  }
}

const updateOptionKeys = new Set(["signal", "multiEntityUpdateModes", "multi_entity_update_modes"]);

/**
 * The update modes of `update()`'s options. Untyped ports may pass the Python API's positional
 * `multi_entity_update_modes` dict (`{shots: "add"}`) as the options: a dict whose every key is
 * unknown and every value a mode is taken as that; any other unknown key is an error, never
 * silently ignored.
 */
function updateModesOf(options: UpdateOptions): UpdateModes | undefined {
  const unknown = Object.keys(options).filter((k) => !updateOptionKeys.has(k));
  if (unknown.length === 0) {
    return options.multiEntityUpdateModes ?? options.multi_entity_update_modes;
  }
  const values = options as Record<string, unknown>;
  if (unknown.length === Object.keys(options).length) {
    if (
      unknown.every((k) => values[k] === "add" || values[k] === "remove" || values[k] === "set")
    ) {
      return options as unknown as UpdateModes;
    }
  }
  throw new TypeError(
    `Invalid update() option "${unknown[0]}": expected signal or multiEntityUpdateModes`,
  );
}

function fieldList(fields: readonly string[] | undefined): string {
  return fields === undefined || fields.length === 0 ? "id" : fields.join(",");
}

function dataOf(body: unknown): unknown {
  return typeof body === "object" && body !== null ? (body as { data?: unknown }).data : undefined;
}

function objectOf(value: unknown): Record<string, FieldSchema> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("data is not an object");
  }
  return value as Record<string, FieldSchema>;
}

function sortParam(order: readonly OrderKey[] | undefined): string {
  if (!order || order.length === 0) return "id";
  return order.map((o) => (o.direction === "desc" ? "-" : "") + o.field_name).join(",");
}

function readRecords(action: string, body: unknown): FlatRecord[] {
  return shaped(action, body, `"data" array of records`, () => flattenRecords(body));
}

function readRecord(action: string, body: unknown): FlatRecord {
  const data = typeof body === "object" && body !== null
    ? (body as { data?: unknown }).data
    : undefined;
  return shaped(
    action,
    body,
    `"data" record with a type and numeric id`,
    () => flattenRecord(data as JsonApiRecord),
  );
}

function isNotFound(error: unknown): boolean {
  return error instanceof ShotGridError && error.status === 404;
}

export { ShotGridError };
export type { ConnectionOptions };
export type { BatchRequest, Filter, FilterGroup, FlatRecord, OrderKey, UpdateModes };
