/**
 * The daemon's state: loaded once from its backend (the JSON file, or PostgreSQL) while
 * the backend holds the single-writer guarantee, changed in memory by the engine through
 * the cursors, and made durable by {@link StateStore.checkpoint}, which coalesces
 * concurrent requests into one atomic write.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { PluginCursor } from "./cursor.ts";
import { FileBackend } from "./file_backend.ts";
import { StateSaveError } from "./save_error.ts";
import type { PendingRequests, StateBackend } from "./state_backend.ts";
import {
  newPluginState,
  newStateDocument,
  type PluginState,
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
  /** The state file, or the database and daemon name (the backend's location). */
  readonly file: string;
  /** Whether the file existed when opened (false on a daemon's first start). */
  readonly existed: boolean;
  readonly #doc: StateDocument;
  readonly #cursors = new Map<string, PluginCursor>();
  #backend: StateBackend | null;
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
    backend: StateBackend,
    doc: StateDocument,
    existed: boolean,
    options: StateStoreOptions,
  ) {
    this.file = backend.location;
    this.#doc = doc;
    this.existed = existed;
    this.#backend = backend;
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
    const backend = await FileBackend.open(
      file,
      options.purpose ? { purpose: options.purpose } : {},
    );
    return await StateStore.openBackend(backend, options);
  }

  /**
   * Load the state from a backend that already holds the single-writer guarantee (the
   * store owns it from now on and closes it). No document yet starts an empty state,
   * written at once.
   *
   * @param backend The open backend.
   * @param options The site and the cursors' settings.
   * @returns The open store.
   * @throws {StateFileError} When the state is unreadable, corrupt, for another site, or
   *   cannot be written.
   */
  static async openBackend(backend: StateBackend, options: StateStoreOptions): Promise<StateStore> {
    try {
      const loaded = await backend.load();
      const where = backend.location;
      if (loaded && loaded.site !== null && loaded.site !== options.site) {
        throw new StateFileError(
          where,
          backend instanceof FileBackend
            ? `State file "${where}" belongs to site "${loaded.site}", not "${options.site}"; give each site its own daemon.state_file`
            : `State "${where}" belongs to site "${loaded.site}", not "${options.site}"; give each site its own daemon.name`,
        );
      }
      const doc = loaded ?? newStateDocument(options.site);
      doc.site = options.site;
      const store = new StateStore(backend, doc, loaded !== null, options);
      if (loaded === null) await store.checkpoint();
      return store;
    } catch (error) {
      await backend.close();
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
   * The run-time requests made since the last acknowledged one (the requests file, or the
   * database's requests table).
   *
   * @returns New requests, malformed ones, and the offset to {@link StateStore.acknowledge}.
   */
  pendingRequests(): Promise<PendingRequests> {
    if (!this.#backend) return Promise.reject(new TypeError("State store is closed"));
    return this.#backend.pendingRequests(this.#doc.requestsOffset);
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
    if (!this.#backend) return Promise.reject(new TypeError("State store is closed"));
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
    const backend = this.#backend;
    if (!backend) throw new TypeError("State store is closed");
    for (let attempt = 0;; attempt++) {
      try {
        const started = performance.now();
        this.#doc.savedAt = new Date(this.#clock()).toISOString();
        await backend.save(this.#doc, { durable });
        this.#writes++;
        this.#failed = false;
        this.#onSave?.((performance.now() - started) / 1000);
        return;
      } catch (error) {
        // Another process replaced the file or took over: writing again would make it worse.
        if (!(error instanceof StateSaveError) || !error.retriable) throw error;
        const delay = this.#closing && this.#failed ? undefined : this.#retryDelaysMs[attempt];
        if (delay === undefined) {
          this.#failed = true;
          throw error;
        }
        getLogger(["sgevents", "state"]).warn("{reason}; retrying in {delay} ms", {
          reason: error.message,
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
    if (!this.#backend) return;
    this.#closing = true;
    try {
      await this.checkpoint();
    } finally {
      const backend = this.#backend;
      this.#backend = null;
      await backend?.close();
    }
  }

  /** Same as {@link StateStore.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export { readStateFile, writeFileAtomic } from "./file_write.ts";
export { StateSaveError };
