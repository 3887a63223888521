/**
 * The daemon's state on disk: loaded once under the state lock, changed in memory by the
 * engine, and made durable by {@link StateStore.checkpoint}, which coalesces concurrent
 * requests into one atomic write (temp file, fsync, rename, directory fsync; the previous
 * copy kept as `<file>.bak`).
 *
 * @module
 */
import { dirname } from "node:path";
import { StateLock } from "./lock.ts";
import {
  newStateDocument,
  parseState,
  serializeState,
  type StateDocument,
  StateFileError,
} from "./state_file.ts";

/** Options for {@link StateStore.open}. */
export interface StateStoreOptions {
  /** The site the daemon reads; a state file written for another site is refused. */
  readonly site: string;
  /** Written into the lock file (who holds it). */
  readonly purpose?: string;
  /** Epoch ms, for `savedAt`. */
  readonly clock?: () => number;
  /** Told how long each write took (the HTTP server's `sgevents_state_save_seconds`). */
  readonly onSave?: (seconds: number) => void;
}

/** The loaded state plus its lock and writer. */
export class StateStore implements AsyncDisposable {
  /** The live document; mutate it, then call {@link StateStore.checkpoint}. */
  readonly doc: StateDocument;
  /** The state file. */
  readonly file: string;
  /** Whether the file existed when opened (false on a daemon's first start). */
  readonly existed: boolean;
  #lock: StateLock | null;
  #clock: () => number;
  #writing: Promise<void> | null = null;
  #pending: Promise<void> | null = null;
  #writes = 0;
  #onSave: ((seconds: number) => void) | undefined;

  private constructor(
    file: string,
    doc: StateDocument,
    existed: boolean,
    lock: StateLock,
    clock: () => number,
    onSave?: (seconds: number) => void,
  ) {
    this.file = file;
    this.doc = doc;
    this.existed = existed;
    this.#lock = lock;
    this.#clock = clock;
    this.#onSave = onSave;
  }

  /**
   * Lock and load a state file (a missing file starts an empty state).
   *
   * @param file The state file.
   * @param options The site and lock purpose.
   * @returns The open store.
   * @throws {StateLockedError} When another process holds the file.
   * @throws {StateFileError} When the file is unreadable, corrupt or for another site.
   */
  static async open(file: string, options: StateStoreOptions): Promise<StateStore> {
    await Deno.mkdir(dirname(file), { recursive: true });
    const lock = await StateLock.acquire(file, { purpose: options.purpose ?? "sgevents daemon" });
    try {
      const loaded = await readStateFile(file);
      if (loaded && loaded.site !== null && loaded.site !== options.site) {
        throw new StateFileError(
          file,
          `State file "${file}" belongs to site "${loaded.site}", not "${options.site}"; give each site its own daemon.state_file`,
        );
      }
      const doc = loaded ?? newStateDocument(options.site);
      doc.site = options.site;
      const clock = options.clock ?? Date.now;
      return new StateStore(file, doc, loaded !== null, lock, clock, options.onSave);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** How many writes this store has made (for tests and benchmarks). */
  get writes(): number {
    return this.#writes;
  }

  /**
   * Make every change made so far durable. Calls made while a write is under way share
   * the next write, so many plugins finishing together cost one fsync.
   *
   * @returns Resolves once a write that started after this call has completed.
   */
  checkpoint(): Promise<void> {
    if (!this.#lock) return Promise.reject(new TypeError("State store is closed"));
    if (this.#pending) return this.#pending;
    if (!this.#writing) {
      this.#writing = this.#write().finally(() => this.#writing = null);
      return this.#writing;
    }
    // A write is under way with older content: queue exactly one more after it.
    this.#pending = this.#writing.catch(() => {}).then(() => {
      this.#pending = null;
      this.#writing = this.#write().finally(() => this.#writing = null);
      return this.#writing;
    });
    return this.#pending;
  }

  async #write(): Promise<void> {
    const started = performance.now();
    this.doc.savedAt = new Date(this.#clock()).toISOString();
    await writeFileAtomic(this.file, serializeState(this.doc));
    this.#writes++;
    this.#onSave?.((performance.now() - started) / 1000);
  }

  /** Save (if open) and release the lock. Idempotent. */
  async close(): Promise<void> {
    if (!this.#lock) return;
    try {
      await this.checkpoint();
    } finally {
      const lock = this.#lock;
      this.#lock = null;
      await lock?.release();
    }
  }

  /** Same as {@link StateStore.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Read a state file without locking it (safe while a daemon runs: writes are atomic renames).
 *
 * @param file The state file.
 * @returns The document, or null when there is no state file yet.
 * @throws {StateFileError} When the file is unreadable or corrupt.
 */
export async function readStateFile(file: string): Promise<StateDocument | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      if (await exists(`${file}.bak`)) {
        throw new StateFileError(
          file,
          `State file "${file}" is missing but its backup "${file}.bak" exists; copy the backup to "${file}" to resume, or delete the backup to start afresh`,
        );
      }
      return null;
    }
    throw new StateFileError(
      file,
      `Cannot read state file "${file}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  return parseState(text, file);
}

/**
 * Replace a file's content atomically and durably, keeping the previous copy as `.bak`.
 * A crash at any moment leaves either the old or the new content under `file`.
 *
 * @param file The file to replace.
 * @param text Its new content.
 */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    const bytes = new TextEncoder().encode(text);
    for (let offset = 0; offset < bytes.length;) {
      offset += await handle.write(bytes.subarray(offset));
    }
    await handle.sync();
  } finally {
    handle.close();
  }
  // The backup is a hard link to the current copy, swapped in atomically too.
  const bakTmp = `${file}.bak.tmp`;
  await Deno.remove(bakTmp).catch(() => {});
  try {
    await Deno.link(file, bakTmp);
    await Deno.rename(bakTmp, `${file}.bak`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.rename(tmp, file);
  await syncDirectory(dirname(file));
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the renames durable on Linux; directories cannot be opened this way on Windows.
  if (Deno.build.os === "windows") return;
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
