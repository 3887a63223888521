/**
 * Small helpers for tests that talk to the simulator over real HTTP.
 *
 * @module
 */

import type { Simulator } from "./server.ts";

/** Content type of `_search` with array filters. */
export const api3Array = "application/vnd+shotgun.api3_array+json";
/** Content type of `_search` with hash (nested) filters. */
export const api3Hash = "application/vnd+shotgun.api3_hash+json";

/**
 * Get an access token with client_credentials (default script `sgevents` / `sim-key`).
 *
 * @param sim The simulator.
 * @param options Another script name and key.
 * @returns The bearer token.
 * @throws {Error} When the grant is refused.
 */
export async function getToken(
  sim: Simulator,
  options: { script?: string; key?: string } = {},
): Promise<string> {
  const body = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: options.script ?? "sgevents",
    client_secret: options.key ?? "sim-key",
  });
  const res = await fetch(`${sim.url}/api/v1/auth/access_token`, { method: "POST", body });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`Cannot get a token: ${JSON.stringify(json)}`);
  return json.access_token;
}

/**
 * Send a request with a bearer token and read the JSON answer.
 *
 * @param sim The simulator.
 * @param path Path and query, e.g. `/api/v1/entity/shots/1`.
 * @param options Method, token, JSON body, content type, extra headers.
 * @returns Status, headers and the parsed body (`null` when empty, the text when not JSON).
 */
export async function call(
  sim: Simulator,
  path: string,
  options: {
    method?: string;
    token?: string;
    body?: unknown;
    contentType?: string;
    headers?: Record<string, string>;
  } = {},
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; headers: Headers; json: any }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) {
    headers["content-type"] = options.contentType ?? "application/json";
  }
  const res = await fetch(`${sim.url}${path}`, {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text === "" ? null : JSON.parse(text);
  } catch {
    json = text; // proxy and maintenance pages answer HTML
  }
  return { status: res.status, headers: res.headers, json };
}

/**
 * POST `_search` on EventLogEntry (or another type) with api3_array filters by default.
 *
 * @param sim The simulator.
 * @param token Bearer token.
 * @param body The search body.
 * @param options Entity path segment and content type.
 * @returns As {@link call}.
 */
export function search(
  sim: Simulator,
  token: string,
  body: Record<string, unknown>,
  options: { type?: string; contentType?: string; query?: string } = {},
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; headers: Headers; json: any }> {
  const type = options.type ?? "event_log_entries";
  return call(sim, `/api/v1/entity/${type}/_search${options.query ?? ""}`, {
    token,
    body,
    contentType: options.contentType ?? api3Array,
  });
}
