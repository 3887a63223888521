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
import { type Clock, type Sleep, sleep as defaultSleep } from "../util/abort.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import type { Credentials } from "./auth.ts";
import { TokenSource } from "./auth.ts";
import { errorFromResponse, ShotGridError } from "./errors.ts";
import { encodeFilters } from "./filters.ts";
import { flattenRecord, flattenRecords, type JsonApiRecord } from "./flatten.ts";
import { describeResponse, type HttpResponse, HttpTransport } from "./http.ts";
import { entityPath, recordPath } from "./paths.ts";
import { isRetriableStatus, parseRetryAfter, withRetries } from "./retry.ts";
import type { Filter, FilterGroup, FlatRecord } from "./types.ts";

/** How to reach and authenticate with a ShotGrid site. */
export interface ShotGridClientOptions {
  /** Site base URL, e.g. `https://studio.shotgrid.autodesk.com`. */
  url: string;
  /** Script name (client_credentials grant). */
  scriptName?: string;
  /** Script key (client_credentials grant). Never logged nor put in a URL. */
  scriptKey?: string;
  /** User login (password grant). */
  login?: string;
  /** User password (password grant). Never logged nor put in a URL. */
  password?: string;
  /** Act as this user: `scope=sudo_as_login:<login>`. */
  sudoAsLogin?: string;
  /** Sent with every write as `X-Shotgun-Session-Uuid` (see {@link ShotGridClient.withSessionUuid}). */
  sessionUuid?: string | null;
  /** HTTP proxy URL. */
  proxy?: string | null;
  /** Per request, in ms (default 30 000). */
  timeoutMs?: number;
  /** Retries of a retriable failure (default 3, so 4 tries). */
  retries?: number;
  /** Spacing of the retries. */
  backoff?: BackoffOptions;
  /** How to wait between retries (injectable). */
  sleep?: Sleep;
  /** Epoch-ms clock, for token expiry and HTTP-date `Retry-After` (injectable). */
  clock?: Clock;
  /** The fetch to use (injectable). */
  fetch?: typeof fetch;
  /** `User-Agent` header (default `sgevents`). */
  userAgent?: string;
}

/** Options of {@link ShotGridClient.find}. */
export interface FindOptions {
  /** Sort order, Python-API shape; default `id` ascending. */
  order?: readonly { field_name: string; direction?: "asc" | "desc" }[];
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

/** What a client and its session views share. */
interface Shared {
  readonly baseUrl: string;
  readonly http: HttpTransport;
  readonly tokens: TokenSource;
  readonly retries: number;
  readonly backoff: BackoffOptions;
  readonly sleep: Sleep;
  readonly clock: Clock;
  readonly userAgent: string;
}

/** Passed through the constructor by `withSessionUuid()`: not part of the public options. */
const sharedKey = Symbol("shared");
type InternalOptions = ShotGridClientOptions & { [sharedKey]?: Shared };

/** One request as the client describes it. */
interface Call {
  readonly action: string;
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly path: string;
  readonly query?: URLSearchParams;
  readonly body?: unknown;
  readonly contentType?: string;
  /** Reads may be retried on a 500; writes carry the session uuid. */
  readonly write: boolean;
  readonly signal?: AbortSignal | undefined;
}

const defaultPageSize = 500;
const maxPageSize = 5000;

/**
 * A ShotGrid REST client returning flat, Python-API-shaped records.
 *
 * Failures are {@link ShotGridError}s; network errors, timeouts, 429, 502, 503, 504
 * (and 500 on reads) are retried with backoff; every call takes an AbortSignal.
 */
export class ShotGridClient implements AsyncDisposable {
  readonly #shared: Shared;
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
    this.#shared = createShared(options);
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
  async find(
    entityType: string,
    filters: readonly Filter[] | FilterGroup,
    fields?: readonly string[],
    options: FindOptions = {},
  ): Promise<FlatRecord[]> {
    const limit = options.limit ?? 0;
    const pageSize = options.pageSize ?? defaultPageSize;
    checkInteger("limit", limit, 0, Number.MAX_SAFE_INTEGER);
    checkInteger("pageSize", pageSize, 1, maxPageSize);
    const path = `${entityPath(entityType)}/_search`;
    const encoded = encodeFilters(filters);
    const body: Record<string, unknown> = {
      filters: encoded.filters,
      fields: fieldList(fields),
      sort: sortParam(options.order),
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
   * @param options As for {@link find} (`limit` is forced to 1).
   * @returns The record or `null`.
   * @throws {ShotGridError} On a failed call.
   */
  async findOne(
    entityType: string,
    filters: readonly Filter[] | FilterGroup,
    fields?: readonly string[],
    options: Omit<FindOptions, "limit" | "page" | "pageSize"> = {},
  ): Promise<FlatRecord | null> {
    const records = await this.find(entityType, filters, fields, { ...options, limit: 1 });
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
   * @param options Signal.
   * @returns The updated record, flat.
   * @throws {ShotGridError} On a failed call.
   */
  async update(
    entityType: string,
    id: number,
    data: Record<string, unknown>,
    options: CallOptions = {},
  ): Promise<FlatRecord> {
    const action = `update ${entityType} ${id}`;
    const body = await this.#call({
      action,
      method: "PUT",
      path: recordPath(entityType, id),
      body: data,
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
   * A view of this client that sends `sessionUuid` with its writes, sharing the
   * token and HTTP connections. Closing a view does nothing; close the original.
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

  /** Send one call with auth, a re-auth on 401, retries and error mapping; returns parsed JSON. */
  #call(call: Call): Promise<unknown> {
    const { baseUrl, http, tokens, retries, backoff, sleep, clock, userAgent } = this.#shared;
    const { action, signal } = call;
    let url = baseUrl + call.path;
    if (call.query) url += `?${call.query}`;
    const headers = new Headers({ Accept: "application/json", "User-Agent": userAgent });
    let body: string | undefined;
    if (call.body !== undefined) {
      body = JSON.stringify(call.body);
      headers.set("Content-Type", call.contentType ?? "application/json");
    }
    // The REST API documents no session_uuid parameter; this header is what the
    // simulator records, mirroring the Python API's session_uuid on writes.
    if (call.write && this.#sessionUuid !== null) {
      headers.set("X-Shotgun-Session-Uuid", this.#sessionUuid);
    }
    const send = async (): Promise<HttpResponse> => {
      const token = await tokens.token(action, signal);
      headers.set("Authorization", `Bearer ${token}`);
      const response = await http.send({ method: call.method, url, headers, body, signal }, action);
      // An expired or revoked token: get a new one once and repeat the call.
      if (response.status !== 401) return response;
      tokens.invalidate(token);
      headers.set("Authorization", `Bearer ${await tokens.token(action, signal)}`);
      return await http.send({ method: call.method, url, headers, body, signal }, action);
    };
    return withRetries(async () => {
      const response = await send();
      if (response.status >= 200 && response.status < 300) {
        return parseBody(action, response, tokens.secrets);
      }
      throw errorFromResponse(action, response, {
        retriable: isRetriableStatus(response.status, !call.write),
        retryAfterMs: parseRetryAfter(response.headers.get("Retry-After"), clock()),
        secrets: tokens.secrets,
      });
    }, { retries, backoff, sleep, signal });
  }
}

function createShared(options: ShotGridClientOptions): Shared {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new TypeError(`Invalid ShotGrid URL ${JSON.stringify(options.url)}`);
  }
  if (base.protocol !== "https:" && base.protocol !== "http:") {
    throw new TypeError(`Invalid ShotGrid URL ${JSON.stringify(options.url)}: not http(s)`);
  }
  const baseUrl = base.origin + base.pathname.replace(/\/+$/, "");
  const credentials = credentialsOf(options);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retries = options.retries ?? 3;
  checkInteger("timeoutMs", timeoutMs, 1, 2_147_483_647);
  checkInteger("retries", retries, 0, 1000);
  const clock = options.clock ?? Date.now;
  const userAgent = options.userAgent ?? "sgevents";
  const http = new HttpTransport({
    fetch: options.fetch ?? globalThis.fetch,
    timeoutMs,
    proxy: options.proxy,
  });
  return {
    baseUrl,
    http,
    tokens: new TokenSource({ baseUrl, http, credentials, clock, userAgent }),
    retries,
    backoff: options.backoff ?? {},
    sleep: options.sleep ?? defaultSleep,
    clock,
    userAgent,
  };
}

function credentialsOf(options: ShotGridClientOptions): Credentials {
  if (options.scriptName !== undefined || options.scriptKey !== undefined) {
    if (!options.scriptName || !options.scriptKey) {
      throw new TypeError("Invalid ShotGrid credentials: scriptName and scriptKey go together");
    }
    return {
      grant: "client_credentials",
      scriptName: options.scriptName,
      scriptKey: options.scriptKey,
      sudoAsLogin: options.sudoAsLogin,
    };
  }
  if (options.login && options.password) {
    return {
      grant: "password",
      login: options.login,
      password: options.password,
      sudoAsLogin: options.sudoAsLogin,
    };
  }
  throw new TypeError(
    "Invalid ShotGrid credentials: give scriptName and scriptKey, or login and password",
  );
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Invalid ${name} ${value}: expected an integer in ${min}..${max}`);
  }
}

function fieldList(fields: readonly string[] | undefined): string {
  return fields === undefined || fields.length === 0 ? "id" : fields.join(",");
}

function sortParam(order: FindOptions["order"]): string {
  if (!order || order.length === 0) return "id";
  return order.map((o) => (o.direction === "desc" ? "-" : "") + o.field_name).join(",");
}

/** The response each parsed body came from, for messages about a body of the wrong shape. */
const bodies = new WeakMap<
  object,
  { readonly text: string; readonly status: number; readonly secrets: readonly string[] }
>();

function parseBody(action: string, response: HttpResponse, secrets: readonly string[]): unknown {
  if (response.text === "") return null;
  let body: unknown;
  try {
    body = JSON.parse(response.text);
  } catch (error) {
    throw new ShotGridError(
      `Cannot ${action}: the response is not JSON (${describeResponse(response, secrets)})`,
      { status: response.status, title: "Invalid response", cause: error },
    );
  }
  if (typeof body === "object" && body !== null) {
    bodies.set(body, { text: response.text, status: response.status, secrets });
  }
  return body;
}

function shapeError(action: string, body: unknown, what: string, cause: unknown): ShotGridError {
  const response = typeof body === "object" && body !== null ? bodies.get(body) : undefined;
  const seen = response === undefined
    ? body === null ? "an empty body" : `a ${typeof body}`
    : describeResponse(response, response.secrets);
  return new ShotGridError(`Cannot ${action}: the response has no ${what} (${seen})`, {
    ...(response === undefined ? {} : { status: response.status }),
    title: "Invalid response",
    cause,
  });
}

function readRecords(action: string, body: unknown): FlatRecord[] {
  try {
    return flattenRecords(body);
  } catch (error) {
    throw shapeError(action, body, `"data" array of records`, error);
  }
}

function readRecord(action: string, body: unknown): FlatRecord {
  const data = typeof body === "object" && body !== null
    ? (body as { data?: unknown }).data
    : undefined;
  try {
    return flattenRecord(data as JsonApiRecord);
  } catch (error) {
    throw shapeError(action, body, `"data" record with a type and numeric id`, error);
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof ShotGridError && error.status === 404;
}

export { ShotGridError };
export type { Filter, FilterGroup, FlatRecord };
