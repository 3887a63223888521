/**
 * `sgevents dispatch <plugin-file> --event <event.json> | --id N`: run one plugin on given
 * events (from a file, or read from the site), exactly as the daemon would (its own Worker,
 * the same loader, matcher and timeouts), and print what each callback did. It never reads
 * or writes daemon state. With `--dry-run` the plugin's writes are recorded and printed,
 * not sent (see dry_run.ts).
 *
 * Also {@link checkPlugin}, used by `sgevents plugins check` and `plugins list`.
 *
 * @module
 */
import { configure, dispose, getStreamSink, type LogRecord } from "@logtape/logtape";
import { Command } from "commander";
import { basename, extname, resolve } from "node:path";
import type { Config } from "../config/types.ts";
import { getLineFormatter } from "../log/format.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { type CallbackInfo, PluginHost, type PluginHostOptions } from "../plugins/host.ts";
import { compileMatchEvents } from "../plugins/matcher.ts";
import { ShotGridEventSource } from "../engine/event_source.ts";
import { configOption, daemonClient, loadCommandConfig } from "./context.ts";
import { type RecordedWrite, startDryRunProxy } from "./dry_run.ts";
import { ReportedFailure, UsageError } from "./errors.ts";

/** Options of {@link checkPlugin}. */
export interface CheckPluginOptions {
  /** Site, timeouts and the plugin's permissions; plain defaults when absent. */
  readonly config?: Config | null;
}

/** What `plugins check` reports. */
export interface PluginCheck {
  readonly name: string;
  readonly file: string;
  readonly status: "ready" | "failed";
  readonly loadError: string | null;
  readonly callbacks: readonly CallbackInfo[];
  readonly emails: readonly string[] | boolean;
}

/** Where `sg` points when no config is given: nothing listens there. */
const placeholderSite = "http://127.0.0.1:9";

/**
 * Load a plugin in its own Worker, as the daemon would, and report its registrations.
 *
 * @param file The plugin file (relative to the working directory or absolute).
 * @param options The config, if any.
 * @returns Its status, load error and callbacks; the Worker is closed again.
 */
export async function checkPlugin(
  file: string,
  options: CheckPluginOptions = {},
): Promise<PluginCheck> {
  const path = resolve(file);
  const name = basename(path, extname(path));
  await using host = await PluginHost.start(
    { name, file: path, hash: "" },
    hostOptions(name, options.config ?? null, {}),
  );
  return {
    name,
    file: path,
    status: host.status,
    loadError: host.loadError,
    callbacks: host.callbacks,
    emails: host.emails,
  };
}

/** What one callback did with one event. */
export interface CallbackOutcome {
  readonly callback: string;
  readonly result: "ok" | "error" | "not matched" | "not run";
  readonly durationMs: number | null;
  readonly error: string | null;
  readonly stack: string | null;
  readonly attempts: number;
}

/** The outcome of {@link runDispatch}. */
export interface DispatchResult {
  readonly plugin: PluginCheck;
  readonly events: readonly {
    readonly event: ShotGridEvent;
    readonly callbacks: readonly CallbackOutcome[];
    /** With `dryRun`: the writes the callbacks made on this event, not sent. */
    readonly writes: readonly RecordedWrite[];
  }[];
  /** `true` when the plugin failed to load or any callback failed. */
  readonly failed: boolean;
}

/** Options of {@link runDispatch}. */
export interface DispatchOptions {
  readonly config: Config | null;
  /** Retries per callback (default 0: fail fast). */
  readonly retries?: number;
  /** Callback timeout; default the config's, else 30 s. */
  readonly timeoutMs?: number;
  /** Reads go to the site, writes are recorded in the result instead of sent. */
  readonly dryRun?: boolean;
}

/**
 * Run a plugin on events, each event through every callback, without touching daemon state.
 * Logs go through LogTape as configured by the caller; the timing category must be
 * captured by the caller (see {@link dispatchCommand}) for durations to be known.
 *
 * @param file The plugin file.
 * @param events Flat EventLogEntry records.
 * @param options Config, retries, timeout.
 * @param timings Filled with the timing records the host emits (pass the capture's array).
 * @returns Per event, per callback outcomes.
 */
export async function runDispatch(
  file: string,
  events: readonly ShotGridEvent[],
  options: DispatchOptions,
  timings: readonly LogRecord[] = [],
): Promise<DispatchResult> {
  const path = resolve(file);
  const name = basename(path, extname(path));
  const overrides = {
    ...(options.retries !== undefined ? { retries: options.retries } : { retries: 0 }),
    ...(options.timeoutMs !== undefined ? { callbackTimeoutMs: options.timeoutMs } : {}),
  };
  const site = options.config?.shotgrid.url ?? placeholderSite;
  await using proxy = options.dryRun
    ? await startDryRunProxy(site, { proxy: options.config?.shotgrid.proxy ?? null })
    : null;
  const base = hostOptions(name, options.config, overrides);
  await using host = await PluginHost.start(
    { name, file: path, hash: "" },
    proxy ? { ...base, shotgrid: { ...base.shotgrid, url: proxy.url, proxy: null } } : base,
  );
  const plugin: PluginCheck = {
    name,
    file: path,
    status: host.status,
    loadError: host.loadError,
    callbacks: host.callbacks,
    emails: host.emails,
  };
  if (host.status !== "ready") return { plugin, events: [], failed: true };
  const matchers = host.callbacks.map((c) => compileMatchEvents(c.matchEvents));
  const results: DispatchResult["events"][number][] = [];
  let failed = false;
  for (const event of events) {
    const before = timings.length;
    const writesBefore = proxy?.writes.length ?? 0;
    // One event per delivery, so a stopOnError failure does not hide the next events.
    const report = await host.deliver([event]);
    const failures = [...report.skipped, ...(report.paused ? [report.paused] : [])];
    const ran = timings.slice(before).filter((r) => r.properties.eventId === event.id);
    let stoppedAt: number | null = null;
    const outcomes = host.callbacks.map((callback, i): CallbackOutcome => {
      if (!matchers[i]!(event)) return outcome(callback.name, "not matched");
      if (stoppedAt !== null) return outcome(callback.name, "not run");
      const timing = ran.find((r) => r.properties.callback === callback.name);
      const durationMs = typeof timing?.properties.durationMs === "number"
        ? timing.properties.durationMs
        : null;
      const failure = failures.find((f) => f.callback === callback.name);
      if (!failure) return { ...outcome(callback.name, "ok"), durationMs, attempts: 1 };
      failed = true;
      if (report.paused === failure) stoppedAt = i;
      return {
        callback: callback.name,
        result: "error",
        durationMs,
        error: failure.error,
        stack: failure.stack,
        attempts: failure.attempts,
      };
    });
    results.push({ event, callbacks: outcomes, writes: proxy?.writes.slice(writesBefore) ?? [] });
  }
  return { plugin, events: results, failed };
}

function outcome(callback: string, result: CallbackOutcome["result"]): CallbackOutcome {
  return { callback, result, durationMs: null, error: null, stack: null, attempts: 0 };
}

function hostOptions(
  name: string,
  config: Config | null,
  overrides: Partial<PluginHostOptions>,
): PluginHostOptions {
  const settings = config?.plugins.settings[name];
  return {
    shotgrid: config
      ? {
        url: config.shotgrid.url,
        proxy: config.shotgrid.proxy,
        useSessionUuid: config.shotgrid.useSessionUuid,
        timeoutMs: config.shotgrid.timeoutMs,
      }
      : { url: placeholderSite, proxy: null, useSessionUuid: false, timeoutMs: 10_000 },
    callbackTimeoutMs: settings?.callbackTimeoutMs ?? config?.plugins.callbackTimeoutMs ?? 30_000,
    retries: settings?.retries ?? config?.plugins.retries ?? 0,
    permissions: settings?.permissions ?? null,
    ...overrides,
  };
}

/**
 * Read events for `dispatch`: one flat EventLogEntry object or an array of them. Missing
 * optional fields get their empty values so that plugins see the daemon's shape.
 *
 * @param text The file's content.
 * @param source The file name, for messages.
 * @returns The events.
 * @throws {UsageError} When the JSON is invalid or an event lacks `id`/`event_type`.
 */
export function parseEvents(text: string, source: string): ShotGridEvent[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`Cannot read events from "${source}": ${(error as Error).message}`);
  }
  const list = Array.isArray(data) ? data : [data];
  return list.map((item, i) => {
    const where = Array.isArray(data) ? `"${source}" item ${i}` : `"${source}"`;
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw new UsageError(`Cannot read events from ${where}: expected an EventLogEntry object`);
    }
    const record = item as Record<string, unknown>;
    if (typeof record.id !== "number" || typeof record.event_type !== "string") {
      throw new UsageError(
        `Cannot read events from ${where}: an event needs a numeric "id" and an "event_type"`,
      );
    }
    return {
      attribute_name: null,
      meta: null,
      entity: null,
      user: null,
      project: null,
      session_uuid: null,
      created_at: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      ...record,
      type: "EventLogEntry",
    } as ShotGridEvent;
  });
}

/**
 * The `dispatch` command.
 *
 * @returns The commander command; exits 1 (via {@link ReportedFailure}) when a callback failed.
 */
export function dispatchCommand(): Command {
  return new Command("dispatch")
    .description(
      "Run one plugin on events from a file, as the daemon would, and show what each callback did (daemon state is not touched)",
    )
    .argument("<plugin-file>", "the plugin .ts or .js file")
    .option("-e, --event <file>", "a JSON file: one flat EventLogEntry or an array of them")
    .option("--id <ids>", "read these events from the site (-c): an id or a comma list", parseIds)
    .option("--dry-run", "reads go to the site; writes are printed, not sent")
    .option(...configOption)
    .option("--retries <n>", "retries per callback", parseCount, 0)
    .option(
      "--timeout <ms>",
      "callback timeout in ms (default: from the config, else 30000)",
      parseCount,
    )
    .addHelpText(
      "after",
      `
The event file holds one flat EventLogEntry (as plugins receive it) or a list of them, e.g.
  {"type": "EventLogEntry", "id": 1, "event_type": "Shotgun_Task_Change",
   "attribute_name": "sg_status_list", "entity": {"type": "Task", "id": 5},
   "meta": {"old_value": "wtg", "new_value": "ip"}, "created_at": "2026-01-21T19:47:33Z"}

With --dry-run, sg reads from the site as usual, but create, update, delete, revive, batch
and uploads are recorded and printed under each event instead of sent; created records get
negative ids.

Examples:
  sgevents dispatch plugins/shot_status_from_task.ts --event task_ip.json -c config.yaml
  sgevents dispatch plugins/shot_status_from_task.ts --id 5120 --dry-run -c config.yaml
  sgevents dispatch plugins/log_events.ts --event events.json    # no site: sg calls fail`,
    )
    .action(async (
      file: string,
      options: {
        event?: string;
        id?: number[];
        dryRun?: boolean;
        config?: string;
        retries: number;
        timeout?: number;
      },
    ) => {
      if ((options.event === undefined) === (options.id === undefined)) {
        throw new UsageError("Cannot dispatch: give either --event <file> or --id <ids>");
      }
      if (options.id !== undefined && !options.config) {
        throw new UsageError("Cannot read events by --id: give the site's config with -c");
      }
      const config = options.config ? await loadCommandConfig(options.config) : null;
      const events = options.id !== undefined
        ? await fetchEvents(config!, options.id)
        : parseEvents(await readEventFile(options.event!), options.event!);
      if (!config) {
        console.error(
          `Warning: no config given (-c): sg calls will fail (the site is the placeholder ${placeholderSite})`,
        );
      }
      const timings: LogRecord[] = [];
      await configure({
        reset: true,
        sinks: {
          console: getStreamSink(Deno.stderr.writable, {
            formatter: getLineFormatter({ colors: Deno.stderr.isTerminal() }),
          }),
          timings: (record) => timings.push(record),
        },
        loggers: [
          { category: ["sgevents"], sinks: ["console"], lowestLevel: "debug" },
          {
            category: ["sgevents", "timing"],
            sinks: ["timings"],
            parentSinks: "override",
            lowestLevel: "info",
          },
          { category: ["logtape", "meta"], sinks: ["console"], lowestLevel: "warning" },
        ],
      });
      let result: DispatchResult;
      try {
        result = await runDispatch(file, events, {
          config,
          dryRun: options.dryRun === true,
          retries: options.retries,
          ...(options.timeout !== undefined ? { timeoutMs: options.timeout } : {}),
        }, timings);
      } finally {
        await dispose();
      }
      for (const line of formatDispatch(result)) console.log(line);
      if (result.failed) throw new ReportedFailure("A callback failed");
    });
}

/**
 * The text `dispatch` prints.
 *
 * @param result What {@link runDispatch} returned.
 * @returns Lines.
 */
export function formatDispatch(result: DispatchResult): string[] {
  const { plugin } = result;
  if (plugin.status !== "ready") return [`${plugin.name}: cannot load: ${plugin.loadError}`];
  const lines = [`${plugin.name}: ${plugin.callbacks.length} callback(s)`];
  const width = Math.max(8, ...plugin.callbacks.map((c) => c.name.length));
  for (const { event, callbacks, writes } of result.events) {
    lines.push(
      `Event ${event.id} ${event.event_type}${
        event.attribute_name ? ` ${event.attribute_name}` : ""
      }`,
    );
    for (const c of callbacks) {
      const time = c.durationMs === null ? "" : `  ${c.durationMs.toFixed(1)} ms`;
      const tries = c.attempts > 1 ? ` after ${c.attempts} attempts` : "";
      lines.push(`  ${c.callback.padEnd(width)}  ${c.result}${time}${tries}`);
      if (c.result === "error") {
        lines.push(`    ${c.error}`);
        const stack = (c.stack ?? "").split("\n").slice(1).map((l) => `    ${l.trim()}`);
        lines.push(...stack.map((l) => `  ${l}`));
      }
    }
    for (const write of writes) {
      const body = write.body === null ? "" : ` ${JSON.stringify(write.body)}`;
      lines.push(`  dry run, not sent: ${write.method} ${write.path}${body}`);
    }
  }
  return lines;
}

async function readEventFile(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(`Cannot read events from "${path}": ${(error as Error).message}`);
  }
}

/**
 * Read events from the site with the daemon's own credentials, in id order.
 *
 * @throws {UsageError} When an id is not on the site.
 */
async function fetchEvents(config: Config, ids: readonly number[]): Promise<ShotGridEvent[]> {
  await using client = daemonClient(config);
  const found = await new ShotGridEventSource(client).byIds(ids, AbortSignal.timeout(60_000));
  const missing = ids.filter((id) => !found.some((event) => event.id === id));
  if (missing.length > 0) {
    throw new UsageError(
      `Cannot read events by --id: ${
        missing.map((id) => `"${id}"`).join(", ")
      } not found on ${config.shotgrid.url}`,
    );
  }
  return found;
}

function parseIds(value: string): number[] {
  return value.split(",").map((part) => {
    const n = Number(part.trim());
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new UsageError(`Invalid event id "${part.trim()}": expected a positive integer`);
    }
    return n;
  });
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`Invalid number "${value}"`);
  return n;
}
