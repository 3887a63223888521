/**
 * `dispatch --dry-run`: a local HTTP proxy in front of the site that forwards reads and
 * records writes instead of sending them, answering each with what the site would.
 *
 * Recording at the HTTP level, not by wrapping the client, keeps every way a plugin writes
 * (create, update, delete, revive, batch, uploads, and client methods added later) on the
 * record with no list of methods to keep in step, and needs nothing inside the plugin's
 * Worker: the Worker only gets the proxy's URL as the site.
 *
 * A request is a read when it is a GET or HEAD (except the start of an upload) or a POST to
 * one of the REST API's read endpoints (`_search`, `_summarize`, `_text_search`, the token
 * grant). Everything else is recorded.
 *
 * @module
 */

/** A write a plugin made, not sent to the site. */
export interface RecordedWrite {
  readonly method: string;
  /** Path and query, e.g. `/api/v1/entity/shots/5`. */
  readonly path: string;
  /** The parsed JSON body, the body's size for other content, or `null` for none. */
  readonly body: unknown;
}

/** A running dry-run proxy. */
export interface DryRunProxy extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: give it to the plugin as the site. */
  readonly url: string;
  /** Every write so far, in order. */
  readonly writes: readonly RecordedWrite[];
}

/** Options of {@link startDryRunProxy}. */
export interface DryRunProxyOptions {
  /** An HTTP(S) proxy for the requests forwarded to the site. */
  readonly proxy?: string | null;
}

const readPosts = /\/(?:_search|_summarize|_text_search|auth\/access_token)$/;
const uploadStart = /\/_upload$/;
const uploadSink = "/_sgevents_dry_run/upload";

/**
 * Start a dry-run proxy for `site` on 127.0.0.1 (a free port).
 *
 * @param site The site's URL.
 * @param options An HTTP proxy for forwarded reads.
 * @returns The proxy; dispose it to stop it.
 */
export function startDryRunProxy(
  site: string,
  options: DryRunProxyOptions = {},
): Promise<DryRunProxy> {
  const origin = new URL(site).origin;
  const writes: RecordedWrite[] = [];
  const client = options.proxy ? Deno.createHttpClient({ proxy: { url: options.proxy } }) : null;
  let nextId = 0;
  const handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname + url.search;
    const method = request.method;
    const isUploadStart = uploadStart.test(url.pathname) && method === "GET";
    const isRead = ((method === "GET" || method === "HEAD") && !isUploadStart) ||
      (method === "POST" && readPosts.test(url.pathname));
    if (isRead) {
      const headers = new Headers(request.headers);
      headers.delete("host");
      const response = await fetch(origin + path, {
        method,
        headers,
        ...(method === "POST" ? { body: await request.arrayBuffer() } : {}),
        ...(client ? { client } : {}),
      });
      // fetch has decoded the body: its encoding and length headers no longer hold.
      const answerHeaders = new Headers(response.headers);
      answerHeaders.delete("content-encoding");
      answerHeaders.delete("content-length");
      return new Response(response.body, { status: response.status, headers: answerHeaders });
    }
    const body = await readBody(request);
    writes.push({ method, path, body });
    return answer(method, url, body, () => --nextId);
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handle);
  const url = `http://127.0.0.1:${server.addr.port}`;
  return Promise.resolve({
    url,
    writes,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      client?.close();
    },
  });
}

async function readBody(request: Request): Promise<unknown> {
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.length === 0) return null;
  const type = request.headers.get("content-type") ?? "";
  if (type.includes("json")) {
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      // Not JSON after all: recorded by size below.
    }
  }
  return { bytes: bytes.length, contentType: type || null };
}

/**
 * What the site would answer, so the plugin goes on as it would after a real write.
 * Created records get negative ids (-1, -2, ...): no real record has one.
 */
function answer(method: string, url: URL, body: unknown, newId: () => number): Response {
  const parts = url.pathname.split("/").filter(Boolean); // api, v1, entity, type, id?
  const type = parts[3] ?? "";
  const id = Number(parts[4]);
  const fields = body !== null && typeof body === "object" && !Array.isArray(body)
    ? body as Record<string, unknown>
    : {};
  const record = (recordType: string, recordId: number, data: Record<string, unknown>) => ({
    type: recordType,
    id: recordId,
    attributes: data,
    relationships: {},
    links: {},
  });
  if (url.pathname === uploadSink) return new Response(null, { status: 200 });
  if (uploadStart.test(url.pathname)) {
    // The REST upload flow: this answer's links say where to PUT the bytes (here) and
    // where to POST to attach them (recorded too).
    return Response.json({
      data: { timestamp: new Date().toISOString(), upload_type: "Thumbnail", upload_id: null },
      links: { upload: `${url.origin}${uploadSink}`, complete_upload: url.pathname },
    });
  }
  if (url.pathname.endsWith("/_batch")) {
    const requests = Array.isArray((fields as { requests?: unknown }).requests)
      ? (fields as { requests: Record<string, unknown>[] }).requests
      : [];
    return Response.json({
      data: requests.map((r) =>
        r.request_type === "delete" ? true : record(
          String(r.entity ?? r.entity_type ?? ""),
          r.request_type === "create" ? newId() : Number(r.record_id ?? r.id),
          (r.data ?? {}) as Record<string, unknown>,
        )
      ),
    });
  }
  if (method === "DELETE") return new Response(null, { status: 204 });
  if (method === "POST" && parts.length === 4) {
    return Response.json({ data: record(type, newId(), fields) }, { status: 201 });
  }
  if (method === "PUT" && Number.isInteger(id)) {
    return Response.json({ data: record(type, id, fields) });
  }
  return Response.json({ data: Number.isInteger(id) ? record(type, id, fields) : {} });
}
