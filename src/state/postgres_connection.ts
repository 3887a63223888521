/**
 * Connections to the PostgreSQL state (`daemon.state_url`).
 *
 * Why `postgres` (porsager/postgres) and not `pg`: it is pure JavaScript with no optional
 * native part, runs under Deno through `npm:` as it is, every value in its tagged
 * templates is sent as a bind parameter (no SQL built from strings), and `sql.begin()`
 * gives transactions that roll back on any throw. One pool of one connection per use
 * keeps the advisory lock's session apart from the writes (a pool could hand the lock's
 * session to another query, or drop it).
 *
 * @module
 */
import postgres from "postgres";

/** A connection handle (postgres.js `Sql`). */
export type Sql = postgres.Sql;

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The password (`state_password_file`), when not in the URL. */
  readonly password?: string | null;
  /** Shown in `pg_stat_activity` (how `state show` finds the standbys). */
  readonly applicationName: string;
  /** Seconds to wait for a connection. */
  readonly connectTimeoutS?: number;
}

/**
 * Open a single-connection handle (connected lazily, on the first query).
 *
 * @param url `postgres://user[:password]@host[:port]/database`.
 * @param options Password and application name.
 * @returns The handle; end it with `sql.end()`.
 */
export function connect(url: string, options: ConnectOptions): Sql {
  return postgres(url, {
    max: 1,
    ...(options.password ? { password: options.password } : {}),
    connect_timeout: options.connectTimeoutS ?? 10,
    idle_timeout: 0,
    max_lifetime: null,
    onnotice: () => {},
    connection: { application_name: options.applicationName },
  });
}
