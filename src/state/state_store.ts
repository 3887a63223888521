/**
 * The daemon's state on disk: loaded once under the state lock, changed in memory by the
 * engine, and made durable by {@link StateStore.checkpoint}, which coalesces concurrent
 * requests into one atomic write (temp file, fsync, rename, directory fsync; the previous
 * copy kept as `<file>.bak`).
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { PluginCursor } from "./cursor.ts";
import { StateLock } from "./lock.ts";
import { StateSaveError } from "./save_error.ts";
import {
  newPluginState,
  newStateDocument,
  parseState,
  type PluginState,
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
  /** Epoch ms, for `savedAt` and every cursor's backlog deadlines (default `Date.now`). */
  readonly clock?: () => number;
  /** `daemon.backlog_timeout`: how long the cursors wait for a missing id. */
  readonly backlogTimeoutMs: number;
  /** Waits before each retry of a failed save, in ms (default 200 then 1000). */
  readonly saveRetryDelaysMs?: readonly number[];
  /** Waits between save attempts (a real timer by default). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told how long each write took (the HTTP server's `sgevents_state_save_seconds`). */
  readonly onSave?: (seconds: number) => void;
}

/** How many run-time request acknowledgements are kept. */
const maxAcknowledgements = 200;

/**
 * The loaded state plus its lock and writer. Plugin entries change only through their
 * {@link PluginCursor} (see cursor.ts); the document itself is not handed out.
 */
export class StateStore implements AsyncDisposable {
  /** The state file. */
  readonly file: string;
  /** Whether the file existed when opened (false on a daemon's first start). */
  readonly existed: boolean;
  readonly #doc: StateDocument;
  readonly #cursors = new Map<string, PluginCursor>();
  #lock: StateLock | null;
  #clock: () => number;
  #backlogTimeoutMs: number;
  #retryDelaysMs: readonly number[];
  #sleep: (ms: number) => Promise<void>;
  #writing: Promise<void> | null = null;
  #pending: Promise<void> | null = null;
  #pendingDurable = false;
  #writes = 0;
  /** Whether the last save failed (then closing tries once more, without the waits). */
  #failed = false;
  #closing = false;
  #onSave: ((seconds: number) => void) | undefined;

  private constructor(
    file: string,
    doc: StateDocument,
    existed: boolean,
    lock: StateLock,
    options: StateStoreOptions,
  ) {
    this.file = file;
    this.#doc = doc;
    this.existed = existed;
    this.#lock = lock;
    this.#clock = options.clock ?? Date.now;
    this.#backlogTimeoutMs = options.backlogTimeoutMs;
    this.#retryDelaysMs = options.saveRetryDelaysMs ?? [200, 1000];
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#onSave = options.onSave;
  }

  /**
   * Lock and load a state file. A missing file starts an empty state, written at once so
   * that its lock is held from the start.
   *
   * @param file The state file.
   * @param options The site and lock purpose.
   * @returns The open store.
   * @throws {StateLockedError} When another process holds the file.
   * @throws {StateFileError} When the file is a symbolic link, unreadable, corrupt, for
   *   another site, or cannot be written.
   */
  static async open(file: string, options: StateStoreOptions): Promise<StateStore> {
    await Deno.mkdir(dirname(file), { recursive: true });
    await refuseSymlink(file);
    const lock = await StateLock.acquire(file, { purpose: options.purpose ?? "sgevents daemon" });
    try {
      await removeStaleTemps(file);
      const loaded = await readStateFile(file);
      if (loaded && loaded.site !== null && loaded.site !== options.site) {
        throw new StateFileError(
          file,
          `State file "${file}" belongs to site "${loaded.site}", not "${options.site}"; give each site its own daemon.state_file`,
        );
      }
      const doc = loaded ?? newStateDocument(options.site);
      doc.site = options.site;
      const store = new StateStore(file, doc, loaded !== null, lock, options);
      if (loaded === null) await store.checkpoint();
      return store;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** How many writes this store has made (for tests and benchmarks). */
  get writes(): number {
    return this.#writes;
  }

  /** The plugins with a state, in the order they were placed. */
  get names(): string[] {
    return [...this.#doc.plugins.keys()];
  }

  /** Every plugin's entry, read-only (for `state show`, metrics, the page). */
  get plugins(): ReadonlyMap<string, Readonly<PluginState>> {
    return this.#doc.plugins;
  }

  /**
   * A plugin's cursor, the only way to move it.
   *
   * @param name The plugin.
   * @returns Its cursor, or undefined when the plugin has no state yet.
   */
  cursor(name: string): PluginCursor | undefined {
    let cursor = this.#cursors.get(name);
    if (cursor) return cursor;
    const state = this.#doc.plugins.get(name);
    if (!state) return undefined;
    cursor = new PluginCursor(name, state, {
      clock: this.#clock,
      backlogTimeoutMs: this.#backlogTimeoutMs,
    });
    this.#cursors.set(name, cursor);
    return cursor;
  }

  /**
   * Give a new plugin its first position.
   *
   * @param name The plugin (with no state yet).
   * @param position Its cursor: the first event it gets is the one after it.
   * @returns Its cursor.
   * @throws {RangeError} When the plugin already has a state.
   */
  place(name: string, position: number): PluginCursor {
    if (this.#doc.plugins.has(name)) throw new RangeError(`Plugin "${name}" is already placed`);
    this.#doc.plugins.set(name, newPluginState(position));
    return this.cursor(name)!;
  }

  /**
   * Delete a plugin's state (`state forget`).
   *
   * @param name The plugin.
   * @throws {RangeError} When it has no state.
   */
  forget(name: string): void {
    if (!this.#doc.plugins.delete(name)) throw new RangeError(`Unknown plugin "${name}"`);
    this.#cursors.delete(name);
  }

  /** When the state was last saved (ISO 8601), or null. */
  get savedAt(): string | null {
    return this.#doc.savedAt;
  }

  /** The highest event id seen on the site, or null. */
  get siteNewest(): number | null {
    return this.#doc.siteNewest;
  }

  /**
   * Remember the highest event id seen on the site.
   *
   * @param id An id read from the site (or the newest after an operator's skip).
   * @param options `reset`: take it even if lower (after the operator acted on a restore).
   */
  noteSiteNewest(id: number, options: { reset?: boolean } = {}): void {
    const seen = this.#doc.siteNewest;
    if (options.reset || seen === null || id > seen) this.#doc.siteNewest = id;
  }

  /** Bytes of the run-time requests file already applied. */
  get requestsOffset(): number {
    return this.#doc.requestsOffset;
  }

  /** Acknowledgements of run-time requests (`id`, or `id error`), the most recent last. */
  get applied(): readonly string[] {
    return this.#doc.applied;
  }

  /**
   * Record applied run-time requests and how far the requests file has been read.
   *
   * @param acks One line per request (`id` or `id error`).
   * @param offset Bytes of the requests file read.
   */
  acknowledge(acks: readonly string[], offset: number): void {
    const applied = this.#doc.applied;
    applied.push(...acks);
    if (applied.length > maxAcknowledgements) {
      applied.splice(0, applied.length - maxAcknowledgements);
    }
    this.#doc.requestsOffset = offset;
  }

  /**
   * Save every change made so far. Calls made while a write is under way share the next
   * write, so many plugins finishing together cost one fsync.
   *
   * @param options `durable: false` skips the fsyncs (the rename stays atomic, so the file
   *   survives the process dying; only a power loss may lose it): for the in-flight marks
   *   written before each delivery.
   * @returns Resolves once a write that started after this call has completed.
   * @throws {StateSaveError} Naming the file: retriable when it cannot be written, not when
   *   another process replaced it.
   */
  checkpoint(options: { durable?: boolean } = {}): Promise<void> {
    if (!this.#lock) return Promise.reject(new TypeError("State store is closed"));
    const durable = options.durable ?? true;
    if (this.#pending) {
      this.#pendingDurable ||= durable;
      return this.#pending;
    }
    if (!this.#writing) {
      this.#writing = this.#write(durable).finally(() => this.#writing = null);
      return this.#writing;
    }
    // A write is under way with older content: queue exactly one more after it.
    this.#pendingDurable = durable;
    this.#pending = this.#writing.catch(() => {}).then(() => {
      this.#pending = null;
      const next = this.#pendingDurable;
      this.#writing = this.#write(next).finally(() => this.#writing = null);
      return this.#writing;
    });
    return this.#pending;
  }

  async #write(durable: boolean): Promise<void> {
    const lock = this.#lock;
    if (!lock) throw new TypeError("State store is closed");
    for (let attempt = 0;; attempt++) {
      try {
        const started = performance.now();
        await lock.verify();
        this.#doc.savedAt = new Date(this.#clock()).toISOString();
        const next = await replaceFile(this.file, serializeState(this.#doc), {
          sync: durable,
          beforeRename: (handle) => lock.lockNext(handle),
        });
        lock.replaced(next);
        this.#writes++;
        this.#failed = false;
        this.#onSave?.((performance.now() - started) / 1000);
        return;
      } catch (error) {
        // Another process replaced the file: writing again would only make things worse.
        if (error instanceof StateFileError) throw error;
        const delay = this.#closing && this.#failed ? undefined : this.#retryDelaysMs[attempt];
        const reason = saveFailure(this.file, error);
        if (delay === undefined) {
          this.#failed = true;
          throw reason;
        }
        getLogger(["sgevents", "state"]).warn("{reason}; retrying in {delay} ms", {
          reason: reason.message,
          delay,
        });
        await this.#sleep(delay);
      }
    }
  }

  /**
   * Save (if open) and release the lock. Idempotent; the lock is released even when the
   * save fails.
   *
   * @throws {StateFileError} When the last save failed.
   */
  async close(): Promise<void> {
    if (!this.#lock) return;
    this.#closing = true;
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
 * @throws {StateFileError} Naming the file, when it cannot be written.
 */
export async function writeFileAtomic(
  file: string,
  text: string,
  options: { sync?: boolean } = {},
): Promise<void> {
  try {
    (await replaceFile(file, text, options)).close();
  } catch (error) {
    throw saveFailure(file, error);
  }
}

/** A step of a save that failed, with the path it was acting on. */
class SaveStepError extends Error {
  constructor(readonly step: string, readonly path: string, options: ErrorOptions) {
    super(`cannot ${step} "${path}"`, options);
    this.name = "SaveStepError";
  }
}

async function step<T>(name: string, path: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw error instanceof StateFileError ? error : new SaveStepError(name, path, { cause: error });
  }
}

/**
 * Write `text` to a new temp file beside `file` and rename it over `file`. The temp names
 * are unique (pid and random) and created new (`O_EXCL`), so nothing planted under a
 * temp name, a symbolic link included, is ever followed or overwritten.
 *
 * @returns The new file, still open (the caller closes it or keeps its lock).
 */
async function replaceFile(
  file: string,
  text: string,
  options: { sync?: boolean; beforeRename?: (handle: Deno.FsFile) => Promise<void> } = {},
): Promise<Deno.FsFile> {
  const sync = options.sync ?? true;
  const tmp = tempName(file);
  const handle = await step(
    "create",
    tmp,
    () => Deno.open(tmp, { write: true, read: true, createNew: true, mode: 0o600 }),
  );
  let renamed = false;
  try {
    const bytes = new TextEncoder().encode(text);
    await step("write", tmp, async () => {
      for (let offset = 0; offset < bytes.length;) {
        offset += await handle.write(bytes.subarray(offset));
      }
      if (sync) await handle.sync();
    });
    await options.beforeRename?.(handle);
    // The backup is a hard link to the current copy (link() creates a new name and never
    // follows one), swapped in atomically too.
    const bakTmp = tempName(`${file}.bak`);
    try {
      await Deno.link(file, bakTmp);
      await step("rename", `${file}.bak`, () => Deno.rename(bakTmp, `${file}.bak`));
    } catch (error) {
      await Deno.remove(bakTmp).catch(() => {});
      if (!(error instanceof Deno.errors.NotFound)) {
        throw error instanceof SaveStepError
          ? error
          : new SaveStepError("link the backup", bakTmp, { cause: error });
      }
    }
    await step("rename", tmp, () => Deno.rename(tmp, file));
    renamed = true;
    if (sync) await step("sync the folder", dirname(file), () => syncDirectory(dirname(file)));
    return handle;
  } catch (error) {
    handle.close();
    if (!renamed) await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/** A unique temp name beside `file`: `<file>.tmp-<pid>-<random>`. */
function tempName(file: string): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${file}.tmp-${Deno.pid}-${hex}`;
}

/** Remove temp files left by writes a crash interrupted (only names {@link tempName} makes). */
async function removeStaleTemps(file: string): Promise<void> {
  const name = basename(file).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`^${name}(\\.bak)?\\.tmp-\\d+-[0-9a-f]{12}$`);
  try {
    for await (const entry of Deno.readDir(dirname(file))) {
      if (entry.isFile && pattern.test(entry.name)) {
        await Deno.remove(join(dirname(file), entry.name)).catch(() => {});
      }
    }
  } catch {
    // An unreadable folder fails the save later, with a message naming it.
  }
}

/** The error for a save that failed: names the state file, the step and the path. */
function saveFailure(file: string, error: unknown): StateFileError {
  if (error instanceof StateFileError) return error;
  const cause = error instanceof SaveStepError ? error.cause : error;
  const what = error instanceof SaveStepError ? `${error.message}: ` : "";
  const reason = (cause instanceof Error ? cause.message : String(cause))
    .replace(/(\(os error \d+\)).*$/, "$1");
  const hint = cause instanceof Deno.errors.PermissionDenied
    ? `; make "${dirname(file)}" writable by this user`
    : /os error 28\)/.test(reason)
    ? `; free space on the disk holding "${dirname(file)}"`
    : "";
  return new StateSaveError(file, `Cannot save state file "${file}": ${what}${reason}${hint}`, {
    retriable: true,
    cause,
  });
}

/** Refuse a state file that is a symbolic link: a save would replace the link, not its target. */
async function refuseSymlink(file: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(file);
  } catch {
    return;
  }
  if (!info.isSymlink) return;
  const target = await Deno.readLink(file).catch(() => "?");
  throw new StateFileError(
    file,
    `Cannot open state file "${file}": it is a symbolic link to "${target}"; set daemon.state_file to the real file instead (a save would replace the link)`,
  );
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

export { StateSaveError };
