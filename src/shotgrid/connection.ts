/**
 * One authenticated call to a site: the connection a client and its session views share
 * (transport, tokens per session, retry policy), and {@link send}, which adds the bearer
 * token, re-authenticates once on a 401, retries what is safe to retry and maps failures to
 * {@link ShotGridError}s.
 *
 * @module
 */
import { type Clock, type Sleep, sleep as defaultSleep } from "../util/abort.ts";
import type { BackoffOptions } from "../util/backoff.ts";
import { type Credentials, TokenCache } from "./auth.ts";
import { errorFromResponse, ShotGridError } from "./errors.ts";
import { describeResponse, type HttpResponse, HttpTransport } from "./http.ts";
import { isRetriableStatus, parseRetryAfter, withRetries } from "./retry.ts";

/** How to reach and authenticate with a ShotGrid site. */
export interface ConnectionOptions {
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
  /** Most per-session tokens kept, least recently used dropped first (default 100). */
  maxSessionTokens?: number;
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

/** A site as a client and its session views share it: transport, tokens, retry policy. */
export interface Connection {
  readonly baseUrl: string;
  readonly http: HttpTransport;
  readonly tokens: TokenCache;
  readonly retries: number;
  readonly backoff: BackoffOptions;
  readonly sleep: Sleep;
  readonly clock: Clock;
  readonly userAgent: string;
}

/** One request as the client describes it. */
export interface Call {
  readonly action: string;
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly path: string;
  readonly query?: URLSearchParams;
  readonly body?: unknown;
  readonly contentType?: string;
  /** Reads may be retried on a 500; writes are not, and use the session token of a view. */
  readonly write: boolean;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Send one call with auth, a re-auth on 401, retries and error mapping.
 *
 * @param connection The site.
 * @param sessionUuid The session whose token to use (writes in a session), or `null`.
 * @param call The request.
 * @returns The parsed JSON answer (`null` when empty).
 * @throws {ShotGridError} On a failed call, after the retries a retriable one gets.
 */
export function send(
  connection: Connection,
  sessionUuid: string | null,
  call: Call,
): Promise<unknown> {
  const { baseUrl, http, retries, backoff, sleep, clock, userAgent } = connection;
  // A token carries its session: a write in a session uses a token granted with it.
  const tokens = connection.tokens.source(sessionUuid);
  const { action, signal } = call;
  let url = baseUrl + call.path;
  if (call.query) url += `?${call.query}`;
  const headers = new Headers({ Accept: "application/json", "User-Agent": userAgent });
  let body: string | undefined;
  if (call.body !== undefined) {
    body = JSON.stringify(call.body);
    headers.set("Content-Type", call.contentType ?? "application/json");
  }
  const attempt = async (): Promise<HttpResponse> => {
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
    const response = await attempt();
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

/**
 * Check the options and open the transport.
 *
 * @param options URL, credentials, transport settings.
 * @returns The connection; close its `http` when done.
 * @throws {TypeError} When the URL or the credentials are missing or invalid.
 * @throws {RangeError} On an invalid timeout, retry count or token cache size.
 */
export function openConnection(options: ConnectionOptions): Connection {
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
    tokens: new TokenCache(
      { baseUrl, http, credentials, clock, userAgent },
      options.maxSessionTokens === undefined ? {} : { maxSessions: options.maxSessionTokens },
    ),
    retries,
    backoff: options.backoff ?? {},
    sleep: options.sleep ?? defaultSleep,
    clock,
    userAgent,
  };
}

function credentialsOf(options: ConnectionOptions): Credentials {
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

/**
 * Check an integer option or argument.
 *
 * @param name Its name, for the message.
 * @param value The value.
 * @param min Lowest allowed.
 * @param max Highest allowed.
 * @throws {RangeError} When out of range or not an integer.
 */
export function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Invalid ${name} ${value}: expected an integer in ${min}..${max}`);
  }
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

/**
 * Read an answer with `read`; a shape it does not expect is a ShotGridError naming the
 * action, what was expected, and the status and start of the body it came in.
 *
 * @param action What was done, for the message.
 * @param body The parsed answer (as `send` returned it).
 * @param expected What the answer should have held (`"data" array of records`).
 * @param read Reads the answer; throws on a shape it does not expect.
 * @returns What `read` returns.
 * @throws {ShotGridError} `Cannot <action>: the response has no <expected> (<status and snippet>)`.
 */
export function shaped<T>(action: string, body: unknown, expected: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    const response = typeof body === "object" && body !== null ? bodies.get(body) : undefined;
    const seen = response === undefined
      ? body === null ? "an empty body" : `a ${typeof body}`
      : describeResponse(response, response.secrets);
    throw new ShotGridError(`Cannot ${action}: the response has no ${expected} (${seen})`, {
      ...(response === undefined ? {} : { status: response.status }),
      title: "Invalid response",
      cause: error,
    });
  }
}
