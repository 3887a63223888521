/**
 * One daemon per state file, enforced with an OS file lock (flock) on `<state>.lock`.
 * The kernel drops the lock when its process dies, however it dies, so a lock left by a
 * dead daemon is simply taken over: there is no stale pid file to trap a restart.
 *
 * @module
 */

/** Another live process holds the state file. */
export class StateLockedError extends Error {
  /** The state file. */
  readonly file: string;
  /** What the holder wrote into the lock file (pid, host, since), if readable. */
  readonly holder: string | null;
  /**
   * @param file The state file.
   * @param holder The holder's description.
   */
  constructor(file: string, holder: string | null) {
    super(
      `Cannot lock state file "${file}": another sgevents process holds it${
        holder ? ` (${holder})` : ""
      }; stop it first, or give this daemon its own daemon.state_file`,
    );
    this.name = "StateLockedError";
    this.file = file;
    this.holder = holder;
  }
}

/** A held lock; release it with `await using` or {@link StateLock.release}. */
export class StateLock implements AsyncDisposable {
  #file: Deno.FsFile | null;
  /** The lock file's path. */
  readonly path: string;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Take the lock for a state file without waiting.
   *
   * @param stateFile The state file the lock guards.
   * @param options `purpose` is written into the lock file for other processes' messages.
   * @returns The held lock.
   * @throws {StateLockedError} When another process holds it.
   */
  static async acquire(stateFile: string, options: { purpose?: string } = {}): Promise<StateLock> {
    const path = `${stateFile}.lock`;
    const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o644 });
    let locked = false;
    try {
      locked = await file.tryLock(true);
    } catch (error) {
      file.close();
      throw error;
    }
    if (!locked) {
      file.close();
      throw new StateLockedError(stateFile, await readHolder(path));
    }
    const holder = `${options.purpose ?? "sgevents"} pid ${Deno.pid} on ${Deno.hostname()} since ${
      new Date().toISOString()
    }`;
    await file.truncate(0);
    await file.write(new TextEncoder().encode(holder + "\n"));
    return new StateLock(path, file);
  }

  /**
   * Whether some process holds the lock for a state file right now.
   *
   * @param stateFile The state file.
   * @returns The holder's description, or null when nobody holds it.
   */
  static async holder(stateFile: string): Promise<string | null> {
    const path = `${stateFile}.lock`;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
    try {
      if (await file.tryLock(true)) {
        await file.unlock();
        return null;
      }
      return (await readHolder(path)) ?? "unknown process";
    } finally {
      file.close();
    }
  }

  /** Release the lock (idempotent). */
  async release(): Promise<void> {
    const file = this.#file;
    if (!file) return;
    this.#file = null;
    try {
      await file.truncate(0);
      await file.unlock();
    } finally {
      file.close();
    }
  }

  /** Same as {@link StateLock.release}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

async function readHolder(path: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(path)).trim() || null;
  } catch {
    return null;
  }
}
