/**
 * `POST /api/v1/auth/access_token`: the three grants, their errors, and bearer tokens that
 * expire by the injected clock.
 *
 * @module
 */

import type { Link } from "./dataset.ts";
import { SimRequestError } from "./errors.ts";
import type { SimStore } from "./store.ts";

/** Who a token speaks for. */
export interface Principal {
  /** The ApiUser of a script, or the HumanUser of a password login or sudo_as_login. */
  readonly user: Link;
  /**
   * The `session_uuid` field of the grant request (the REST API takes it there, as the
   * official REST clients send it), logged on the events of this token's writes.
   */
  readonly sessionUuid: string | null;
}

interface TokenEntry {
  readonly principal: Principal;
  expiresAt: number;
}

/** Options of {@link Authority}. */
export interface AuthorityOptions {
  readonly scripts: Readonly<Record<string, string>>;
  readonly users: Readonly<Record<string, string>>;
  readonly tokenTtlSeconds: number;
  readonly clock: () => number;
}

/** The 200 body of a successful grant. */
export interface TokenGrant {
  token_type: "Bearer";
  access_token: string;
  expires_in: number;
  refresh_token: string;
}

const refreshTtlMs = 24 * 3600 * 1000;

function b64url(text: string): string {
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

function authError(title: string): SimRequestError {
  return new SimRequestError(400, 102, title);
}

/** Issues and checks tokens. */
export class Authority {
  readonly #options: AuthorityOptions;
  readonly #store: SimStore;
  readonly #access = new Map<string, TokenEntry>();
  readonly #refresh = new Map<string, TokenEntry>();

  /**
   * @param store Where ApiUsers and HumanUsers live.
   * @param options Credentials, token lifetime, clock.
   */
  constructor(store: SimStore, options: AuthorityOptions) {
    this.#store = store;
    this.#options = options;
  }

  /**
   * Handle one access_token request.
   *
   * @param params Form fields (or query parameters) of the request.
   * @returns The grant.
   * @throws {SimRequestError} 400 code 102 for bad credentials, 103 for an unsupported grant.
   */
  grant(params: URLSearchParams): TokenGrant {
    const grantType = params.get("grant_type");
    const sessionUuid = params.get("session_uuid") || null;
    switch (grantType) {
      case "client_credentials": {
        const name = params.get("client_id");
        const secret = params.get("client_secret");
        if (!name || !secret) throw authError("Missing or invalid authentication arguments");
        if (this.#options.scripts[name] !== secret) {
          throw authError(`Can't authenticate user '${name}'`);
        }
        const scope = params.get("scope");
        if (scope?.startsWith("sudo_as_login:")) {
          const login = scope.slice("sudo_as_login:".length);
          const human = this.#store.findBy("HumanUser", "login", login);
          if (!human) throw authError(`Can't authenticate user '${login}'`);
          return this.#issue({ user: human, sessionUuid });
        }
        const user = this.#store.findBy("ApiUser", "firstname", name);
        if (!user) throw authError(`Can't authenticate user '${name}'`);
        return this.#issue({ user, sessionUuid });
      }
      case "password": {
        const login = params.get("username");
        const password = params.get("password");
        if (!login || !password) throw authError("Missing or invalid authentication arguments");
        const user = this.#options.users[login] === password
          ? this.#store.findBy("HumanUser", "login", login)
          : undefined;
        if (!user) throw authError(`Can't authenticate user '${login}'`);
        return this.#issue({ user, sessionUuid });
      }
      case "refresh":
      case "refresh_token": {
        const token = params.get("refresh_token");
        if (!token) throw authError("Missing or invalid authentication arguments");
        const entry = this.#refresh.get(token);
        if (!entry || entry.expiresAt <= this.#options.clock()) {
          throw authError("Can't authenticate user");
        }
        // A refreshed token keeps its session unless the request names another one.
        return this.#issue(
          sessionUuid === null ? entry.principal : { ...entry.principal, sessionUuid },
        );
      }
      default:
        throw new SimRequestError(400, 103, "Unsupported grant_type", {
          detail: grantType === null
            ? "grant_type is missing"
            : `grant_type "${grantType}" is not supported`,
        });
    }
  }

  #issue(principal: Principal): TokenGrant {
    const now = this.#options.clock();
    const ttl = this.#options.tokenTtlSeconds;
    if (this.#access.size > 10_000) this.#prune(now);
    const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
    const payload = b64url(JSON.stringify({
      sub: `${principal.user.type}:${principal.user.id}`,
      iat: Math.floor(now / 1000),
      exp: Math.floor(now / 1000) + ttl,
      jti: randomHex(8),
    }));
    const access = `${header}.${payload}.${b64url(randomHex(32))}`;
    const refresh = randomHex(24);
    this.#access.set(access, { principal, expiresAt: now + ttl * 1000 });
    this.#refresh.set(refresh, { principal, expiresAt: now + refreshTtlMs });
    return { token_type: "Bearer", access_token: access, expires_in: ttl, refresh_token: refresh };
  }

  /** Forget tokens expired over an hour ago (they then answer `Token invalid`). */
  #prune(now: number): void {
    for (const map of [this.#access, this.#refresh]) {
      for (const [token, entry] of map) if (entry.expiresAt < now - 3600_000) map.delete(token);
    }
  }

  /**
   * Check an `Authorization` header.
   *
   * @param header The header value.
   * @returns Who the token speaks for.
   * @throws {SimRequestError} 401 code 102, detail `Token Expired` or `Token invalid`.
   */
  check(header: string | null): Principal {
    const token = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
    const entry = token ? this.#access.get(token) : undefined;
    if (!entry) throw new SimRequestError(401, 102, "Unauthorized", { detail: "Token invalid" });
    if (entry.expiresAt <= this.#options.clock()) {
      throw new SimRequestError(401, 102, "Unauthorized", { detail: "Token Expired" });
    }
    return entry.principal;
  }

  /** Make every current access token expired (the next use answers `Token Expired`). */
  expireAll(): void {
    for (const entry of this.#access.values()) entry.expiresAt = -Infinity;
  }
}
