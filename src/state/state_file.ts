/**
 * The state file's format: one versioned JSON document per daemon holding, for each
 * plugin, its cursor (last processed id), its backlog of missing ids, its status and
 * counters. Parsing is strict: anything unexpected is a {@link StateFileError} that
 * names the file and what is wrong, never a silent reset.
 *
 * @module
 */

/**
 * The format version written by this build. 2 added `halted`, `inFlight`, `probe`,
 * `failed[].attempts` and `siteNewest`; 3 added `replay` and `paused.byOperator`. Older
 * files are read as they are (a missing field is its empty value).
 */
export const stateVersion = 3;

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
  /** Paused on purpose (`plugins pause`), not by a failure. */
  readonly byOperator?: boolean;
  /** The failure was an event being replayed (the replay goes on from it at resume). */
  readonly inReplay?: boolean;
}

/**
 * Events delivered again beside the plugin's lane without moving its cursor: the range
 * `from..to` (`sgevents replay`), or only `ids` in it (`plugins retry-failed`).
 */
/** The plugin was moved to a Worker of its own while the daemon ran (hung, crashed, too slow). */
export interface Quarantine {
  readonly reason: string;
  readonly at: string;
}

export interface Replay {
  readonly from: number;
  readonly to: number;
  /** The lowest id not replayed yet (above `to`: done). */
  readonly next: number;
  /** Only these ids, ascending (a retry of failed events); null: the whole range. */
  readonly ids: readonly number[] | null;
  readonly at: string;
}

/** Why a plugin is halted: the site's newest event fell below its cursor (a restore). */
export interface HaltInfo {
  /** The plugin's cursor when it was halted. */
  readonly cursor: number;
  /** The site's newest event id then. */
  readonly siteNewest: number;
  readonly at: string;
}

/** A delivery under way, saved before it starts: still there at start, the process died. */
export interface InFlight {
  readonly first: number;
  readonly last: number;
  /** Deaths already seen during this very event (only when `first === last`). */
  readonly deaths: number;
}

/** After a death during a batch: its events are delivered one at a time up to `upTo`. */
export interface Probe {
  readonly upTo: number;
  /** The single event the last death happened during, or null for a batch. */
  readonly eventId: number | null;
  /** Deaths during `eventId`. */
  readonly deaths: number;
}

/** An event a `stopOnError: false` callback failed on, recorded and passed. */
export interface FailedEventRecord {
  readonly eventId: number;
  readonly callback: string;
  readonly error: string;
  /** Attempts made (0 when unknown: recorded by version 1). */
  readonly attempts: number;
  readonly at: string;
}

/** One plugin's position and health. */
export interface PluginState {
  /** Last id processed (every id at or below it is done or in the backlog); null: not started. */
  cursor: number | null;
  /** Missing ids still awaited, with their deadline (epoch ms; null while paused on it). */
  backlog: Map<number, number | null>;
  /** `paused`: a failure to fix, then resume; `halted`: the site went back (skip to go on). */
  status: "active" | "paused" | "halted";
  paused: PauseInfo | null;
  halted: HaltInfo | null;
  /** The delivery under way, or null between deliveries and after a clean stop. */
  inFlight: InFlight | null;
  /** Events delivered one at a time after a crash, or null. */
  probe: Probe | null;
  /** A replay under way, or null. */
  replay: Replay | null;
  /** Set while the plugin runs quarantined in a Worker of its own (cleared by a reload). */
  quarantine: Quarantine | null;
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
  /** The highest event id seen on the site (a site whose newest id is below a cursor was restored). */
  siteNewest: number | null;
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
    halted: null,
    inFlight: null,
    probe: null,
    replay: null,
    quarantine: null,
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
    siteNewest: null,
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
      halted: p.halted,
      inFlight: p.inFlight,
      probe: p.probe,
      replay: p.replay,
      quarantine: p.quarantine,
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
      siteNewest: doc.siteNewest,
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
  if (doc.siteNewest !== undefined && doc.siteNewest !== null && !isId(doc.siteNewest)) {
    fail(`"siteNewest" must be an event id or null`);
  }
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
    siteNewest: (doc.siteNewest as number | null | undefined) ?? null,
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
  if (p.status !== "active" && p.status !== "paused" && p.status !== "halted") {
    fail(`"${key}.status" must be "active", "paused" or "halted"`);
  }
  if (typeof p.processed !== "number") fail(`"${key}.processed" must be a number`);
  if (p.paused !== null && !isObject(p.paused)) fail(`"${key}.paused" must be an object or null`);
  if (p.paused !== null && !isId((p.paused as Record<string, unknown>).eventId)) {
    fail(`"${key}.paused.eventId" must be an event id`);
  }
  if (!Array.isArray(p.failed)) fail(`"${key}.failed" must be a list`);
  const halted = p.halted ?? null;
  if (halted !== null && (!isObject(halted) || !isId(halted.cursor) || !isId(halted.siteNewest))) {
    fail(`"${key}.halted" must be null or { cursor, siteNewest, at }`);
  }
  if (p.status === "halted" && halted === null) fail(`"${key}.halted" is missing`);
  const inFlight = p.inFlight ?? null;
  if (
    inFlight !== null &&
    (!isObject(inFlight) || !isId(inFlight.first) || !isId(inFlight.last) ||
      !isId(inFlight.deaths))
  ) {
    fail(`"${key}.inFlight" must be null or { first, last, deaths }`);
  }
  const probe = p.probe ?? null;
  if (
    probe !== null &&
    (!isObject(probe) || !isId(probe.upTo) || !isId(probe.deaths) ||
      (probe.eventId !== null && !isId(probe.eventId)))
  ) {
    fail(`"${key}.probe" must be null or { upTo, eventId, deaths }`);
  }
  const replay = p.replay ?? null;
  if (
    replay !== null &&
    (!isObject(replay) || !isId(replay.from) || !isId(replay.to) || !isId(replay.next) ||
      (replay.ids !== null && !(Array.isArray(replay.ids) && replay.ids.every(isId))))
  ) {
    fail(`"${key}.replay" must be null or { from, to, next, ids, at }`);
  }
  return {
    cursor: p.cursor as number | null,
    backlog,
    status: p.status as PluginState["status"],
    paused: p.paused as PauseInfo | null,
    halted: halted as HaltInfo | null,
    inFlight: inFlight as InFlight | null,
    probe: probe as Probe | null,
    replay: replay as Replay | null,
    quarantine: isObject(p.quarantine) && typeof p.quarantine.reason === "string"
      ? p.quarantine as unknown as Quarantine
      : null,
    failed: (p.failed as Record<string, unknown>[]).map((f) => ({
      ...f,
      attempts: typeof f.attempts === "number" ? f.attempts : 0,
    })) as unknown as FailedEventRecord[],
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
