/**
 * The state file's format: one versioned JSON document per daemon holding, for each
 * plugin, its cursor (last processed id), its backlog of missing ids, its status and
 * counters. Parsing is strict: anything unexpected is a {@link StateFileError} that
 * names the file and what is wrong, never a silent reset.
 *
 * @module
 */

/** The format version written by this build. */
export const stateVersion = 1;

/** Why a plugin is paused. */
export interface PauseInfo {
  readonly eventId: number;
  readonly callback: string;
  readonly error: string;
  readonly at: string;
  /** The event came from the backlog (a late gap fill), not from the plugin's range. */
  readonly fromBacklog: boolean;
  /** The plugin's content hash when it failed: a different file at start-up resumes it. */
  readonly hash?: string;
}

/** An event a `stopOnError: false` callback failed on, recorded and passed. */
export interface FailedEventRecord {
  readonly eventId: number;
  readonly callback: string;
  readonly error: string;
  readonly at: string;
}

/** One plugin's position and health. */
export interface PluginState {
  /** Last id processed (every id at or below it is done or in the backlog); null: not started. */
  cursor: number | null;
  /** Missing ids still awaited, with their deadline (epoch ms; null while paused on it). */
  backlog: Map<number, number | null>;
  status: "active" | "paused";
  paused: PauseInfo | null;
  /** The most recent failures of callbacks registered with stopOnError false (bounded). */
  failed: FailedEventRecord[];
  /** Events delivered to at least one callback, over the plugin's life. */
  processed: number;
  lastError: string | null;
  updatedAt: string | null;
}

/** The whole document. */
export interface StateDocument {
  version: number;
  /** The site the cursors refer to; a different site is refused. */
  site: string | null;
  plugins: Map<string, PluginState>;
  /** Acknowledgements of run-time requests (`id`, or `id error`), the most recent 200. */
  applied: string[];
  /** How many bytes of `<state_file>.requests` the daemon has read and applied. */
  requestsOffset: number;
  savedAt: string | null;
}

/** The state file is unusable: empty, truncated, corrupt, foreign or from a newer version. */
export class StateFileError extends Error {
  /** The file concerned. */
  readonly file: string;
  /**
   * @param file The state file.
   * @param message What is wrong and how to recover.
   * @param options `cause`.
   */
  constructor(file: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StateFileError";
    this.file = file;
  }
}

/** Bound on the failed-event list kept per plugin. */
export const maxFailedRecords = 100;

/**
 * A fresh plugin entry.
 *
 * @param cursor Where it starts.
 * @returns An active plugin state.
 */
export function newPluginState(cursor: number | null): PluginState {
  return {
    cursor,
    backlog: new Map(),
    status: "active",
    paused: null,
    failed: [],
    processed: 0,
    lastError: null,
    updatedAt: null,
  };
}

/**
 * An empty document for a site.
 *
 * @param site The site URL.
 * @returns A document with no plugins.
 */
export function newStateDocument(site: string | null): StateDocument {
  return {
    version: stateVersion,
    site,
    plugins: new Map(),
    applied: [],
    requestsOffset: 0,
    savedAt: null,
  };
}

/**
 * Serialise a document as the file's text.
 *
 * @param doc The state.
 * @returns Pretty JSON ending with a newline.
 */
export function serializeState(doc: StateDocument): string {
  const plugins: Record<string, unknown> = {};
  for (const [name, p] of doc.plugins) {
    plugins[name] = {
      cursor: p.cursor,
      backlog: [...p.backlog].sort((a, b) => a[0] - b[0]),
      status: p.status,
      paused: p.paused,
      failed: p.failed,
      processed: p.processed,
      lastError: p.lastError,
      updatedAt: p.updatedAt,
    };
  }
  return JSON.stringify(
    {
      format: "sgevents-state",
      version: doc.version,
      site: doc.site,
      savedAt: doc.savedAt,
      applied: doc.applied,
      requestsOffset: doc.requestsOffset,
      plugins,
    },
    null,
    1,
  ) + "\n";
}

/**
 * Parse and validate the file's text.
 *
 * @param text The file's content.
 * @param file Its path, for messages.
 * @returns The document.
 * @throws {StateFileError} When the text is not a state document this build can read.
 */
export function parseState(text: string, file: string): StateDocument {
  const recover =
    `restore the backup "${file}.bak" or move the file away and run "sgevents state skip --all"`;
  if (text.trim() === "") {
    throw new StateFileError(file, `State file "${file}" is empty; ${recover}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new StateFileError(
      file,
      `State file "${file}" is not valid JSON (truncated or corrupt: ${
        (cause as Error).message
      }); ${recover}`,
      { cause },
    );
  }
  const fail = (what: string): never => {
    throw new StateFileError(file, `State file "${file}" is invalid: ${what}; ${recover}`);
  };
  if (!isObject(raw) || raw.format !== "sgevents-state") {
    fail(`it is not an sgevents state file (no "format": "sgevents-state")`);
  }
  const doc = raw as Record<string, unknown>;
  if (typeof doc.version !== "number" || !Number.isInteger(doc.version)) {
    fail(`"version" must be an integer`);
  }
  if ((doc.version as number) > stateVersion) {
    throw new StateFileError(
      file,
      `State file "${file}" has version ${doc.version}, newer than this sgevents understands (${stateVersion}); upgrade sgevents`,
    );
  }
  if (doc.site !== null && typeof doc.site !== "string") fail(`"site" must be a URL or null`);
  if (!Array.isArray(doc.applied) || !doc.applied.every((x) => typeof x === "string")) {
    fail(`"applied" must be a list of request ids`);
  }
  if (doc.requestsOffset !== undefined && !isId(doc.requestsOffset)) {
    fail(`"requestsOffset" must be a whole number`);
  }
  if (!isObject(doc.plugins)) fail(`"plugins" must be an object`);
  const plugins = new Map<string, PluginState>();
  for (const [name, value] of Object.entries(doc.plugins as Record<string, unknown>)) {
    plugins.set(name, parsePlugin(value, `plugins.${name}`, fail));
  }
  return {
    version: stateVersion,
    site: (doc.site as string | null) ?? null,
    plugins,
    applied: doc.applied as string[],
    requestsOffset: (doc.requestsOffset as number | undefined) ?? 0,
    savedAt: typeof doc.savedAt === "string" ? doc.savedAt : null,
  };
}

function parsePlugin(value: unknown, key: string, fail: (what: string) => never): PluginState {
  if (!isObject(value)) fail(`"${key}" must be an object`);
  const p = value as Record<string, unknown>;
  if (p.cursor !== null && !isId(p.cursor)) fail(`"${key}.cursor" must be an event id or null`);
  if (!Array.isArray(p.backlog)) fail(`"${key}.backlog" must be a list of [id, deadline]`);
  const backlog = new Map<number, number | null>();
  for (const entry of p.backlog as unknown[]) {
    if (
      !Array.isArray(entry) || entry.length !== 2 || !isId(entry[0]) ||
      (entry[1] !== null && typeof entry[1] !== "number")
    ) {
      fail(`"${key}.backlog" has an entry that is not [id, deadline]: ${JSON.stringify(entry)}`);
    }
    backlog.set(entry[0] as number, entry[1] as number | null);
  }
  if (p.status !== "active" && p.status !== "paused") {
    fail(`"${key}.status" must be "active" or "paused"`);
  }
  if (typeof p.processed !== "number") fail(`"${key}.processed" must be a number`);
  if (p.paused !== null && !isObject(p.paused)) fail(`"${key}.paused" must be an object or null`);
  if (p.paused !== null && !isId((p.paused as Record<string, unknown>).eventId)) {
    fail(`"${key}.paused.eventId" must be an event id`);
  }
  if (!Array.isArray(p.failed)) fail(`"${key}.failed" must be a list`);
  return {
    cursor: p.cursor as number | null,
    backlog,
    status: p.status as "active" | "paused",
    paused: p.paused as PauseInfo | null,
    failed: p.failed as FailedEventRecord[],
    processed: p.processed as number,
    lastError: typeof p.lastError === "string" ? p.lastError : null,
    updatedAt: typeof p.updatedAt === "string" ? p.updatedAt : null,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * A deep copy of a plugin state (so a snapshot being written cannot change under the writer).
 *
 * @param p The state.
 * @returns An independent copy.
 */
export function clonePluginState(p: PluginState): PluginState {
  return { ...p, backlog: new Map(p.backlog), failed: [...p.failed] };
}
