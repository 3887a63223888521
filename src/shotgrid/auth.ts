/**
 * Access tokens: one request at a time, cached until shortly before expiry; and one token
 * per session uuid, since the REST API takes `session_uuid` at the token grant.
 *
 * Credentials go in a form-urlencoded body, never in the URL (the official Node
 * client puts them in the query string, where proxies and access logs keep them).
 *
 * @module
 */
import type { Clock } from "../util/abort.ts";
import { errorFromResponse, redact, ShotGridError } from "./errors.ts";
import { describeResponse, type HttpTransport } from "./http.ts";
import { accessTokenPath } from "./paths.ts";
import { isRetriableStatus, parseRetryAfter, raceAbort } from "./retry.ts";

/** Who the client authenticates as. */
export type Credentials =
  | {
    readonly grant: "client_credentials";
    readonly scriptName: string;
    readonly scriptKey: string;
    readonly sudoAsLogin?: string | undefined;
  }
  | {
    readonly grant: "password";
    readonly login: string;
    readonly password: string;
    readonly sudoAsLogin?: string | undefined;
  };

/** How a {@link TokenSource} reaches the token endpoint. */
export interface TokenSourceOptions {
  /** Site base URL without a trailing slash. */
  readonly baseUrl: string;
  readonly http: HttpTransport;
  readonly credentials: Credentials;
  readonly clock: Clock;
  readonly userAgent: string;
  /**
   * Sent as the grant's `session_uuid` field: the site logs it on the events of this
   * token's writes (the REST equivalent of the Python API's `set_session_uuid()`).
   */
  readonly sessionUuid?: string | null;
}

/** Renew this long before expiry (ShotGrid tokens last 600 s; the brief window is 60-90 s). */
const renewEarlyMs = 75_000;

interface CachedToken {
  readonly token: string;
  /** Epoch ms after which the token is renewed before use. */
  readonly renewAt: number;
}

/**
 * Fetches and caches bearer tokens. Concurrent callers share one in-flight request,
 * which no single caller's abort cancels.
 */
export class TokenSource {
  readonly #options: TokenSourceOptions;
  #cached: CachedToken | null = null;
  #inFlight: Promise<CachedToken> | null = null;

  /** @param options Endpoint, transport, credentials and clock. */
  constructor(options: TokenSourceOptions) {
    this.#options = options;
  }

  /** Who this source authenticates as, for messages: `script "sgevents"` or `user "jo"`. */
  get principal(): string {
    const c = this.#options.credentials;
    return c.grant === "client_credentials" ? `script "${c.scriptName}"` : `user "${c.login}"`;
  }

  /** The strings that must never appear in errors or logs. */
  get secrets(): readonly string[] {
    const c = this.#options.credentials;
    return [c.grant === "client_credentials" ? c.scriptKey : c.password];
  }

  /**
   * A valid token: the cached one, or a new one when it is missing or about to expire.
   *
   * @param action The caller's action, for the error message.
   * @param signal Stops waiting (the shared request goes on for other callers).
   * @returns The bearer token.
   * @throws {ShotGridError} `Cannot <action>: cannot authenticate script "x": ...`.
   */
  async token(action: string, signal?: AbortSignal): Promise<string> {
    const cached = this.#cached;
    if (cached !== null && this.#options.clock() < cached.renewAt) return cached.token;
    if (this.#inFlight === null) {
      const request = this.#request().finally(() => {
        if (this.#inFlight === request) this.#inFlight = null;
      });
      // Nobody may be waiting any more when it fails (all callers aborted).
      request.catch(() => {});
      this.#inFlight = request;
    }
    try {
      return (await raceAbort(this.#inFlight, signal)).token;
    } catch (error) {
      if (!(error instanceof ShotGridError)) throw error;
      throw new ShotGridError(`Cannot ${action}: ${error.message.replace(/^Cannot/, "cannot")}`, {
        status: error.status,
        code: error.code,
        title: error.title,
        detail: error.detail,
        retriable: error.retriable,
        retryAfterMs: error.retryAfterMs,
        cause: error,
      });
    }
  }

  /**
   * Forget `token` after the server refused it (401), unless it was already replaced.
   *
   * @param token The token that was refused.
   */
  invalidate(token: string): void {
    if (this.#cached?.token === token) this.#cached = null;
  }

  async #request(): Promise<CachedToken> {
    const { baseUrl, http, credentials, clock, userAgent } = this.#options;
    const action = `authenticate ${this.principal} at ${baseUrl}`;
    const form = new URLSearchParams();
    if (credentials.grant === "client_credentials") {
      form.set("grant_type", "client_credentials");
      form.set("client_id", credentials.scriptName);
      form.set("client_secret", credentials.scriptKey);
    } else {
      form.set("grant_type", "password");
      form.set("username", credentials.login);
      form.set("password", credentials.password);
    }
    if (credentials.sudoAsLogin) form.set("scope", `sudo_as_login:${credentials.sudoAsLogin}`);
    if (this.#options.sessionUuid) form.set("session_uuid", this.#options.sessionUuid);
    const headers = new Headers({
      "Content-Type": "application/x-www-form-urlencoded",
      Accept: "application/json",
      "User-Agent": userAgent,
    });
    const startedAt = clock();
    const response = await http.send(
      { method: "POST", url: baseUrl + accessTokenPath, headers, body: form.toString() },
      action,
    );
    if (response.status < 200 || response.status >= 300) {
      throw errorFromResponse(action, response, {
        retriable: isRetriableStatus(response.status, true),
        retryAfterMs: parseRetryAfter(response.headers.get("Retry-After"), clock()),
        secrets: this.secrets,
      });
    }
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(response.text);
    } catch (error) {
      const seen = describeResponse(response, this.secrets);
      throw new ShotGridError(`Cannot ${action}: the token response is not JSON (${seen})`, {
        status: response.status,
        title: "Invalid token response",
        cause: new Error(redact(String(error), this.secrets)),
      });
    }
    if (typeof body?.access_token !== "string" || body.access_token === "") {
      const seen = describeResponse(response, this.secrets);
      throw new ShotGridError(
        `Cannot ${action}: the token response has no access_token (${seen})`,
        {
          status: response.status,
          title: "Invalid token response",
        },
      );
    }
    const ttlMs = typeof body.expires_in === "number" && body.expires_in > 0
      ? body.expires_in * 1000
      : 600_000;
    // Short-lived tokens (tests, odd sites) are renewed at half-life instead.
    const renewAt = startedAt + Math.max(ttlMs / 2, ttlMs - renewEarlyMs);
    const cached = { token: body.access_token, renewAt };
    this.#cached = cached;
    return cached;
  }
}

/** Options of {@link TokenCache}. */
export interface TokenCacheOptions {
  /** Most session tokens kept (default 100); the least recently used is dropped first. */
  readonly maxSessions?: number;
}

/**
 * The token sources of one client: one without a session, and one per session uuid (a token
 * carries its session, so each session needs its own), the least recently used dropped
 * beyond `maxSessions` so a long run over many events does not grow without bound.
 */
export class TokenCache {
  readonly #options: TokenSourceOptions;
  readonly #max: number;
  readonly #base: TokenSource;
  /** Insertion order is use order: a hit is deleted and set again. */
  readonly #sessions = new Map<string, TokenSource>();

  /**
   * @param options As for {@link TokenSource} (without `sessionUuid`).
   * @param cacheOptions How many session tokens to keep.
   * @throws {RangeError} When `maxSessions` is not a positive integer.
   */
  constructor(options: TokenSourceOptions, cacheOptions: TokenCacheOptions = {}) {
    const max = cacheOptions.maxSessions ?? 100;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`Invalid maxSessions ${max}: expected a positive integer`);
    }
    this.#options = { ...options, sessionUuid: null };
    this.#max = max;
    this.#base = new TokenSource(this.#options);
  }

  /** Session tokens currently kept. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** The strings that must never appear in errors or logs. */
  get secrets(): readonly string[] {
    return this.#base.secrets;
  }

  /**
   * The token source for a session.
   *
   * @param sessionUuid The session, or `null` for none.
   * @returns The source (shared by every caller with the same uuid).
   */
  source(sessionUuid: string | null): TokenSource {
    if (sessionUuid === null || sessionUuid === "") return this.#base;
    let source = this.#sessions.get(sessionUuid);
    if (source) {
      this.#sessions.delete(sessionUuid);
    } else {
      source = new TokenSource({ ...this.#options, sessionUuid });
      if (this.#sessions.size >= this.#max) {
        this.#sessions.delete(this.#sessions.keys().next().value!);
      }
    }
    this.#sessions.set(sessionUuid, source);
    return source;
  }
}
