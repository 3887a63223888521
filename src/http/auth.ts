/**
 * Who may do what over HTTP: a bearer token for every POST (also on loopback), the
 * request's Origin and Host checked so a page on another site cannot act or read through
 * DNS rebinding, and ShotGrid webhook signatures. Every secret is compared in constant
 * time.
 *
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import { isLoopback } from "../config/fields.ts";

/**
 * Compare two secrets in constant time (both are hashed first, so neither their
 * content nor their length shows in the time taken).
 *
 * @param given What the request sent.
 * @param expected The secret.
 * @returns Whether they are equal.
 */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Check an `Authorization: Bearer <token>` header.
 *
 * @param header The header's value, if any.
 * @param token The configured token; null: no token configured, so nothing is allowed.
 * @returns Null when allowed, else why not (for the 401/403 answer; never the token).
 */
export function bearerProblem(header: string | null, token: string | null): string | null {
  if (token === null) {
    return "Actions are off: set http.token_file in the configuration to allow them";
  }
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!match) return "Missing token: send Authorization: Bearer <token>";
  return secretsEqual(match[1]!.trim(), token) ? null : "Wrong token";
}

/**
 * Check that a request comes from this server's own pages or from a non-browser client:
 * a browser's cross-site request (a form on another site) names another Origin or says
 * `Sec-Fetch-Site: cross-site`.
 *
 * @param request The request.
 * @returns Null when allowed, else why not.
 */
export function originProblem(request: Request): string | null {
  const site = request.headers.get("sec-fetch-site");
  if (site === "cross-site" || site === "same-site") {
    return `Refused a ${site} request: actions come from this server's page or a script`;
  }
  const origin = request.headers.get("origin");
  if (origin === null) return null;
  const own = new URL(request.url).origin;
  return origin === own ? null : `Refused a request from origin ${JSON.stringify(origin)}`;
}

/**
 * On a loopback address, refuse requests whose Host is not a loopback name: a page on
 * another site whose name was pointed at 127.0.0.1 (DNS rebinding) must not read the API.
 *
 * @param request The request.
 * @param listenHost The address the server listens on.
 * @returns Null when allowed, else why not.
 */
export function hostProblem(request: Request, listenHost: string): string | null {
  if (!isLoopback(listenHost)) return null;
  const host = new URL(request.url).hostname.replace(/^\[|\]$/g, "");
  return isLoopback(host) ? null : `Refused a request for host ${JSON.stringify(host)}`;
}

/**
 * Check a ShotGrid webhook signature: `X-SG-SIGNATURE: sha1=<hex HMAC-SHA1(secret, body)>`.
 *
 * @param header The header's value, if any.
 * @param options The raw body and the webhook's secret token.
 * @returns Whether the signature is right.
 */
export function validSignature(
  header: string | null,
  options: { readonly body: Uint8Array; readonly secret: string },
): boolean {
  const match = /^sha1=([0-9a-fA-F]{40})$/.exec(header?.trim() ?? "");
  if (!match) return false;
  const expected = createHmac("sha1", options.secret).update(options.body).digest();
  return timingSafeEqual(Buffer.from(match[1]!.toLowerCase(), "hex"), expected);
}

/**
 * The signature header value for a body (what ShotGrid sends; for tests and the bench).
 *
 * @param body The raw body.
 * @param secret The webhook's secret token.
 * @returns `sha1=<hex>`.
 */
export function signBody(body: Uint8Array | string, secret: string): string {
  return `sha1=${createHmac("sha1", secret).update(body).digest("hex")}`;
}
