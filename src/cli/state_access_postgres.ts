/**
 * The PostgreSQL half of state_access.ts, loaded only when `daemon.state_url` is set, so
 * that commands on a state file never load the database driver.
 *
 * @module
 */
import type { OperatorRequest } from "../engine/operator_requests.ts";
import { isAbortError } from "../util/abort.ts";
import { groupMembers, LeaderLock } from "../state/leader.ts";
import { openPostgresBackend, sendDatabaseRequest } from "../state/postgres_backend.ts";
import { connect } from "../state/postgres_connection.ts";
import { migrate } from "../state/postgres_schema.ts";
import { safeUrl } from "../state/safe_url.ts";
import type { StateBackend } from "../state/state_backend.ts";
import { StateBusyError, type StateView } from "./state_access.ts";

/** How to reach one daemon's rows. */
export interface DatabaseTarget {
  /** The daemon's name (`daemon.name`). */
  readonly name: string;
  /** `daemon.state_password_file`'s password, when not in the URL. */
  readonly password: string | null;
}

/**
 * Read a daemon's state and its group (leader and standbys) from the database.
 *
 * @param stateUrl The `state_url`.
 * @param target The daemon and password.
 * @returns The document and who runs it.
 */
export async function readDatabaseState(
  stateUrl: string,
  { name, password }: DatabaseTarget,
): Promise<StateView> {
  const sql = connect(stateUrl, { password, applicationName: "sgevents reader" });
  try {
    await migrate(sql);
    const backend = openPostgresBackend(stateUrl, { name, epoch: 0, password });
    const doc = await backend.load().finally(() => backend.close());
    const rows = await groupMembers(sql, name);
    return {
      location: `${safeUrl(stateUrl)} (daemon "${name}")`,
      doc,
      daemon: rows.find((row) => row.leads)?.member ?? null,
      standbys: rows.filter((row) => !row.leads).map((row) => row.member),
    };
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * Run `fn` as the lead of a new epoch (a standby takes over after).
 *
 * @param stateUrl The `state_url`.
 * @param target The daemon, password and lease timeout.
 * @param fn Given the open backend (closed after).
 * @returns What `fn` returns.
 * @throws {StateBusyError} When a daemon leads the group.
 */
export async function withDatabaseWriter<T>(
  stateUrl: string,
  { name, password, leaseTimeoutMs }: DatabaseTarget & { readonly leaseTimeoutMs: number },
  fn: (backend: StateBackend) => Promise<T>,
): Promise<T> {
  const busy = new AbortController();
  let lock: LeaderLock;
  try {
    lock = await LeaderLock.acquire(stateUrl, {
      name,
      password,
      leaseTimeoutMs,
      signal: busy.signal,
      member: `sgevents state command pid ${Deno.pid} on ${Deno.hostname()}`,
      onStandby: () => busy.abort(),
    });
  } catch (error) {
    if (busy.signal.aborted || isAbortError(error)) {
      throw new StateBusyError(`${safeUrl(stateUrl)} (daemon "${name}")`);
    }
    throw error;
  }
  try {
    const backend = openPostgresBackend(stateUrl, { name, epoch: lock.epoch, password });
    try {
      return await fn(backend);
    } finally {
      await backend.close();
    }
  } finally {
    await lock.release();
  }
}

/**
 * Queue an operator request for the running daemon in the requests table.
 *
 * @param stateUrl The `state_url`.
 * @param target The daemon and password.
 * @param request The request (its id unique).
 */
export async function queueDatabaseRequest(
  stateUrl: string,
  { name, password }: DatabaseTarget,
  request: OperatorRequest,
): Promise<void> {
  const sql = connect(stateUrl, { password, applicationName: "sgevents request" });
  try {
    await sendDatabaseRequest(sql, { name, request });
  } finally {
    await sql.end({ timeout: 1 });
  }
}
