/**
 * The JSON state file as a {@link StateBackend}: locked with {@link StateLock} while open,
 * replaced atomically on each save (temp file, fsync, rename, directory fsync; the
 * previous copy kept as `<file>.bak`), run-time requests read from `<file>.requests`.
 *
 * @module
 */
import { dirname } from "node:path";
import { pendingRequests } from "../engine/control.ts";
import { StateLock } from "./lock.ts";
import type { PendingRequests, StateBackend } from "./state_backend.ts";
import { serializeState, type StateDocument } from "./state_file.ts";
import {
  readStateFile,
  refuseSymlink,
  removeStaleTemps,
  replaceFile,
  saveFailure,
} from "./file_write.ts";

/** The state file backend; open it with {@link FileBackend.open}. */
export class FileBackend implements StateBackend {
  /** The state file. */
  readonly location: string;
  #lock: StateLock | null;

  private constructor(file: string, lock: StateLock) {
    this.location = file;
    this.#lock = lock;
  }

  /**
   * Lock a state file (creating its folder) and clear temp files a crash left.
   *
   * @param file The state file.
   * @param options `purpose` is written into the lock file.
   * @returns The open backend.
   * @throws {StateLockedError} When another process holds the file.
   * @throws {StateFileError} When the file is a symbolic link.
   */
  static async open(file: string, options: { purpose?: string } = {}): Promise<FileBackend> {
    await Deno.mkdir(dirname(file), { recursive: true });
    await refuseSymlink(file);
    const lock = await StateLock.acquire(file, { purpose: options.purpose ?? "sgevents daemon" });
    await removeStaleTemps(file);
    return new FileBackend(file, lock);
  }

  /** Read the state file (null when there is none yet). */
  load(): Promise<StateDocument | null> {
    return readStateFile(this.location);
  }

  /** Replace the state file with `doc`, keeping the lock on the new copy. */
  async save(doc: StateDocument, options: { durable: boolean }): Promise<void> {
    const lock = this.#lock;
    if (!lock) throw new TypeError("State file backend is closed");
    try {
      await lock.verify();
      const next = await replaceFile(this.location, serializeState(doc), {
        sync: options.durable,
        beforeRename: (handle) => lock.lockNext(handle),
      });
      lock.replaced(next);
    } catch (error) {
      throw saveFailure(this.location, error);
    }
  }

  /** The lines appended to `<file>.requests` since `offset`. */
  pendingRequests(offset: number): Promise<PendingRequests> {
    return pendingRequests(this.location, offset);
  }

  /** Release the lock. */
  async close(): Promise<void> {
    const lock = this.#lock;
    this.#lock = null;
    await lock?.release();
  }
}
