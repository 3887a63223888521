/**
 * From the Python daemon's state (`{folder: {plugin: (last_id, {backlog_id: expiry})}}`) to
 * sgevents plugin cursors. Both mean "last processed id", so a cursor is the old last id and
 * the plugin starts right after it. Backlog ids below it keep their deadline: the pickle
 * holds naive datetimes in the Python daemon host's local time, read here in this host's
 * local zone (run `migrate` where the daemon ran, or set TZ to its zone); entries already
 * past are dropped as the Python daemon would ("Timeout elapsed on backlog event id N").
 * sgevents keys plugins by name alone, so a name found under several folders takes the
 * state with the highest last id, as the Python daemon does for a folder that moved.
 *
 * @module
 */
import { MigrationError } from "./conf.ts";
import { type PickleValue, PyDateTime, PyTuple } from "./pickle.ts";

/** One plugin's imported position. */
export interface ImportedPlugin {
  readonly name: string;
  /** The old last id: the sgevents cursor (the first event delivered is this + 1). */
  readonly lastId: number;
  /** Backlog ids still awaited, with their deadline (epoch ms). */
  readonly backlog: ReadonlyMap<number, number>;
  /** Backlog ids whose deadline had passed: dropped. */
  readonly expired: readonly number[];
  /** Backlog ids above the last id (a Python backlog fill rewound it): read again anyway. */
  readonly covered: readonly number[];
  /** The folder whose state was taken. */
  readonly folder: string;
  /** The same name under other folders, with their last ids (lower or equal). */
  readonly others: readonly { readonly folder: string; readonly lastId: number | null }[];
}

/** The result of {@link importState}. */
export interface StateImport {
  readonly plugins: readonly ImportedPlugin[];
  /** Plugins with no last id (None): not written, they start as new plugins do. */
  readonly unstarted: readonly string[];
  /** Remarks for the output (folders not in the .conf's paths, bare folder ids). */
  readonly notes: readonly string[];
}

/** Options of {@link importState}. */
export interface ImportStateOptions {
  /** The state file, for messages. */
  readonly file: string;
  /** The .conf's plugin folders. */
  readonly pluginPaths: readonly string[];
  /** Epoch ms now (expired backlog entries are dropped). */
  readonly now: number;
  /** Plugin names in a folder (for an old bare id per folder); null when it cannot be listed. */
  readonly listPlugins?: (folder: string) => string[] | null;
}

interface Candidate {
  readonly folder: string;
  readonly lastId: number | null;
  readonly backlog: Map<number, PyDateTime>;
}

/**
 * A naive local datetime as epoch ms in this host's zone (`fold` 1: the later of two equal
 * local times at a DST change).
 *
 * @param value The datetime.
 * @returns Epoch milliseconds.
 */
export function localEpoch(value: PyDateTime): number {
  const f = value.fields;
  const date = new Date(2000, 0, 1);
  date.setFullYear(f.year, f.month - 1, f.day);
  date.setHours(f.hour, f.minute, f.second, Math.floor(f.microsecond / 1000));
  const t = date.getTime();
  if (f.fold === 1) {
    const later = new Date(t + 3_600_000);
    if (later.getHours() === f.hour && later.getMinutes() === f.minute) return later.getTime();
  }
  return t;
}

/**
 * Turns an unpickled state into per-plugin cursors and backlogs.
 *
 * @param value What {@link readPickle} returned.
 * @param options File name, plugin folders and the time now.
 * @returns The plugins to write and remarks.
 * @throws {MigrationError} When the value is not shaped like a daemon state.
 */
export function importState(value: PickleValue, options: ImportStateOptions): StateImport {
  const { file } = options;
  const fail = (path: string, what: string): never => {
    throw new MigrationError(file, [`State file "${file}": ${path}: ${what}`]);
  };
  const id = (v: PickleValue | undefined, path: string): number => {
    if (typeof v === "bigint") return fail(path, `id ${v} is beyond what sgevents can hold`);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      return fail(path, `expected an event id, found ${describe(v)}`);
    }
    return v;
  };
  if (!(value instanceof Map)) {
    fail("the top level", `expected a dict of plugin folders, found ${describe(value)}`);
  }
  const notes: string[] = [];
  const byName = new Map<string, Candidate[]>();
  const add = (name: string, candidate: Candidate) => {
    const list = byName.get(name) ?? [];
    list.push(candidate);
    byName.set(name, list);
  };
  for (const [folderKey, plugins] of value as Map<PickleValue, PickleValue>) {
    if (typeof folderKey !== "string") {
      fail("a folder key", `expected a path, found ${describe(folderKey)}`);
    }
    const folder = folderKey as string;
    const at = JSON.stringify(folder);
    if (!options.pluginPaths.includes(folder)) {
      notes.push(
        `folder ${at} is not in [plugins] paths: its plugins count as moved, as in the Python daemon`,
      );
    }
    if (typeof plugins === "number" || typeof plugins === "bigint") {
      // An old shape: one id for every plugin of the folder.
      const lastId = id(plugins, at);
      const names = options.listPlugins?.(folder) ?? null;
      if (names === null) {
        notes.push(
          `folder ${at} holds one id (${lastId}) for all its plugins, but cannot be listed here; those plugins are not imported`,
        );
        continue;
      }
      for (const name of names) add(name, { folder, lastId, backlog: new Map() });
      continue;
    }
    if (!(plugins instanceof Map)) {
      fail(at, `expected a dict of plugins, found ${describe(plugins)}`);
    }
    for (const [nameKey, state] of plugins as Map<PickleValue, PickleValue>) {
      if (typeof nameKey !== "string") {
        fail(at, `expected a plugin name, found ${describe(nameKey)}`);
      }
      const name = nameKey as string;
      const path = `${at} > ${JSON.stringify(name)}`;
      if (typeof state === "number" || typeof state === "bigint") {
        add(name, { folder, lastId: id(state, path), backlog: new Map() });
        continue;
      }
      if (!(state instanceof PyTuple) || state.items.length !== 2) {
        fail(path, `expected (last id, backlog) or an id, found ${describe(state)}`);
      }
      const [last, backlog] = (state as PyTuple).items;
      if (!(backlog instanceof Map)) {
        fail(path, `expected a backlog dict, found ${describe(backlog)}`);
      }
      const entries = new Map<number, PyDateTime>();
      for (const [key, expiry] of backlog as Map<PickleValue, PickleValue>) {
        const backlogId = id(key, `${path} backlog`);
        if (!(expiry instanceof PyDateTime)) {
          fail(`${path} backlog ${backlogId}`, `expected a datetime, found ${describe(expiry)}`);
        }
        entries.set(backlogId, expiry as PyDateTime);
      }
      add(name, {
        folder,
        lastId: last === null ? null : id(last, `${path} last id`),
        backlog: entries,
      });
    }
  }

  const imported: ImportedPlugin[] = [];
  const unstarted: string[] = [];
  for (const [name, candidates] of [...byName].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    const best = candidates.reduce((a, b) => (b.lastId ?? -1) > (a.lastId ?? -1) ? b : a);
    if (best.lastId === null) {
      unstarted.push(name);
      continue;
    }
    const backlog = new Map<number, number>();
    const expired: number[] = [];
    const covered: number[] = [];
    for (const [backlogId, expiry] of [...best.backlog].sort((a, b) => a[0] - b[0])) {
      const deadline = localEpoch(expiry);
      if (backlogId >= best.lastId) covered.push(backlogId);
      else if (deadline <= options.now) expired.push(backlogId);
      else backlog.set(backlogId, deadline);
    }
    imported.push({
      name,
      lastId: best.lastId,
      backlog,
      expired,
      covered,
      folder: best.folder,
      others: candidates.filter((c) => c !== best).map((c) => ({
        folder: c.folder,
        lastId: c.lastId,
      })),
    });
  }
  return { plugins: imported, unstarted, notes };
}

/**
 * The pre-pickle state: a text file holding one last id for every plugin.
 *
 * @param bytes The file's content.
 * @returns The id, or null when the file is not in that format.
 */
export function textStateId(bytes: Uint8Array): number | null {
  if (bytes.length > 32) return null;
  const text = new TextDecoder().decode(bytes).trim();
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

function describe(value: PickleValue | undefined): string {
  if (value === null) return "None";
  if (value === undefined) return "nothing";
  if (value instanceof Map) return "a dict";
  if (value instanceof PyTuple) return `a ${value.items.length}-tuple`;
  if (value instanceof PyDateTime) return "a datetime";
  if (Array.isArray(value)) return "a list";
  if (value instanceof Uint8Array) return "bytes";
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `${typeof value} ${String(value)}`;
}
