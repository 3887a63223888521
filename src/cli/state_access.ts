/**
 * The commands' way to the configured state, file or PostgreSQL alike: read it with who
 * runs it ({@link readState}), or write it as the one writer while no daemon does
 * ({@link withStateWriter}).
 *
 * @module
 */
import type { Config } from "../config/types.ts";
import { FileBackend } from "../state/file_backend.ts";
import { StateLock, StateLockedError } from "../state/lock.ts";
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
  const { readDatabaseState } = await import("./state_access_postgres.ts");
  return await readDatabaseState(stateUrl, { name, password: statePassword });
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
  const { withDatabaseWriter } = await import("./state_access_postgres.ts");
  return await withDatabaseWriter(stateUrl, { name, password: statePassword, leaseTimeoutMs }, fn);
}
