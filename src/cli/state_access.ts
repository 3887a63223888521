/**
 * The commands' way to the configured state, file or PostgreSQL alike: read it with who
 * runs it ({@link readState}), or write it as the one writer while no daemon does
 * ({@link withStateWriter}).
 *
 * @module
 */
import type { Config } from "../config/types.ts";
import { isAbortError } from "../util/abort.ts";
import { FileBackend } from "../state/file_backend.ts";
import { groupMembers, LeaderLock } from "../state/leader.ts";
import { StateLock, StateLockedError } from "../state/lock.ts";
import { openPostgresBackend } from "../state/postgres_backend.ts";
import { connect, safeUrl } from "../state/postgres_connection.ts";
import { migrate } from "../state/postgres_schema.ts";
import type { StateBackend } from "../state/state_backend.ts";
import type { StateDocument } from "../state/state_file.ts";
import { readStateFile } from "../state/state_store.ts";

/** The state and the daemons using it. */
export interface StateView {
  /** The state file, or the database (no password) and daemon name. */
  readonly location: string;
  readonly doc: StateDocument | null;
  /** The daemon writing it (the lock holder, the leader), or null. */
  readonly daemon: string | null;
  /** PostgreSQL only: the daemons waiting as standbys. */
  readonly standbys?: readonly string[];
}

/**
 * Read the configured state without taking it.
 *
 * @param config The config.
 * @returns The document and who runs it.
 */
export async function readState(config: Config): Promise<StateView> {
  const { stateUrl, stateFile, name, statePassword } = config.daemon;
  if (stateUrl === null) {
    return {
      location: stateFile,
      doc: await readStateFile(stateFile),
      daemon: await StateLock.holder(stateFile),
    };
  }
  const sql = connect(stateUrl, { password: statePassword, applicationName: "sgevents reader" });
  try {
    await migrate(sql);
    const backend = openPostgresBackend(stateUrl, { name, epoch: 0, password: statePassword });
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

/** A daemon runs the state: a command must hand its change to it. */
export class StateBusyError extends Error {
  /**
   * @param location The state.
   * @param cause The lock error, for the file.
   */
  constructor(location: string, options?: ErrorOptions) {
    super(`Cannot take state "${location}": a daemon runs it`, options);
    this.name = "StateBusyError";
  }
}

/**
 * Run `fn` as the state's one writer: the file's lock, or the PostgreSQL lead for a new
 * epoch (a standby takes over after).
 *
 * @param config The config.
 * @param fn Given the open backend (closed after).
 * @returns What `fn` returns.
 * @throws {StateBusyError} When a daemon runs the state.
 */
export async function withStateWriter<T>(
  config: Config,
  fn: (backend: StateBackend) => Promise<T>,
): Promise<T> {
  const { stateUrl, stateFile, name, statePassword, leaseTimeoutMs } = config.daemon;
  if (stateUrl === null) {
    let backend: FileBackend;
    try {
      backend = await FileBackend.open(stateFile, { purpose: "sgevents state command" });
    } catch (error) {
      if (error instanceof StateLockedError) throw new StateBusyError(stateFile, { cause: error });
      throw error;
    }
    try {
      return await fn(backend);
    } finally {
      await backend.close();
    }
  }
  const busy = new AbortController();
  let lock: LeaderLock;
  try {
    lock = await LeaderLock.acquire(stateUrl, {
      name,
      password: statePassword,
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
    const backend = openPostgresBackend(stateUrl, {
      name,
      epoch: lock.epoch,
      password: statePassword,
    });
    try {
      return await fn(backend);
    } finally {
      await backend.close();
    }
  } finally {
    await lock.release();
  }
}
