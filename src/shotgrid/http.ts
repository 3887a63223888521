/**
 * One HTTP exchange with ShotGrid: a per-request timeout, the optional proxy, and
 * turning transport failures into retriable {@link ShotGridError}s.
 *
 * @module
 */
import { redactSecrets } from "../log/redact.ts";
import { ShotGridError } from "./errors.ts";

/** A response read to the end. */
export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly text: string;
}

/** One request. */
export interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly url: string;
  readonly headers: Headers;
  readonly body?: string | Uint8Array<ArrayBuffer> | undefined;
  /** The caller's signal: aborting it rejects with its reason, never retried. */
  readonly signal?: AbortSignal | undefined;
}

/** How the transport is set up. */
export interface HttpTransportOptions {
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
  readonly proxy?: string | null | undefined;
}

/** The marker a timed-out request is aborted with, so it is told apart from the caller's abort. */
const timeoutReason = Symbol("timeout");

/**
 * Sends requests, each within a timeout, through an optional proxy.
 *
 * Shared by a client and all its `withSessionUuid()` views; closed once, by the client
 * that created it.
 */
export class HttpTransport {
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #client: Deno.HttpClient | undefined;
  #closed = false;

  /**
   * @param options fetch, timeout and proxy URL.
   * @throws {TypeError} When the proxy URL is invalid.
   */
  constructor(options: HttpTransportOptions) {
    this.#fetch = options.fetch;
    this.#timeoutMs = options.timeoutMs;
    this.#client = options.proxy
      ? Deno.createHttpClient({ proxy: { url: options.proxy } })
      : undefined;
  }

  /**
   * Send a request and read its body.
   *
   * @param request Method, URL, headers, body and the caller's signal.
   * @param action What is being done, for error messages (`search EventLogEntry`).
   * @returns The response with its body as text, whatever its status.
   * @throws {ShotGridError} Retriable, on a network error or timeout.
   * @throws The signal's reason when the caller aborts.
   */
  async send(request: HttpRequest, action: string): Promise<HttpResponse> {
    if (this.#closed) throw new ShotGridError(`Cannot ${action}: the client is closed`);
    const { signal } = request;
    signal?.throwIfAborted();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(timeoutReason), this.#timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const init: RequestInit & { client?: Deno.HttpClient } = {
        method: request.method,
        headers: request.headers,
        signal: controller.signal,
      };
      if (request.body !== undefined) init.body = request.body;
      if (this.#client !== undefined) init.client = this.#client;
      const response = await this.#fetch(request.url, init);
      const text = await response.text();
      return {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
        text,
      };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (controller.signal.aborted && controller.signal.reason === timeoutReason) {
        throw new ShotGridError(
          `Cannot ${action}: no response within ${this.#timeoutMs} ms`,
          { title: "Timed out", retriable: true, cause: error },
        );
      }
      if (isNetworkError(error)) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new ShotGridError(`Cannot ${action}: network error: ${reason}`, {
          title: "Network error",
          retriable: true,
          cause: error,
        });
      }
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Close the proxy client, if any. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client?.close();
  }
}

/**
 * Whether an error thrown by `fetch` or a body read is a transport failure.
 *
 * `fetch` reports refused and reset connections as `TypeError`; reading a body
 * cut short can also raise Deno's I/O errors.
 */
function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.Http;
}

/** How much of a body an error message quotes. */
const snippetLength = 100;

/**
 * What an error message says about a response it could not use: its status and the start
 * of its body, secrets redacted (the whole body first, so no secret is cut in two).
 *
 * @param response The response.
 * @param secrets Secrets to hide besides the registered ones.
 * @returns E.g. `status 200, body "<html><head>..."`, or `status 200, empty body`.
 */
export function describeResponse(
  response: Pick<HttpResponse, "status" | "text">,
  secrets: readonly string[],
): string {
  if (response.text.trim() === "") return `status ${response.status}, empty body`;
  const text = redactSecrets(response.text, secrets).replace(/\s+/g, " ").trim();
  const cut = text.length > snippetLength ? `${text.slice(0, snippetLength)}...` : text;
  return `status ${response.status}, body "${cut}"`;
}
