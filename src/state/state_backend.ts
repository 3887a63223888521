/**
 * Where a {@link StateStore} keeps its document: a backend loads one document, saves one
 * (durable or not) and holds the single-writer guarantee for as long as it is open. The
 * store keeps the document and the cursors in memory; a backend only moves whole documents.
 * Two backends: the JSON file (file_backend.ts, the default) and PostgreSQL
 * (postgres_backend.ts, for several daemons with one leader).
 *
 * @module
 */
import type { Malformed } from "../engine/control.ts";
import type { OperatorRequest } from "../engine/operator_requests.ts";
import type { StateDocument } from "./state_file.ts";

/** Run-time requests read since an offset (see engine/control.ts). */
export interface PendingRequests {
  readonly requests: OperatorRequest[];
  readonly malformed: Malformed[];
  /** The offset after them, kept in the document's `requestsOffset`. */
  readonly offset: number;
}

/** A place to load and save the state document, held by one writer at a time. */
export interface StateBackend {
  /** What to name in messages: the state file, or the database and daemon name. */
  readonly location: string;
  /**
   * Read the document.
   *
   * @returns It, or null when there is none yet.
   */
  load(): Promise<StateDocument | null>;
  /**
   * Write the document whole, atomically (a reader sees the old or the new one).
   *
   * @param doc The document.
   * @param options `durable: false` may lose the write on a power loss, never half of it.
   * @throws {StateSaveError} `retriable` when saving again may succeed.
   */
  save(doc: StateDocument, options: { durable: boolean }): Promise<void>;
  /**
   * The run-time requests made since `offset`.
   *
   * @param offset The document's `requestsOffset`.
   */
  pendingRequests(offset: number): Promise<PendingRequests>;
  /** Release the writer guarantee and any connection (idempotent). */
  close(): Promise<void>;
}
