/**
 * One daemon per state file, enforced with OS file locks (flock): one on `<state>.lock`,
 * which names the holder, and one on the state file's current inode, carried over to each
 * new copy before it is renamed into place. The second lock is what a deleted or replaced
 * lock file cannot defeat: a second daemon finds the state file itself locked. The kernel
 * drops both locks when their process dies, however it dies, so a lock left by a dead
 * daemon is simply taken over: there is no stale pid file to trap a restart.
 *
 * @module
 */
import { StateSaveError } from "./save_error.ts";
import { StateFileError } from "./state_file.ts";

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

/** What a lock file says when its holder's own lock file was deleted or replaced. */
const unknownHolder = "a process whose lock file was deleted or replaced";

/** A held lock; release it with `await using` or {@link StateLock.release}. */
export class StateLock implements AsyncDisposable {
  #file: Deno.FsFile | null;
  /** The lock on the state file's current inode (null before it exists, and on Windows). */
  #state: Deno.FsFile | null = null;
  /** The lock file's path. */
  readonly path: string;
  /** The state file the lock guards. */
  readonly stateFile: string;

  private constructor(stateFile: string, path: string, file: Deno.FsFile) {
    this.stateFile = stateFile;
    this.path = path;
    this.#file = file;
  }

  /**
   * Take the lock for a state file without waiting: the lock file, then the state file
   * itself when it exists.
   *
   * @param stateFile The state file the lock guards.
   * @param options `purpose` is written into the lock file for other processes' messages.
   * @returns The held lock.
   * @throws {StateLockedError} When another process holds it.
   * @throws {StateFileError} When the lock file is a symbolic link.
   */
  static async acquire(stateFile: string, options: { purpose?: string } = {}): Promise<StateLock> {
    const path = `${stateFile}.lock`;
    const file = await openLockFile(stateFile, path);
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
    const lock = new StateLock(stateFile, path, file);
    try {
      lock.#state = await lockInode(stateFile);
    } catch (error) {
      await lock.release();
      throw error;
    }
    const holder = `${options.purpose ?? "sgevents"} pid ${Deno.pid} on ${Deno.hostname()} since ${
      new Date().toISOString()
    }`;
    await file.truncate(0);
    await file.write(new TextEncoder().encode(holder + "\n"));
    return lock;
  }

  /**
   * Whether some process holds the lock for a state file right now.
   *
   * @param stateFile The state file.
   * @returns The holder's description, or null when nobody holds it.
   */
  static async holder(stateFile: string): Promise<string | null> {
    const path = `${stateFile}.lock`;
    let file: Deno.FsFile | null = null;
    try {
      file = await Deno.open(path, { read: true, write: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (file !== null) {
      try {
        if (!await file.tryLock(true)) return (await readHolder(path)) ?? "unknown process";
        await file.unlock();
      } finally {
        file.close();
      }
    }
    if (Deno.build.os === "windows") return null;
    let state: Deno.FsFile;
    try {
      state = await Deno.open(stateFile, { read: true });
    } catch {
      return null;
    }
    try {
      if (await state.tryLock(true)) {
        await state.unlock();
        return null;
      }
      return unknownHolder;
    } finally {
      state.close();
    }
  }

  /**
   * Check that the state file is still the copy this lock holds (no other process removed,
   * replaced or symlinked it), before writing a new one.
   *
   * @throws {StateSaveError} Not retriable, when it is not: stop, as another daemon may be
   *   using it.
   */
  async verify(): Promise<void> {
    if (this.#state === null) return;
    const [held, now] = [await this.#state.stat(), await lstatOrNull(this.stateFile)];
    if (now !== null && sameFile(held, now)) return;
    throw new StateSaveError(
      this.stateFile,
      `Cannot save state file "${this.stateFile}": it was ${
        now === null ? "removed" : "replaced"
      } by another process while this daemon held it; stop every sgevents process using it, check the file (its backup is "${this.stateFile}.bak"), then start one daemon`,
      { retriable: false },
    );
  }

  /**
   * Lock the next copy of the state file before it is renamed into place, so the state file
   * is never unlocked while this process holds it. Call {@link StateLock.replaced} after the
   * rename, or close the handle if the rename failed.
   *
   * @param next The new copy, open.
   * @throws {StateFileError} When it cannot be locked.
   */
  async lockNext(next: Deno.FsFile): Promise<void> {
    if (Deno.build.os === "windows") return;
    if (!await next.tryLock(true)) {
      throw new StateFileError(
        this.stateFile,
        `Cannot save state file "${this.stateFile}": its new copy is locked by another process`,
      );
    }
  }

  /**
   * The new copy is in place: hold its lock and drop the old one.
   *
   * @param next The copy locked with {@link StateLock.lockNext}; owned by the lock from now on.
   */
  replaced(next: Deno.FsFile): void {
    if (Deno.build.os === "windows" || this.#file === null) {
      next.close();
      return;
    }
    this.#state?.close();
    this.#state = next;
  }

  /** Release the lock (idempotent). */
  async release(): Promise<void> {
    const file = this.#file;
    if (!file) return;
    this.#file = null;
    this.#state?.close();
    this.#state = null;
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

/** Open (creating) the lock file, never through a symbolic link planted in its place. */
async function openLockFile(stateFile: string, path: string): Promise<Deno.FsFile> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = await lstatOrNull(path);
    if (before?.isSymlink) {
      throw new StateFileError(
        stateFile,
        `Cannot lock state file "${stateFile}": its lock file "${path}" is a symbolic link; remove it (sgevents creates the lock file itself)`,
      );
    }
    const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o644 });
    const [opened, now] = [await file.stat(), await lstatOrNull(path)];
    if (now !== null && sameFile(opened, now)) return file;
    // Replaced between the check and the open (or a link followed): look again.
    file.close();
  }
  throw new StateFileError(
    stateFile,
    `Cannot lock state file "${stateFile}": its lock file "${path}" keeps being replaced`,
  );
}

/** Lock the state file's current inode; null when there is no state file yet. */
async function lockInode(stateFile: string): Promise<Deno.FsFile | null> {
  if (Deno.build.os === "windows") return null; // Windows locks are mandatory: readers would fail.
  for (let attempt = 0; attempt < 10; attempt++) {
    let handle: Deno.FsFile;
    try {
      handle = await Deno.open(stateFile, { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
    if (!await handle.tryLock(true)) {
      handle.close();
      throw new StateLockedError(stateFile, await readHolder(`${stateFile}.lock`) ?? unknownHolder);
    }
    // A holder may have renamed a new copy into place between the open and the lock.
    const [held, now] = [await handle.stat(), await lstatOrNull(stateFile)];
    if (now !== null && sameFile(held, now)) return handle;
    handle.close();
  }
  throw new StateFileError(
    stateFile,
    `Cannot lock state file "${stateFile}": it keeps being replaced by another process`,
  );
}

function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.dev === b.dev && a.ino === b.ino && b.isFile;
}

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

async function readHolder(path: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(path)).trim() || null;
  } catch {
    return null;
  }
}
