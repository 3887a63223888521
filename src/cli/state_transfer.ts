/**
 * `sgevents state export` / `import`: move the state between the JSON file and
 * PostgreSQL (either way) for migration and backup. Export reads (safe while daemons run);
 * import replaces the configured state and needs every daemon stopped.
 *
 * @module
 */
import type { Config } from "../config/types.ts";
import { serializeState } from "../state/state_file.ts";
import { readStateFile, writeFileAtomic } from "../state/state_store.ts";
import { UsageError } from "./errors.ts";
import { readState, StateBusyError, withStateWriter } from "./state_access.ts";

/**
 * Write the configured state to a JSON state file.
 *
 * @param config The config (file or `state_url`).
 * @param file The file to write (replaced atomically).
 * @returns How many plugins were written.
 * @throws {UsageError} When there is no state yet.
 */
export async function exportState(config: Config, file: string): Promise<number> {
  const { doc, location } = await readState(config);
  if (doc === null) throw new UsageError(`Cannot export state "${location}": it has none yet`);
  await writeFileAtomic(file, serializeState(doc));
  return doc.plugins.size;
}

/**
 * Replace the configured state with a JSON state file's.
 *
 * @param config The config (file or `state_url`).
 * @param file The state file to read.
 * @returns How many plugins were imported.
 * @throws {UsageError} When the file is missing, for another site, or a daemon runs.
 */
export async function importState(config: Config, file: string): Promise<number> {
  const doc = await readStateFile(file);
  if (doc === null) throw new UsageError(`Cannot import "${file}": it does not exist`);
  if (doc.site !== null && doc.site !== config.shotgrid.url) {
    throw new UsageError(
      `Cannot import "${file}": it belongs to site "${doc.site}", not "${config.shotgrid.url}"`,
    );
  }
  try {
    return await withStateWriter(config, async (backend) => {
      const current = await backend.load();
      // Request offsets count the target's own requests (bytes of a file, ids of a table).
      doc.requestsOffset = current?.requestsOffset ?? 0;
      doc.applied = current?.applied ?? [];
      doc.site = config.shotgrid.url;
      doc.savedAt = new Date().toISOString();
      await backend.save(doc, { durable: true });
      return doc.plugins.size;
    });
  } catch (error) {
    if (!(error instanceof StateBusyError)) throw error;
    throw new UsageError(`${error.message}; stop every daemon using it, then import`);
  }
}
