/**
 * The state in PostgreSQL as a {@link StateBackend}: one row per daemon name, one per
 * plugin, the run-time requests in their own table (see postgres_schema.ts). Every save is
 * one transaction that first updates the daemon's row `WHERE epoch = <this leader's>`: a
 * daemon another one took over from (its lock lost in a partition or a paused VM) writes
 * nothing, and learns so (a {@link StateFencedError}).
 *
 * @module
 */
import { parseRequest } from "../engine/control.ts";
import type { Malformed } from "../engine/control.ts";
import type { OperatorRequest } from "../engine/operator_requests.ts";
import { StateSaveError } from "./save_error.ts";
import { connect, type Sql } from "./postgres_connection.ts";
import { safeUrl } from "./safe_url.ts";
import type { PendingRequests, StateBackend } from "./state_backend.ts";
import { parseState, type PluginState, type StateDocument, StateFileError } from "./state_file.ts";

/** A save refused because another daemon has taken over since this one became leader. */
export class StateFencedError extends StateSaveError {
  /**
   * @param location The database and daemon name.
   * @param epoch This daemon's epoch.
   */
  constructor(location: string, epoch: number) {
    super(
      location,
      `Cannot save state "${location}": another daemon has taken over (this daemon led epoch ${epoch}); this daemon stops delivering and waits as a standby`,
      { retriable: false },
    );
    this.name = "StateFencedError";
  }
}

/** Options of {@link PostgresBackend}. */
export interface PostgresBackendOptions {
  /** `daemon.name`. */
  readonly name: string;
  /** The epoch this daemon leads (from {@link LeaderLock}); every write is conditional on it. */
  readonly epoch: number;
  /** The database URL without a password, for messages. */
  readonly location: string;
  /** Ends the connection on close (default true). */
  readonly ownsConnection?: boolean;
  /** Told when a save was fenced (the daemon stops delivering at once). */
  readonly onFenced?: () => void;
}

interface PluginRow {
  plugin: string;
  cursor: string | null;
  backlog: [number, number | null][];
  status: string;
  paused: unknown;
  halted: unknown;
  in_flight: unknown;
  probe: unknown;
  failed: unknown[];
  processed: string;
  last_error: string | null;
  updated_at: string | null;
}

/** The PostgreSQL backend of one daemon name. */
export class PostgresBackend implements StateBackend {
  /** `<url> (daemon "<name>")`. */
  readonly location: string;
  readonly #sql: Sql;
  readonly #name: string;
  readonly #epoch: number;
  readonly #ownsConnection: boolean;
  readonly #onFenced: (() => void) | undefined;
  /** Each plugin's row as last saved (JSON), so a save writes only the rows that changed. */
  #saved = new Map<string, string>();
  #closed = false;

  /**
   * @param sql A connection (the schema migrated, see postgres_schema.ts).
   * @param options Daemon name, epoch and location.
   */
  constructor(sql: Sql, options: PostgresBackendOptions) {
    this.#sql = sql;
    this.#name = options.name;
    this.#epoch = options.epoch;
    this.#ownsConnection = options.ownsConnection ?? true;
    this.#onFenced = options.onFenced;
    this.location = `${options.location} (daemon "${options.name}")`;
  }

  /** Read the daemon's document (null when it has none yet). */
  async load(): Promise<StateDocument | null> {
    const sql = this.#sql;
    const [daemon] = await sql<
      {
        site: string | null;
        site_newest: string | null;
        saved_at: string | null;
        applied: string[];
        requests_offset: string;
        has_state: boolean;
      }[]
    >`SELECT site, site_newest, saved_at, applied, requests_offset, has_state
        FROM sgevents_daemon WHERE name = ${this.#name}`;
    if (!daemon || !daemon.has_state) return null;
    const rows = await sql<PluginRow[]>`SELECT * FROM sgevents_plugin
        WHERE daemon = ${this.#name} ORDER BY plugin`;
    const plugins: Record<string, unknown> = {};
    this.#saved.clear();
    for (const row of rows) {
      const entry = {
        cursor: row.cursor === null ? null : Number(row.cursor),
        backlog: row.backlog,
        status: row.status,
        paused: row.paused,
        halted: row.halted,
        inFlight: row.in_flight,
        probe: row.probe,
        failed: row.failed,
        processed: Number(row.processed),
        lastError: row.last_error,
        updatedAt: row.updated_at,
      };
      plugins[row.plugin] = entry;
      this.#saved.set(row.plugin, JSON.stringify(entry));
    }
    // The file's parser checks every field: one validation for both backends.
    return parseRows(
      JSON.stringify({
        format: "sgevents-state",
        version: 2,
        site: daemon.site,
        siteNewest: daemon.site_newest === null ? null : Number(daemon.site_newest),
        savedAt: daemon.saved_at,
        applied: daemon.applied,
        requestsOffset: Number(daemon.requests_offset),
        plugins,
      }),
      this.location,
    );
  }

  /**
   * Write the document in one transaction, conditional on this daemon's epoch.
   *
   * @throws {StateFencedError} When another daemon took over.
   * @throws {StateSaveError} Retriable, when the database cannot be reached.
   */
  async save(doc: StateDocument, options: { durable: boolean }): Promise<void> {
    if (this.#closed) throw new TypeError("PostgreSQL state backend is closed");
    const rows = new Map<string, { entry: ReturnType<typeof pluginEntry>; json: string }>();
    for (const [name, state] of doc.plugins) {
      const entry = pluginEntry(state);
      rows.set(name, { entry, json: JSON.stringify(entry) });
    }
    let fenced = false;
    try {
      await this.#sql.begin(async (tx) => {
        // Not durable: the commit returns before the WAL is flushed (still atomic).
        if (!options.durable) await tx`SET LOCAL synchronous_commit TO off`;
        const updated = await tx`UPDATE sgevents_daemon SET
            site = ${doc.site}, site_newest = ${doc.siteNewest}, saved_at = ${doc.savedAt},
            applied = ${tx.json(doc.applied)},
            requests_offset = ${doc.requestsOffset}, has_state = true
          WHERE name = ${this.#name} AND epoch = ${this.#epoch}`;
        if (updated.count !== 1) {
          fenced = true;
          throw new StateFencedError(this.location, this.#epoch);
        }
        for (const [name, { entry, json }] of rows) {
          if (this.#saved.get(name) === json) continue;
          await tx`INSERT INTO sgevents_plugin (daemon, plugin, cursor, backlog, status, paused,
              halted, in_flight, probe, failed, processed, last_error, updated_at)
            VALUES (${this.#name}, ${name}, ${entry.cursor},
              ${tx.json(entry.backlog)}, ${entry.status},
              ${jsonOrNull(tx, entry.paused)}, ${jsonOrNull(tx, entry.halted)},
              ${jsonOrNull(tx, entry.inFlight)}, ${jsonOrNull(tx, entry.probe)},
              ${tx.json(entry.failed as never)}, ${entry.processed}, ${entry.lastError},
              ${entry.updatedAt})
            ON CONFLICT (daemon, plugin) DO UPDATE SET cursor = EXCLUDED.cursor,
              backlog = EXCLUDED.backlog, status = EXCLUDED.status, paused = EXCLUDED.paused,
              halted = EXCLUDED.halted, in_flight = EXCLUDED.in_flight, probe = EXCLUDED.probe,
              failed = EXCLUDED.failed, processed = EXCLUDED.processed,
              last_error = EXCLUDED.last_error, updated_at = EXCLUDED.updated_at`;
        }
        const gone = [...this.#saved.keys()].filter((name) => !rows.has(name));
        if (gone.length > 0) {
          await tx`DELETE FROM sgevents_plugin WHERE daemon = ${this.#name}
            AND plugin IN ${tx(gone)}`;
        }
      });
    } catch (error) {
      if (fenced || error instanceof StateFencedError) {
        this.#onFenced?.();
        throw new StateFencedError(this.location, this.#epoch);
      }
      throw new StateSaveError(
        this.location,
        `Cannot save state "${this.location}": ${(error as Error).message}`,
        { retriable: true, cause: error },
      );
    }
    this.#saved = new Map([...rows].map(([name, { json }]) => [name, json]));
  }

  /** The requests in `sgevents_request` with an id above `offset`. */
  async pendingRequests(offset: number): Promise<PendingRequests> {
    const rows = await this.#sql<{ id: string; body: string }[]>`SELECT id, body
        FROM sgevents_request WHERE daemon = ${this.#name} AND id > ${offset}
        ORDER BY id LIMIT 1000`;
    const requests: OperatorRequest[] = [];
    const malformed: Malformed[] = [];
    let last = offset;
    for (const row of rows) {
      last = Number(row.id);
      const parsed = parseRequest(row.body);
      if (typeof parsed === "string") malformed.push({ line: row.body, reason: parsed });
      else requests.push(parsed);
    }
    return { requests, malformed, offset: last };
  }

  /** End the connection (when owned). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsConnection) await this.#sql.end({ timeout: 1 });
  }
}

/** Validate the rows as the file's parser does, with a message about the database. */
function parseRows(text: string, location: string): StateDocument {
  try {
    return parseState(text, location);
  } catch (error) {
    if (!(error instanceof StateFileError)) throw error;
    const what = /is invalid: (.*?); restore/.exec(error.message)?.[1] ?? error.message;
    throw new StateFileError(
      location,
      `Cannot load state "${location}": ${what}; fix the row or run "sgevents state skip --all"`,
      { cause: error },
    );
  }
}

/**
 * Queue a run-time request for the leader of `name` (`state skip` etc. from any host).
 *
 * @param sql A connection.
 * @param options The daemon name and the request.
 */
export async function sendDatabaseRequest(
  sql: Sql,
  options: { name: string; request: OperatorRequest },
): Promise<void> {
  await sql`INSERT INTO sgevents_request (daemon, body)
    VALUES (${options.name}, ${JSON.stringify(options.request)})`;
}

function pluginEntry(p: PluginState) {
  return {
    cursor: p.cursor,
    backlog: [...p.backlog].sort((a, b) => a[0] - b[0]),
    status: p.status,
    paused: p.paused,
    halted: p.halted,
    inFlight: p.inFlight,
    probe: p.probe,
    failed: p.failed,
    processed: p.processed,
    lastError: p.lastError,
    updatedAt: p.updatedAt,
  };
}

/** A nullable jsonb value: SQL NULL for null (not the JSON `null`). */
function jsonOrNull(tx: Pick<Sql, "json">, value: unknown) {
  return value === null || value === undefined ? null : tx.json(value as never);
}

/**
 * Open the backend of the epoch a {@link LeaderLock} leads, on its own connection.
 *
 * @param url The `state_url`.
 * @param options Daemon name, epoch and password.
 * @returns The backend, for `StateStore.openBackend`.
 */
export function openPostgresBackend(
  url: string,
  options: { name: string; epoch: number; password?: string | null; onFenced?: () => void },
): PostgresBackend {
  const sql = connect(url, {
    password: options.password ?? null,
    applicationName: `sgevents ${options.name}: state`,
  });
  return new PostgresBackend(sql, {
    name: options.name,
    epoch: options.epoch,
    location: safeUrl(url),
    ...(options.onFenced ? { onFenced: options.onFenced } : {}),
  });
}
