/**
 * The PostgreSQL state schema, created and migrated by the daemon. Versioned like the
 * JSON file: `sgevents_schema.version` says which steps ran; each step runs once, in a
 * transaction holding an advisory lock so two daemons starting together do not race.
 *
 * Tables (every row keyed by `daemon.name`, so daemons of several sites share a database):
 * - `sgevents_daemon`: the site the cursors belong to, its newest id, the leader's epoch
 *   (the fencing token), the leader's description, the request acknowledgements.
 * - `sgevents_plugin`: one row per plugin: cursor, backlog, status, pause, halt, in-flight
 *   mark, probe, failed events, counters.
 * - `sgevents_request`: run-time requests (`state skip`/`resume`/`forget`, from any host),
 *   the table form of `<state_file>.requests`; the id is the offset the daemon acknowledges.
 *
 * @module
 */
import type { Sql } from "./postgres_connection.ts";
import { safeUrl } from "./safe_url.ts";
import { StateFileError } from "./state_file.ts";

/** The schema version this build writes. */
export const schemaVersion = 1;

/** Steps, the one at index i taking the schema from version i to i + 1. */
const steps: readonly string[] = [
  `CREATE TABLE sgevents_daemon (
     name text PRIMARY KEY,
     site text,
     site_newest bigint,
     epoch bigint NOT NULL DEFAULT 0,
     leader text,
     leader_since timestamptz,
     saved_at text,
     applied jsonb NOT NULL DEFAULT '[]',
     requests_offset bigint NOT NULL DEFAULT 0,
     has_state boolean NOT NULL DEFAULT false
   );
   CREATE TABLE sgevents_plugin (
     daemon text NOT NULL REFERENCES sgevents_daemon (name) ON DELETE CASCADE,
     plugin text NOT NULL,
     cursor bigint,
     backlog jsonb NOT NULL,
     status text NOT NULL CHECK (status IN ('active', 'paused', 'halted')),
     paused jsonb,
     halted jsonb,
     in_flight jsonb,
     probe jsonb,
     failed jsonb NOT NULL,
     processed bigint NOT NULL,
     last_error text,
     updated_at text,
     PRIMARY KEY (daemon, plugin)
   );
   CREATE TABLE sgevents_request (
     id bigserial PRIMARY KEY,
     daemon text NOT NULL,
     body text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX sgevents_request_daemon ON sgevents_request (daemon, id);`,
];

/** The advisory lock key (class) for migrations; leaders use {@link leaderLockClass}. */
const migrationLock = 0x5347_0001;

/** The first key of every leader's advisory lock (the second is `hashtext(name)`). */
export const leaderLockClass = 0x5347_0002;

/**
 * Create or migrate the schema.
 *
 * @param sql A connection.
 * @throws {StateFileError} When the database holds a newer schema than this build knows.
 */
export async function migrate(sql: Sql): Promise<void> {
  const where = safeUrl(
    `postgres://${sql.options.user}@${sql.options.host[0]}:${
      sql.options.port[0]
    }/${sql.options.database}`,
  );
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${migrationLock})`;
    await tx`CREATE TABLE IF NOT EXISTS sgevents_schema (version integer NOT NULL)`;
    const rows = await tx<{ version: number }[]>`SELECT version FROM sgevents_schema`;
    let version = rows[0]?.version ?? 0;
    if (rows.length === 0) await tx`INSERT INTO sgevents_schema (version) VALUES (0)`;
    if (version > schemaVersion) {
      throw new StateFileError(
        where,
        `Cannot use the state database "${where}": its schema is version ${version}, newer than this sgevents understands (${schemaVersion}); upgrade sgevents`,
      );
    }
    for (; version < schemaVersion; version++) await tx.unsafe(steps[version]!);
    await tx`UPDATE sgevents_schema SET version = ${version}`;
  });
}
