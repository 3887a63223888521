/**
 * A thumbnail upload, in the site's three steps (REST shapes, not in the reference):
 *
 * 1. `GET /api/v1/entity/{type}/{id}/image/_upload?filename=a.png` answers
 *    `{"data": {...upload info...}, "links": {"upload": URL, "complete_upload": PATH}}`;
 * 2. `PUT URL` with the bytes; the URL is the storage's (presigned), so no Authorization;
 * 3. `POST PATH` with `{"upload_info": <data of 1>, "upload_data": {}}`: the site sets the
 *    thumbnail and logs its events.
 *
 * A failed step fails the upload; it is not resumed (run it again).
 *
 * @module
 */
import { type Call, type Connection, shaped } from "./connection.ts";
import { errorFromResponse } from "./errors.ts";
import { recordPath } from "./paths.ts";
import { parseRetryAfter } from "./retry.ts";

/** The record and file of an upload. */
export interface UploadTarget {
  readonly entityType: string;
  readonly id: number;
  /** The image file. */
  readonly path: string;
}

/** How an upload reaches the site. */
export interface UploadIo {
  readonly connection: Connection;
  /** Makes an authenticated call (the client's, so a session's writes use its token). */
  readonly call: (call: Call) => Promise<unknown>;
  readonly signal?: AbortSignal;
}

/**
 * Upload a thumbnail.
 *
 * @param target Entity type, id and file.
 * @param io The connection, the client's call and a signal.
 * @throws {ShotGridError} When a step fails.
 * @throws {Deno.errors.NotFound} When the file does not exist.
 */
export async function uploadThumbnail(target: UploadTarget, io: UploadIo): Promise<void> {
  const { entityType, id, path } = target;
  const { connection, call, signal } = io;
  const filename = path.split(/[\\/]/).pop() || "thumbnail";
  const bytes = await Deno.readFile(path);
  const action = `upload thumbnail "${filename}" to ${entityType} ${id}`;
  const begun = await call({
    action,
    method: "GET",
    path: `${recordPath(entityType, id)}/image/_upload`,
    query: new URLSearchParams({ filename }),
    write: false,
    signal,
  });
  const { info, upload, complete } = shaped(action, begun, "upload links", () => {
    const b = begun as { data?: unknown; links?: { upload?: unknown; complete_upload?: unknown } };
    if (typeof b?.links?.upload !== "string" || typeof b.links.complete_upload !== "string") {
      throw new TypeError("no links.upload and links.complete_upload");
    }
    return { info: b.data, upload: b.links.upload, complete: b.links.complete_upload };
  });
  const { http, baseUrl, clock, tokens, userAgent } = connection;
  const headers = new Headers({
    "Content-Type": "application/octet-stream",
    "User-Agent": userAgent,
  });
  const url = new URL(upload, baseUrl + "/").href;
  const put = await http.send({ method: "PUT", url, headers, body: bytes, signal }, action);
  if (put.status < 200 || put.status >= 300) {
    throw errorFromResponse(action, put, {
      retriable: false,
      retryAfterMs: parseRetryAfter(put.headers.get("Retry-After"), clock()),
      secrets: tokens.secrets,
    });
  }
  await call({
    action,
    method: "POST",
    path: complete.startsWith("/") ? complete : new URL(complete).pathname,
    body: { upload_info: info, upload_data: {} },
    write: true,
    signal,
  });
}
