/**
 * The file sink that routes by category: daemon records to `sgevents.log`, each plugin's
 * records to its own `plugin-<name>.log` (opened when that plugin first logs, since plugins
 * come and go at run time), all rotating by size.
 *
 * @module
 */
import { join } from "node:path";
import { getRotatingFileSink } from "@logtape/file";
import type { LogRecord, Sink, TextFormatter } from "@logtape/logtape";

/** Options of {@link getCategoryFileSink}. */
export interface CategoryFileSinkOptions {
  /** The log folder (created if missing). */
  readonly dir: string;
  /** One file per plugin; otherwise plugin records go to `sgevents.log`. */
  readonly perPlugin: boolean;
  readonly maxFileBytes: number;
  /** Rotated files kept per log. */
  readonly maxFiles: number;
  readonly formatter: TextFormatter;
}

/**
 * The name of a plugin's log file.
 *
 * @param plugin The plugin's name.
 * @returns `plugin-<name>.log`, with characters unsafe in file names replaced by `_`.
 */
export function pluginLogFileName(plugin: string): string {
  return `plugin-${plugin.replace(/[^A-Za-z0-9._-]/g, "_")}.log`;
}

/**
 * Creates the routing file sink. Records in `["sgevents", "plugin", <name>, ...]` go to the
 * plugin's file when `perPlugin` is set; everything else goes to `sgevents.log`.
 *
 * @param options Folder, routing, rotation and formatter.
 * @returns The sink; disposing it closes every file it opened.
 */
export function getCategoryFileSink(options: CategoryFileSinkOptions): Sink & Disposable {
  Deno.mkdirSync(options.dir, { recursive: true });
  const open = (name: string) =>
    getRotatingFileSink(join(options.dir, name), {
      formatter: options.formatter,
      maxSize: options.maxFileBytes,
      maxFiles: options.maxFiles,
      // Write each record at once: a crash must not lose the lines that explain it.
      bufferSize: 0,
    });
  const main = open("sgevents.log");
  const plugins = new Map<string, Sink & Disposable>();
  const sink = (record: LogRecord): void => {
    const plugin = record.category[1] === "plugin" ? record.category[2] : undefined;
    if (!options.perPlugin || plugin === undefined) return main(record);
    let pluginSink = plugins.get(plugin);
    if (pluginSink === undefined) {
      pluginSink = open(pluginLogFileName(plugin));
      plugins.set(plugin, pluginSink);
    }
    pluginSink(record);
  };
  return Object.assign(sink, {
    [Symbol.dispose]() {
      for (const pluginSink of plugins.values()) pluginSink[Symbol.dispose]();
      plugins.clear();
      main[Symbol.dispose]();
    },
  });
}
