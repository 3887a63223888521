/**
 * `sgevents migrate`: read the Python daemon's .conf (and pickled state), check everything,
 * then write config.yaml, the state file and any secret files, refusing to overwrite.
 * Nothing is written when any input is refused, nor with `dryRun`.
 *
 * @module
 */
import { join } from "node:path";
import type { Env } from "../config/env.ts";
import { newPluginState, newStateDocument, serializeState } from "../state/state_file.ts";
import { writeFileAtomic } from "../state/state_store.ts";
import { MigrationError, parseConf } from "./conf.ts";
import { type ConfigMapping, mapConf } from "./mapping.ts";
import { PickleError, readPickle } from "./pickle.ts";
import { type ImportedPlugin, importState, type StateImport, textStateId } from "./state_import.ts";

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The pickled `eventIdFile` to import. */
  readonly state?: string;
  /** Where to write (default: the current folder). */
  readonly out?: string;
  /** Print the mapping, write nothing. */
  readonly dryRun?: boolean;
  /** Replace files that exist. */
  readonly force?: boolean;
  /** For `%(VAR)s`; the process environment by default. */
  readonly env?: Env;
  /** Epoch ms now, for expired backlog entries. */
  readonly clock?: () => number;
  /** Receives each output line (never a secret); console.log by default. */
  readonly print?: (line: string) => void;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  readonly mapping: ConfigMapping;
  readonly state: StateImport | null;
  /** Files written (none on a dry run). */
  readonly written: readonly string[];
}

const stateName = "state.json";

/**
 * Runs the migration.
 *
 * @param conf The `shotgunEventDaemon.conf` file.
 * @param options State file, output folder, dry run, force, environment, clock, printer.
 * @returns The mapping, the imported state and the files written.
 * @throws {MigrationError} When an input is unusable or refused, or an output exists.
 */
export async function migrate(conf: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const print = options.print ?? console.log;
  const out = options.out ?? ".";
  const parsed = parseConf(await readText(conf), {
    file: conf,
    env: options.env ?? Deno.env.toObject(),
  });

  let bytes: Uint8Array | null = null;
  let startAt: number | undefined;
  if (options.state !== undefined) {
    bytes = await readBytes(options.state);
    const textId = textStateId(bytes);
    if (textId !== null) startAt = textId + 1;
  }
  const mapping = mapConf(parsed, {
    stateFile: `./${stateName}`,
    ...(startAt !== undefined ? { startAt } : {}),
  });
  let state: StateImport | null = null;
  if (bytes !== null && startAt === undefined) {
    const file = options.state!;
    let value;
    try {
      value = readPickle(bytes, file);
    } catch (error) {
      if (error instanceof PickleError) {
        throw new MigrationError(file, [`${error.message}; nothing was written`], { cause: error });
      }
      throw error;
    }
    state = importState(value, {
      file,
      pluginPaths: mapping.pluginPaths,
      now: (options.clock ?? Date.now)(),
      listPlugins: listPythonPlugins,
    });
  }

  const targets = [
    join(out, "config.yaml"),
    ...(state !== null ? [join(out, stateName)] : []),
    ...mapping.secrets.map((secret) => join(out, secret.name)),
  ];
  if (!options.force && !options.dryRun) {
    const existing = (await Promise.all(targets.map(async (t) => (await exists(t)) ? t : null)))
      .filter((t) => t !== null);
    if (existing.length > 0) {
      throw new MigrationError(out, [
        `Cannot migrate into "${out}": ${existing.map((f) => `"${f}"`).join(", ")} already exist${
          existing.length === 1 ? "s" : ""
        }; choose another --out or pass --force to replace them`,
      ]);
    }
  }

  print(`Config from ${conf}:`);
  const width = Math.max(...mapping.options.map((o) => o.from.length));
  for (const option of mapping.options) {
    const to = option.to ?? "(no equivalent)";
    const note = option.note === null
      ? ""
      : option.to === null
      ? `: ${option.note}`
      : `  (${option.note})`;
    print(`  ${option.from.padEnd(width)}  ->  ${to}${note}`);
  }
  if (startAt !== undefined) {
    print(`State from ${options.state} (the old text format, one id for every plugin):`);
    print(
      `  last id ${startAt - 1}: every plugin starts at ${startAt} (daemon.start_at: ${startAt})`,
    );
  }
  if (state !== null) printState(print, options.state!, bytes!, state);
  if (options.state === undefined) {
    print("No --state: every plugin starts at daemon.start_at (latest: the newest event).");
  }

  if (options.dryRun) {
    print("Dry run: nothing written.");
    return { mapping, state, written: [] };
  }
  await Deno.mkdir(out, { recursive: true });
  const written: string[] = [];
  for (const secret of mapping.secrets) {
    const file = join(out, secret.name);
    await writeSecret(file, secret.text);
    written.push(file);
  }
  const configFile = join(out, "config.yaml");
  await Deno.writeTextFile(configFile, mapping.yaml);
  written.push(configFile);
  if (state !== null) {
    const doc = newStateDocument(mapping.site);
    for (const plugin of state.plugins) {
      const entry = newPluginState(plugin.lastId);
      for (const [id, deadline] of plugin.backlog) entry.backlog.set(id, deadline);
      doc.plugins.set(plugin.name, entry);
    }
    const file = join(out, stateName);
    await writeFileAtomic(file, serializeState(doc));
    written.push(file);
  }
  print(`Wrote ${written.join(", ")}.`);
  print(
    `Next: stop the Python daemon, then "sgevents validate -c ${configFile}" and "sgevents daemon -c ${configFile}".`,
  );
  return { mapping, state, written };
}

function printState(
  print: (line: string) => void,
  file: string,
  bytes: Uint8Array,
  state: StateImport,
): void {
  const protocol = bytes[0] === 0x80 ? `protocol ${bytes[1]}` : "protocol 0 or 1";
  print(`State from ${file} (pickle, ${protocol}), bound to the site above:`);
  const width = Math.max(0, ...state.plugins.map((p) => p.name.length));
  for (const plugin of state.plugins) {
    print(`  ${plugin.name.padEnd(width)}  ${describePlugin(plugin)}`);
  }
  for (const name of state.unstarted) {
    print(
      `  ${name.padEnd(width)}  no last id (None): not imported; it starts as a new plugin does`,
    );
  }
  for (const note of state.notes) print(`  note: ${note}`);
}

function describePlugin(plugin: ImportedPlugin): string {
  const parts = [`last id ${plugin.lastId} -> starts at ${plugin.lastId + 1}`];
  if (plugin.backlog.size > 0) {
    parts.push(`backlog ${[...plugin.backlog.keys()].join(", ")} kept with its deadline`);
  }
  if (plugin.expired.length > 0) {
    parts.push(`backlog ${plugin.expired.join(", ")} expired: dropped`);
  }
  if (plugin.covered.length > 0) {
    parts.push(`backlog ${plugin.covered.join(", ")} above the last id: read again in order`);
  }
  if (plugin.others.length > 0) {
    const others = plugin.others.map((o) => `${o.lastId ?? "None"} under ${o.folder}`).join(", ");
    parts.push(
      `also found as ${others}; took the highest, ${plugin.lastId} under ${plugin.folder}, as the Python daemon does for a moved folder`,
    );
  }
  return parts.join("; ");
}

async function writeSecret(file: string, text: string): Promise<void> {
  const handle = await Deno.open(file, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    // An existing file (--force) keeps its old mode unless changed before the secret goes in.
    if (Deno.build.os !== "windows") await Deno.chmod(file, 0o600);
    await handle.write(new TextEncoder().encode(text));
  } finally {
    handle.close();
  }
}

function listPythonPlugins(folder: string): string[] | null {
  try {
    return [...Deno.readDirSync(folder)]
      .filter((e) => e.isFile && e.name.endsWith(".py") && !e.name.startsWith("."))
      .map((e) => e.name.slice(0, -3))
      .sort();
  } catch {
    return null;
  }
}

async function readText(file: string): Promise<string> {
  return new TextDecoder().decode(await readBytes(file));
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(file);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : (error as Error).message;
    throw new MigrationError(file, [`Cannot read "${file}": ${reason}`], { cause: error });
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
