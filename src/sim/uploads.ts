/**
 * The thumbnail upload flow of a site, in three requests:
 *
 * 1. `GET /api/v1/entity/{type}/{id}/image/_upload?filename=a.png` (bearer token) answers
 *    `{"data": {"timestamp", "upload_type": "Thumbnail", "upload_id", "storage_service",
 *    "original_filename", "multipart_upload": false}, "links": {"upload": URL,
 *    "complete_upload": "/api/v1/entity/{type}/{id}/image/_upload"}}`;
 * 2. `PUT URL` with the file's bytes and no Authorization (on a real site a presigned
 *    storage URL; here `/sim_upload/<token>` on the simulator itself);
 * 3. `POST complete_upload` (bearer token) with `{"upload_info": <data of 1>,
 *    "upload_data": {}}`, which sets the thumbnail and logs its events; 201.
 *
 * The simulator carries its token in `upload_id` (echoed back in `upload_info`).
 *
 * @module
 */

import { badRequest, SimRequestError } from "./errors.ts";

interface Pending {
  readonly type: string;
  readonly id: number;
  readonly filename: string;
  bytes: number | null;
}

/** Uploads started and not completed yet (the oldest forgotten beyond a bound). */
export class Uploads {
  readonly #pending = new Map<string, Pending>();
  readonly #max: number;

  /** @param max Most uploads in progress remembered (default 1000). */
  constructor(max = 1000) {
    this.#max = max;
  }

  /**
   * Start an upload.
   *
   * @param target The record whose `image` is replaced, and the file name.
   * @param origin `http://127.0.0.1:<port>`, for the upload URL.
   * @returns The answer body of step 1.
   */
  begin(
    target: { type: string; id: number; plural: string; filename: string },
    origin: string,
  ): unknown {
    const token = crypto.randomUUID();
    if (this.#pending.size >= this.#max) {
      this.#pending.delete(this.#pending.keys().next().value!);
    }
    this.#pending.set(token, { ...target, bytes: null });
    return {
      data: {
        timestamp: new Date().toISOString(),
        upload_type: "Thumbnail",
        upload_id: token,
        storage_service: "sim",
        original_filename: target.filename,
        multipart_upload: false,
      },
      links: {
        upload: `${origin}/sim_upload/${token}`,
        complete_upload: `/api/v1/entity/${target.plural}/${target.id}/image/_upload`,
      },
    };
  }

  /**
   * Receive the bytes of step 2.
   *
   * @param token The token in the upload URL.
   * @param bytes How many bytes came.
   * @throws {SimRequestError} 404 for an unknown token.
   */
  receive(token: string, bytes: number): void {
    const pending = this.#pending.get(token);
    if (!pending) throw new SimRequestError(404, 104, "Upload not found");
    pending.bytes = bytes;
  }

  /**
   * Finish an upload (step 3): checks it is for this record and its bytes came.
   *
   * @param type Entity type of the completion path.
   * @param id Record id of the completion path.
   * @param body The completion body.
   * @returns The file name.
   * @throws {SimRequestError} 400 when `upload_info` is missing, unknown, for another
   *   record, or its bytes were never sent.
   */
  complete(type: string, id: number, body: Record<string, unknown>): string {
    const info = body.upload_info as { upload_id?: unknown } | undefined;
    const token = typeof info?.upload_id === "string" ? info.upload_id : undefined;
    const pending = token === undefined ? undefined : this.#pending.get(token);
    if (!pending || pending.type !== type || pending.id !== id) {
      throw badRequest("API upload() upload_info is missing or not for this record");
    }
    if (pending.bytes === null || pending.bytes === 0) {
      throw badRequest(`API upload() "${pending.filename}": no file was uploaded`);
    }
    this.#pending.delete(token!);
    return pending.filename;
  }
}
