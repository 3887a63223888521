/**
 * The ShotGrid REST paths: auth, `_search`, `_summarize`, list and single reads, writes, the
 * `_batch` transaction, schema reads and the thumbnail upload flow. Each request is a small
 * value in and an {@link Answer} out, so the HTTP layer stays thin.
 *
 * @module
 */

import type { Authority, Principal } from "./auth.ts";
import { runBatch } from "./batch.ts";
import { badRequest, errorBody, SimRequestError } from "./errors.ts";
import { parseFields, renderRow } from "./render.ts";
import type { EntityDef } from "./schema.ts";
import { schemaEntities, schemaField, schemaFields } from "./schema_read.ts";
import { compileFilter, parseSort, runSearch } from "./search.ts";
import type { RouteKind } from "./stats.ts";
import type { SimStore, WriteOptions } from "./store.ts";
import { summarize } from "./summarize.ts";
import { Uploads } from "./uploads.ts";

/** An HTTP request, already read. */
export interface SimRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  readonly body: string;
}

/** What to answer. */
export interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  /** JSON value, a pre-rendered string, or nothing (204). */
  readonly json?: unknown;
  readonly text?: string;
}

/** A route matched to a handler. */
export interface Route {
  readonly kind: RouteKind;
  readonly run: () => Answer;
}

const maxPageSize = 5000;
const defaultPageSize = 500;

/**
 * An error as a ShotGrid answer.
 *
 * @param error A {@link SimRequestError}.
 * @returns The answer.
 */
export function errorAnswer(error: SimRequestError): Answer {
  return {
    status: error.status,
    json: errorBody(error.status, error.code, error.message, error.detail),
  };
}

function parseJson(body: string): Record<string, unknown> {
  if (body.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (cause) {
    throw new SimRequestError(400, 103, "Request body is not valid JSON", { cause });
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw badRequest("Request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

function typeOf(store: SimStore, name: string): EntityDef {
  const def = store.schema.entityDef(name);
  if (!def) {
    throw new SimRequestError(404, 104, "Record not found", {
      detail: `Entity type "${name}" not found`,
    });
  }
  return def;
}

function pageOf(
  body: Record<string, unknown>,
  query: URLSearchParams,
): { size: number; number: number } {
  const page = (body.page ?? {}) as Record<string, unknown>;
  const size = Number(page.size ?? query.get("page[size]") ?? defaultPageSize);
  const number = Number(page.number ?? query.get("page[number]") ?? 1);
  if (
    !Number.isInteger(size) || size < 1 || size > maxPageSize || !Number.isInteger(number) ||
    number < 1
  ) {
    throw badRequest("Request Parameters invalid.");
  }
  return { size, number };
}

function pageLink(path: string, page: { size: number; number: number }): string {
  const q = new URLSearchParams({
    "page[number]": String(page.number),
    "page[size]": String(page.size),
  });
  return `${path}?${q}`;
}

/** Handles the ShotGrid paths of one site. */
export class ShotGridRoutes {
  readonly #store: SimStore;
  readonly #auth: Authority;
  readonly #uploads = new Uploads();

  /**
   * @param store The site's data.
   * @param auth Token authority.
   */
  constructor(store: SimStore, auth: Authority) {
    this.#store = store;
    this.#auth = auth;
  }

  /**
   * Match a request to its handler.
   *
   * @param req The request.
   * @returns The route, or `undefined` when the path is not a ShotGrid API path.
   */
  match(req: SimRequest): Route | undefined {
    const method = req.method;
    const upload = req.url.pathname.match(/^\/sim_upload\/([0-9a-f-]+)$/);
    if (upload) {
      return {
        kind: "write",
        run: () => method === "PUT" ? this.#receive(req, upload[1]!) : this.#notAllowed(),
      };
    }
    const m = req.url.pathname.match(/^\/api\/v1(?:\.1)?\/(.*?)\/?$/);
    if (!m) return undefined;
    const parts = m[1]!.split("/").map(decodeURIComponent);
    if (parts[0] === "auth" && parts[1] === "access_token" && parts.length === 2) {
      return { kind: "auth", run: () => method === "POST" ? this.#token(req) : this.#notAllowed() };
    }
    if (parts[0] === "schema") {
      return {
        kind: "read",
        run: () => method === "GET" ? this.#schema(req, parts.slice(1)) : this.#notAllowed(),
      };
    }
    if (parts[0] === "entity" && parts[1] === "_batch" && parts.length === 2) {
      return {
        kind: "write",
        run: () => method === "POST" ? this.#batch(req) : this.#notAllowed(),
      };
    }
    if (parts[0] === "entity" && parts.length === 5 && parts[3] === "image") {
      const [, type, idText] = parts as [string, string, string];
      const id = Number(idText);
      if (parts[4] !== "_upload" || !Number.isInteger(id) || id < 1) {
        return { kind: "other", run: () => this.#notFound() };
      }
      if (method === "GET") return { kind: "read", run: () => this.#beginUpload(req, type, id) };
      if (method === "POST") {
        return {
          kind: "write",
          run: () => this.#completeUpload(req, type, id),
        };
      }
      return { kind: "other", run: () => this.#notAllowed() };
    }
    if (parts[0] !== "entity" || parts.length < 2 || parts.length > 3) {
      return { kind: "other", run: () => this.#notFound() };
    }
    const type = parts[1]!;
    const third = parts[2];
    if (third === "_search") {
      return {
        kind: "search",
        run: () => method === "POST" ? this.#search(req, type) : this.#notAllowed(),
      };
    }
    if (third === "_summarize") {
      return {
        kind: "search",
        run: () => method === "POST" ? this.#summarize(req, type) : this.#notAllowed(),
      };
    }
    if (third === undefined) {
      if (method === "GET") return { kind: "search", run: () => this.#list(req, type) };
      if (method === "POST") return { kind: "write", run: () => this.#create(req, type) };
      return { kind: "other", run: () => this.#notAllowed() };
    }
    const id = Number(third);
    if (!Number.isInteger(id) || id < 1) return { kind: "other", run: () => this.#notFound() };
    switch (method) {
      case "GET":
        return { kind: "read", run: () => this.#read(req, type, id) };
      case "PUT":
        return { kind: "write", run: () => this.#update(req, type, id) };
      case "DELETE":
        return { kind: "write", run: () => this.#retire(req, type, id) };
      case "POST":
        return { kind: "write", run: () => this.#revive(req, type, id) };
      default:
        return { kind: "other", run: () => this.#notAllowed() };
    }
  }

  #notFound(): Answer {
    return errorAnswer(new SimRequestError(404, 104, "Not found"));
  }

  #notAllowed(): Answer {
    return errorAnswer(new SimRequestError(405, 103, "Method not allowed"));
  }

  #token(req: SimRequest): Answer {
    const type = req.headers.get("content-type") ?? "";
    if (type.includes("json")) {
      throw new SimRequestError(415, 103, "Unsupported Media Type", {
        detail: "Content-Type must be application/x-www-form-urlencoded",
      });
    }
    const params = new URLSearchParams(req.url.search);
    for (const [key, value] of new URLSearchParams(req.body)) params.set(key, value);
    return { status: 200, json: this.#auth.grant(params) };
  }

  #principal(req: SimRequest): Principal {
    return this.#auth.check(req.headers.get("authorization"));
  }

  /** Writes log the session uuid the token was granted with (see {@link Principal}). */
  #writeOptions(principal: Principal): WriteOptions {
    return { user: principal.user, sessionUuid: principal.sessionUuid };
  }

  /** The filter form `_search` and `_summarize` bodies declare by their content type. */
  #filterForm(req: SimRequest): "array" | "hash" {
    const contentType = req.headers.get("content-type") ?? "";
    if (contentType.includes("api3_array")) return "array";
    if (contentType.includes("api3_hash")) return "hash";
    throw new SimRequestError(415, 103, "Unsupported Media Type", {
      detail:
        "Content-Type must be application/vnd+shotgun.api3_array+json or application/vnd+shotgun.api3_hash+json",
    });
  }

  #summarize(req: SimRequest, typeName: string): Answer {
    this.#principal(req);
    const def = typeOf(this.#store, typeName);
    const form = this.#filterForm(req);
    const body = parseJson(req.body);
    const filter = compileFilter(def, body.filters ?? [], form, this.#store);
    const data = summarize(this.#store, def, {
      filter,
      summaryFields: body.summary_fields,
      grouping: body.grouping,
    });
    return { status: 200, json: { data } };
  }

  #schema(req: SimRequest, parts: readonly string[]): Answer {
    this.#principal(req);
    if (parts.length === 0) {
      return { status: 200, json: { data: schemaEntities(this.#store.schema) } };
    }
    if (parts[1] !== "fields" || parts.length > 3) return this.#notFound();
    const def = typeOf(this.#store, parts[0]!);
    if (parts.length === 2) return { status: 200, json: { data: schemaFields(this.#store, def) } };
    const field = schemaField(this.#store, def, parts[2]!);
    if (!field) {
      throw new SimRequestError(404, 104, "Record not found", {
        detail: `API schema_field_read() ${def.type}.${parts[2]} doesn't exist.`,
      });
    }
    return { status: 200, json: { data: field } };
  }

  /** `POST /api/v1/entity/_batch`: one transaction (see `batch.ts`). */
  #batch(req: SimRequest): Answer {
    const principal = this.#principal(req);
    const data = runBatch(this.#store, {
      requests: parseJson(req.body).requests,
      options: this.#writeOptions(principal),
    });
    return { status: 200, json: { data } };
  }

  #beginUpload(req: SimRequest, typeName: string, id: number): Answer {
    this.#principal(req);
    const def = typeOf(this.#store, typeName);
    if (!def.fields.image) throw badRequest(`API upload() ${def.type}.image doesn't exist.`);
    if (!this.#store.row(def.type, id)) {
      throw new SimRequestError(404, 104, "Record not found", {
        detail: `API upload() ${def.type} with id ${id} not found`,
      });
    }
    const filename = req.url.searchParams.get("filename") ?? "thumbnail";
    const origin = `http://${req.headers.get("host") ?? "127.0.0.1"}`;
    return {
      status: 200,
      json: this.#uploads.begin({ type: def.type, id, plural: def.plural, filename }, origin),
    };
  }

  #receive(req: SimRequest, token: string): Answer {
    this.#uploads.receive(token, req.body.length);
    return { status: 200 };
  }

  #completeUpload(req: SimRequest, typeName: string, id: number): Answer {
    const principal = this.#principal(req);
    const def = typeOf(this.#store, typeName);
    this.#uploads.complete(def.type, id, parseJson(req.body));
    this.#store.uploadThumbnail(def.type, id, this.#writeOptions(principal));
    return { status: 201 };
  }

  #search(req: SimRequest, typeName: string): Answer {
    this.#principal(req);
    const def = typeOf(this.#store, typeName);
    const form = this.#filterForm(req);
    const body = parseJson(req.body);
    const query = req.url.searchParams;
    const filter = compileFilter(def, body.filters, form, this.#store);
    const fields = parseFields(
      def,
      body.fields ?? query.get("fields") ?? undefined,
      this.#store.schema,
    );
    const sort = parseSort(def, body.sort ?? query.get("sort") ?? undefined);
    const page = pageOf(body, query);
    const rows = runSearch(this.#store, def, { filter, sort, page });
    const path = `/api/v1/entity/${def.plural}/_search`;
    return {
      status: 200,
      json: {
        data: rows.map((row) => renderRow(this.#store, def, row, fields)),
        // `next` is always present, even on the last page: readers stop on a short page.
        links: {
          self: pageLink(path, page),
          next: pageLink(path, { ...page, number: page.number + 1 }),
        },
      },
    };
  }

  #list(req: SimRequest, typeName: string): Answer {
    this.#principal(req);
    const def = typeOf(this.#store, typeName);
    const query = req.url.searchParams;
    const conditions: unknown[] = [];
    for (const [key, value] of query) {
      const m = key.match(/^filter\[(.+)\]$/);
      if (m) conditions.push([m[1], "is", value]);
    }
    const filter = compileFilter(def, conditions, "array", this.#store);
    const fields = parseFields(def, query.get("fields") ?? undefined, this.#store.schema);
    const sort = parseSort(def, query.get("sort") ?? undefined);
    const page = pageOf({}, query);
    const rows = runSearch(this.#store, def, { filter, sort, page });
    const path = `/api/v1/entity/${def.plural}`;
    return {
      status: 200,
      json: {
        data: rows.map((row) => renderRow(this.#store, def, row, fields)),
        links: {
          self: pageLink(path, page),
          next: pageLink(path, { ...page, number: page.number + 1 }),
        },
      },
    };
  }

  #read(req: SimRequest, typeName: string, id: number): Answer {
    this.#principal(req);
    const def = typeOf(this.#store, typeName);
    const row = this.#store.row(def.type, id);
    if (!row) {
      throw new SimRequestError(404, 104, "Record not found", {
        detail: `API read() ${def.type} with id ${id} not found`,
      });
    }
    const fields = parseFields(
      def,
      req.url.searchParams.get("fields") ?? undefined,
      this.#store.schema,
    );
    const resource = renderRow(this.#store, def, row, fields);
    return { status: 200, json: { data: resource, links: resource.links } };
  }

  #rendered(status: number, def: EntityDef, id: number): Answer {
    const row = this.#store.row(def.type, id)!;
    const resource = renderRow(
      this.#store,
      def,
      row,
      parseFields(def, undefined, this.#store.schema),
    );
    return { status, json: { data: resource, links: resource.links } };
  }

  #create(req: SimRequest, typeName: string): Answer {
    const principal = this.#principal(req);
    const def = typeOf(this.#store, typeName);
    const record = this.#store.create(
      def.type,
      parseJson(req.body),
      this.#writeOptions(principal),
    );
    return this.#rendered(201, def, record.id);
  }

  #update(req: SimRequest, typeName: string, id: number): Answer {
    const principal = this.#principal(req);
    const def = typeOf(this.#store, typeName);
    this.#store.update(def.type, id, parseJson(req.body), this.#writeOptions(principal));
    return this.#rendered(200, def, id);
  }

  #retire(req: SimRequest, typeName: string, id: number): Answer {
    const principal = this.#principal(req);
    const def = typeOf(this.#store, typeName);
    this.#store.retire(def.type, id, this.#writeOptions(principal));
    return { status: 204 };
  }

  #revive(req: SimRequest, typeName: string, id: number): Answer {
    const principal = this.#principal(req);
    const def = typeOf(this.#store, typeName);
    if (req.url.searchParams.get("revive") !== "true") return this.#notAllowed();
    this.#store.revive(def.type, id, this.#writeOptions(principal));
    return this.#rendered(200, def, id);
  }
}
