/**
 * Writing the JSON state file safely: atomic replacement with a `.bak` copy, unique
 * temp names, symbolic links refused, failures named by step and path.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { StateSaveError } from "./save_error.ts";
import { parseState, type StateDocument, StateFileError } from "./state_file.ts";

/**
 * Read a state file without locking it (safe while a daemon runs: writes are atomic renames).
 *
 * @param file The state file.
 * @returns The document, or null when there is no state file yet.
 * @throws {StateFileError} When the file is unreadable or corrupt.
 */
export async function readStateFile(file: string): Promise<StateDocument | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      if (await exists(`${file}.bak`)) {
        throw new StateFileError(
          file,
          `State file "${file}" is missing but its backup "${file}.bak" exists; copy the backup to "${file}" to resume, or delete the backup to start afresh`,
        );
      }
      return null;
    }
    throw new StateFileError(
      file,
      `Cannot read state file "${file}": ${(error as Error).message}`,
      { cause: error },
    );
  }
  return parseState(text, file);
}

/**
 * Replace a file's content atomically and durably, keeping the previous copy as `.bak`.
 * A crash at any moment leaves either the old or the new content under `file`.
 *
 * @param file The file to replace.
 * @param text Its new content.
 * @throws {StateFileError} Naming the file, when it cannot be written.
 */
export async function writeFileAtomic(
  file: string,
  text: string,
  options: { sync?: boolean } = {},
): Promise<void> {
  try {
    (await replaceFile(file, text, options)).close();
  } catch (error) {
    throw saveFailure(file, error);
  }
}

/** A step of a save that failed, with the path it was acting on. */
class SaveStepError extends Error {
  constructor(readonly step: string, readonly path: string, options: ErrorOptions) {
    super(`cannot ${step} "${path}"`, options);
    this.name = "SaveStepError";
  }
}

async function step<T>(name: string, path: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw error instanceof StateFileError ? error : new SaveStepError(name, path, { cause: error });
  }
}

/**
 * Write `text` to a new temp file beside `file` and rename it over `file`. The temp names
 * are unique (pid and random) and created new (`O_EXCL`), so nothing planted under a
 * temp name, a symbolic link included, is ever followed or overwritten.
 *
 * @returns The new file, still open (the caller closes it or keeps its lock).
 */
export async function replaceFile(
  file: string,
  text: string,
  options: { sync?: boolean; beforeRename?: (handle: Deno.FsFile) => Promise<void> } = {},
): Promise<Deno.FsFile> {
  const sync = options.sync ?? true;
  const tmp = tempName(file);
  const handle = await step(
    "create",
    tmp,
    () => Deno.open(tmp, { write: true, read: true, createNew: true, mode: 0o600 }),
  );
  let renamed = false;
  try {
    const bytes = new TextEncoder().encode(text);
    await step("write", tmp, async () => {
      for (let offset = 0; offset < bytes.length;) {
        offset += await handle.write(bytes.subarray(offset));
      }
      if (sync) await handle.sync();
    });
    await options.beforeRename?.(handle);
    // The backup is a hard link to the current copy (link() creates a new name and never
    // follows one), swapped in atomically too.
    const bakTmp = tempName(`${file}.bak`);
    try {
      await Deno.link(file, bakTmp);
      await step("rename", `${file}.bak`, () => Deno.rename(bakTmp, `${file}.bak`));
    } catch (error) {
      await Deno.remove(bakTmp).catch(() => {});
      if (!(error instanceof Deno.errors.NotFound)) {
        throw error instanceof SaveStepError
          ? error
          : new SaveStepError("link the backup", bakTmp, { cause: error });
      }
    }
    await step("rename", tmp, () => Deno.rename(tmp, file));
    renamed = true;
    if (sync) await step("sync the folder", dirname(file), () => syncDirectory(dirname(file)));
    return handle;
  } catch (error) {
    handle.close();
    if (!renamed) await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/** A unique temp name beside `file`: `<file>.tmp-<pid>-<random>`. */
function tempName(file: string): string {
  const random = crypto.getRandomValues(new Uint8Array(6));
  const hex = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${file}.tmp-${Deno.pid}-${hex}`;
}

/** Remove temp files left by writes a crash interrupted (only names {@link tempName} makes). */
export async function removeStaleTemps(file: string): Promise<void> {
  const name = basename(file).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`^${name}(\\.bak)?\\.tmp-\\d+-[0-9a-f]{12}$`);
  try {
    for await (const entry of Deno.readDir(dirname(file))) {
      if (entry.isFile && pattern.test(entry.name)) {
        await Deno.remove(join(dirname(file), entry.name)).catch(() => {});
      }
    }
  } catch {
    // An unreadable folder fails the save later, with a message naming it.
  }
}

/** The error for a save that failed: names the state file, the step and the path. */
export function saveFailure(file: string, error: unknown): StateFileError {
  if (error instanceof StateFileError) return error;
  const cause = error instanceof SaveStepError ? error.cause : error;
  const what = error instanceof SaveStepError ? `${error.message}: ` : "";
  const reason = (cause instanceof Error ? cause.message : String(cause))
    .replace(/(\(os error \d+\)).*$/, "$1");
  const hint = cause instanceof Deno.errors.PermissionDenied
    ? `; make "${dirname(file)}" writable by this user`
    : /os error 28\)/.test(reason)
    ? `; free space on the disk holding "${dirname(file)}"`
    : "";
  return new StateSaveError(file, `Cannot save state file "${file}": ${what}${reason}${hint}`, {
    retriable: true,
    cause,
  });
}

/** Refuse a state file that is a symbolic link: a save would replace the link, not its target. */
export async function refuseSymlink(file: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(file);
  } catch {
    return;
  }
  if (!info.isSymlink) return;
  const target = await Deno.readLink(file).catch(() => "?");
  throw new StateFileError(
    file,
    `Cannot open state file "${file}": it is a symbolic link to "${target}"; set daemon.state_file to the real file instead (a save would replace the link)`,
  );
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the renames durable on Linux; directories cannot be opened this way on Windows.
  if (Deno.build.os === "windows") return;
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
