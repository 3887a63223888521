/**
 * The daemon's core: keeps one {@link Lane} per plugin, feeds them from a shared
 * {@link PageSource} and {@link BacklogResolver}, follows the plugin folders as they
 * change, applies run-time requests, reports catch-up progress, and stops cleanly:
 * on stop, every lane finishes the event in flight (bounded by `shutdown_timeout`),
 * the state is saved, and a restart delivers nothing twice.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { Config, StartAt } from "../config/types.ts";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { StateSaveError, type StateStore } from "../state/state_store.ts";
import type { PluginCursor } from "../state/cursor.ts";
import {
  type Clock,
  isAbortError,
  raceSignal,
  type Sleep,
  sleep as realSleep,
} from "../util/abort.ts";
import { BacklogResolver } from "./backlog_resolver.ts";
import { ackLine, changeCursor, checkCursorChange } from "./control.ts";
import { Lane, type ProbeGate } from "./lane.ts";
import { changeOperated, isOperated, type OperatorRequest } from "./operator_requests.ts";
import {
  type Narrowing,
  type NarrowingInput,
  planNarrowing,
  settledAgeMs,
  SettledHorizon,
} from "./narrowing.ts";
import { GroupMember, groupOf, OrderedGroup } from "./ordered_group.ts";
import { PageSource } from "./page_source.ts";
import { type ReplayReader, sourceReplayReader } from "./replay_reader.ts";
import { type EngineObserver, noObserver } from "./observer.ts";
import { withRecovery } from "./recovery.ts";
import type { DeliveryHost, EventSource, PluginFile } from "./types.ts";

/** What the engine is built from. */
export interface EngineOptions {
  readonly config: Config;
  readonly source: EventSource;
  readonly store: StateStore;
  /** Loads a plugin (a Worker per plugin in production). */
  readonly startHost: (plugin: PluginFile) => Promise<DeliveryHost>;
  /** The plugin list: first value at start, then a new list whenever it changes. */
  readonly plugins: AsyncIterable<PluginFile[]>;
  /** Stop once every plugin has caught up with the head of the log. */
  readonly once?: boolean;
  readonly clock?: Clock;
  readonly sleep?: Sleep;
  /** How often run-time requests are looked for (default 1 s). */
  readonly controlIntervalMs?: number;
  /** How long plugins found together wait for each other to load (default 2 s). */
  readonly startTogetherMs?: number;
  /** How often the site's newest id is compared with the cursors (default 30 s). */
  readonly siteCheckIntervalMs?: number;
  /** Told of pages read, deliveries and failures (the HTTP server's metrics). */
  readonly observer?: EngineObserver;
}

/** A plugin's run-time view, for `plugins list` and tests. */
export interface LaneStatus {
  readonly name: string;
  readonly file: string;
  readonly loaded: boolean;
  readonly loadError: string | null;
  readonly caughtUp: boolean;
  readonly cursor: number;
  readonly status: "active" | "paused" | "halted";
}

/** The event engine. */
export class Engine {
  #options: EngineOptions;
  #logger: Logger = getLogger(["sgevents", "engine"]);
  #lanes = new Map<string, Lane | GroupMember>();
  /** Ordered groups (plugins.order, plugins.ordered_groups), by key; see ordered_group.ts. */
  #groups = new Map<string, OrderedGroup>();
  #groupOf: (name: string) => string | null;
  /** Each plugin's place in the processing order (folders, then file name). */
  #ranks = new Map<string, number>();
  #abort = new AbortController();
  #clock: Clock;
  #sleep: Sleep;
  #pages: PageSource;
  #resolver: BacklogResolver;
  #replays: ReplayReader;
  #horizon: SettledHorizon | null = null;
  #narrowingLogged: string | null = null;
  #running: Promise<void> | null = null;
  #laneRuns = new Set<Promise<void>>();
  #closing = new Set<Promise<void>>();
  #firstStart = false;
  #probe = new ProbeQueue();
  /** A failure no retry can mend (the state file replaced under the daemon): the run ends. */
  #fatal: Error | null = null;

  /**
   * @param options Source, state, plugin loader and settings.
   */
  constructor(options: EngineOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#sleep = options.sleep ?? realSleep;
    const { daemon } = options.config;
    this.#groupOf = groupOf(options.config.plugins);
    const fetch = <T>(action: string, fn: (signal: AbortSignal) => Promise<T>) =>
      withRecovery(fn, {
        signal: this.#abort.signal,
        logger: getLogger(["sgevents", "poller"]),
        maxConnRetries: daemon.maxConnRetries,
        connRetrySleepMs: daemon.connRetrySleepMs,
        sleep: this.#sleep,
        action,
      });
    const ignored = new Set(daemon.ignoreScriptUsers);
    this.#pages = new PageSource(options.source, {
      batchSize: daemon.maxEventBatchSize,
      readAhead: daemon.readAhead,
      backlogTimeoutMs: daemon.backlogTimeoutMs,
      fetch: async (action, fn) => {
        const events = await fetch(action, fn) as ShotGridEvent[];
        (options.observer ?? noObserver).pageRead(events);
        const last = events[events.length - 1];
        if (last) options.store.noteSiteNewest(last.id);
        return events as never;
      },
      // Once: a lane whose narrowed read fails reads whole pages instead.
      fetchNarrowed: (_action, fn) => fn(this.#abort.signal),
      clock: this.#clock,
      sleep: this.#sleep,
      exclude: (event) => isIgnored(event, ignored),
    });
    this.#replays = sourceReplayReader(options.source, {
      batchSize: daemon.maxEventBatchSize,
      fetch,
    });
    this.#resolver = new BacklogResolver(options.source, {
      fetch,
      clock: this.#clock,
      intervalMs: daemon.fetchIntervalMs,
    });
    if (daemon.narrowReads) {
      this.#horizon = new SettledHorizon(options.source, {
        signal: this.#abort.signal,
        clock: this.#clock,
        settledAgeMs: settledAgeMs(daemon.backlogTimeoutMs),
        reuseMs: Math.max(daemon.fetchIntervalMs, 30_000),
        onError: (error) =>
          this.#logger.warn(
            "Cannot find the settled horizon ({error}); reading whole pages until the next look",
            { error: String(error) },
          ),
      });
    }
  }

  /** Requests made to the site for pages, backlog lookups and the settled horizon. */
  get requests(): { pages: number; backlog: number; horizon: number } {
    return {
      pages: this.#pages.requests,
      backlog: this.#resolver.requests,
      horizon: this.#horizon?.requests ?? 0,
    };
  }

  /**
   * Make every caught-up lane read the log now instead of after `fetch_interval` (a
   * webhook delivery). The log stays the one source of truth: nothing is delivered from
   * the webhook itself.
   */
  wake(): void {
    for (const lane of this.#lanes.values()) lane.wake();
  }

  /** Each plugin's run-time status. */
  lanes(): LaneStatus[] {
    return [...this.#lanes.values()].map((lane) => ({
      name: lane.name,
      file: lane.plugin.file,
      loaded: lane.host?.status === "ready",
      loadError: lane.host?.loadError ?? null,
      caughtUp: lane.caughtUp,
      cursor: lane.cursor.position,
      status: lane.cursor.status,
    }));
  }

  /**
   * Run until `signal` aborts (or, with `once`, until every plugin has caught up).
   *
   * @param signal Stops the daemon (SIGINT/SIGTERM at the top).
   * @returns Resolves after the final save.
   */
  run(signal: AbortSignal): Promise<void> {
    this.#running ??= this.#run(signal);
    return this.#running;
  }

  async #run(signal: AbortSignal): Promise<void> {
    const onAbort = () => this.#abort.abort(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    const iterator = this.#options.plugins[Symbol.asyncIterator]();
    try {
      const first = await iterator.next();
      // "First start" is a state without any plugin yet (a file written by a daemon stopped
      // before it placed any plugin counts as none), for the plugins found at start.
      this.#firstStart = this.#options.store.names.length === 0;
      if (!first.done) await this.#apply(first.value);
      this.#firstStart = false;
      if (this.#options.once) {
        await Promise.race([Promise.all(this.#laneRuns), aborted(this.#abort.signal)]);
      } else {
        await Promise.race([
          this.#follow(iterator),
          this.#control(),
          this.#progress(),
          this.#watchSite(),
          aborted(this.#abort.signal),
        ]);
      }
    } catch (error) {
      if (!isAbortError(error) && !this.#abort.signal.aborted) throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
      // Not awaited: a watcher blocked in next() finishes its return() only when it wakes.
      iterator.return?.().catch(() => {});
      await this.#shutdown();
    }
    if (this.#fatal) throw this.#fatal;
  }

  /**
   * Save the state for a lane. A save that must not be retried (another process replaced
   * the state file: writing on would overwrite its state) stops the whole daemon, once.
   */
  async #save(options?: { durable?: boolean }): Promise<void> {
    try {
      await this.#options.store.checkpoint(options);
    } catch (error) {
      if (error instanceof StateSaveError && !error.retriable && !this.#fatal) {
        this.#fatal = error;
        this.#logger.fatal("Stopping: {error}", { error: error.message });
        this.#abort.abort(error);
      }
      throw error;
    }
  }

  async #shutdown(): Promise<void> {
    const lanes = [...this.#lanes.values()];
    const stopped = Promise.all(lanes.map((lane) => lane.stop()));
    const timeout = this.#options.config.daemon.shutdownTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = await Promise.race([
      stopped.then(() => false),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), timeout)),
    ]);
    clearTimeout(timer);
    if (late) {
      this.#logger.warn(
        "Callbacks still running {timeout} ms after stop was requested; ending them (their events will be delivered again)",
        { timeout },
      );
    }
    this.#abort.abort();
    await Promise.all([...lanes.map((lane) => lane.close().catch(() => {})), ...this.#closing]);
    // After a fatal save error, saving again would overwrite what replaced the file.
    if (this.#fatal) return;
    await this.#options.store.checkpoint();
    this.#logger.info("Stopped; state saved to {file}", { file: this.#options.store.file });
  }

  async #follow(iterator: AsyncIterator<PluginFile[]>): Promise<void> {
    while (!this.#abort.signal.aborted) {
      const next = await iterator.next();
      if (next.done) return await aborted(this.#abort.signal);
      await this.#apply(next.value);
    }
  }

  async #apply(plugins: PluginFile[]): Promise<void> {
    const { config, store } = this.#options;
    await this.#place(plugins);
    this.#ranks = new Map(plugins.map((plugin, i) => [plugin.name, i]));
    const seen = new Set<string>();
    const added: (Lane | GroupMember)[] = [];
    for (const plugin of plugins) {
      seen.add(plugin.name);
      const settings = config.plugins.settings[plugin.name];
      const lane = this.#lanes.get(plugin.name);
      if (settings && !settings.enabled) {
        if (lane) this.#remove(lane, "it is disabled in the configuration");
        continue;
      }
      if (!lane) added.push(this.#add(plugin));
      else if (lane.plugin.hash !== plugin.hash || lane.plugin.file !== plugin.file) {
        this.#logger.info("Plugin {plugin} changed; reloading after the event in flight", {
          plugin: plugin.name,
        });
        lane.reload(plugin);
      }
    }
    for (const lane of [...this.#lanes.values()]) {
      if (!seen.has(lane.name)) this.#remove(lane, "its file is gone");
    }
    // A site restored while the daemon was down is noticed before anything is delivered.
    if (added.length > 0) await this.#checkSite().catch(() => {});
    const together = this.#loadedTogether(added);
    for (const lane of added) this.#start(lane, together);
    await store.checkpoint();
  }

  /**
   * Resolves once every lane of a set has loaded, or `start_together` ms have passed.
   * Plugins found together then start reading together, with what they want together
   * known from their first read (narrowed reads are keyed by it), and one plugin slow to
   * load holds the others back only that long.
   */
  #loadedTogether(lanes: readonly (Lane | GroupMember)[]): Promise<void> {
    if (lanes.length < 2) return Promise.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#options.startTogetherMs ?? 2000);
    });
    const loaded = Promise.allSettled(lanes.map((lane) => lane.load())).then(() => {});
    return Promise.race([loaded, waited]).finally(() => clearTimeout(timer));
  }

  /**
   * Give every new plugin its starting cursor, all before any lane starts: a stop while
   * the site is asked for its newest event leaves no plugin half-placed (a later start
   * would otherwise take the rest for plugins added later).
   */
  async #place(plugins: readonly PluginFile[]): Promise<void> {
    const { store, config } = this.#options;
    const placed: [string, number, StartAt][] = [];
    const resolved = new Map<StartAt, number>();
    for (const plugin of plugins) {
      const settings = config.plugins.settings[plugin.name];
      if ((settings && !settings.enabled) || store.cursor(plugin.name)) continue;
      // First start: daemon.start_at; a plugin added later: the head, unless it says otherwise.
      const where = settings?.startAt ?? (this.#firstStart ? config.daemon.startAt : "latest");
      let cursor = resolved.get(where);
      if (cursor === undefined) resolved.set(where, cursor = await this.#resolveStart(where));
      placed.push([plugin.name, cursor, where]);
    }
    for (const [plugin, cursor, where] of placed) {
      store.place(plugin, cursor);
      this.#logger.info("Plugin {plugin} starts after event {cursor} (start_at: {where})", {
        plugin,
        cursor,
        where,
      });
    }
  }

  #add(plugin: PluginFile): Lane | GroupMember {
    const { store, config } = this.#options;
    const cursor = store.cursor(plugin.name)!;
    this.#recover(cursor, plugin);
    const ignored = new Set(config.daemon.ignoreScriptUsers);
    const projects = config.plugins.settings[plugin.name]?.projects ?? null;
    const key = this.#groupOf(plugin.name);
    if (key !== null) {
      const rank = this.#ranks.get(plugin.name) ?? this.#ranks.size;
      const member = this.#group(key, ignored).member(plugin, {
        cursor,
        projects: projects ? new Set(projects) : null,
        rank,
      });
      this.#lanes.set(plugin.name, member);
      return member;
    }
    const lane = new Lane(plugin, {
      cursor,
      pages: this.#pages,
      resolver: this.#resolver,
      replays: this.#replays,
      probe: this.#probe,
      connRetrySleepMs: config.daemon.connRetrySleepMs,
      checkpoint: (options) => this.#save(options),
      startHost: this.#options.startHost,
      exclude: (event) => isIgnored(event, ignored),
      projects: projects ? new Set(projects) : null,
      narrowing: () => this.#narrowing(),
      horizon: this.#horizon,
      clock: this.#clock,
      fetchIntervalMs: config.daemon.fetchIntervalMs,
      backlogTimeoutMs: config.daemon.backlogTimeoutMs,
      batchSize: config.daemon.maxEventBatchSize,
      logger: this.#logger,
      pluginLogger: getLogger(["sgevents", "plugin", plugin.name]),
      once: this.#options.once ?? false,
      signal: this.#abort.signal,
      observer: this.#options.observer ?? noObserver,
    });
    this.#lanes.set(plugin.name, lane);
    return lane;
  }

  /** The driver of an ordered group, made when its first member is added. */
  #group(key: string, ignored: ReadonlySet<string>): OrderedGroup {
    const { config, store } = this.#options;
    let group = this.#groups.get(key);
    if (group) return group;
    group = new OrderedGroup(key, {
      pages: this.#pages,
      resolver: this.#resolver,
      checkpoint: (options) => store.checkpoint(options),
      startHost: this.#options.startHost,
      exclude: (event) => isIgnored(event, ignored),
      clock: this.#clock,
      fetchIntervalMs: config.daemon.fetchIntervalMs,
      backlogTimeoutMs: config.daemon.backlogTimeoutMs,
      connRetrySleepMs: config.daemon.connRetrySleepMs,
      batchSize: config.daemon.maxEventBatchSize,
      logger: this.#logger,
      pluginLogger: (name) => getLogger(["sgevents", "plugin", name]),
      once: this.#options.once ?? false,
      signal: this.#abort.signal,
      observer: this.#options.observer ?? noObserver,
    });
    this.#groups.set(key, group);
    return group;
  }

  /** The process died while this plugin was delivering: say so, and what happens now. */
  #recover(cursor: PluginCursor, plugin: PluginFile): void {
    const found = cursor.recoverFromCrash(plugin.hash);
    if (found.kind === "probe") {
      this.#logger.warn(
        "The sgevents process ended while plugin {plugin} processed events {first} to {last}; delivering them one at a time to find the one at fault",
        { plugin: plugin.name, first: found.first, last: found.last },
      );
    } else if (found.kind === "paused") {
      getLogger(["sgevents", "plugin", plugin.name]).error(
        "Plugin {plugin} paused at event {id}: the sgevents process ended twice while it processed that event (out of memory, or the plugin ended the process); the other plugins go on. Fix the plugin, then resume it (sgevents plugins resume {plugin}) or skip the event",
        { plugin: plugin.name, id: found.eventId },
      );
    }
  }

  #start(lane: Lane | GroupMember, together: Promise<void>): void {
    const run = lane.start(together).catch((error) => {
      this.#logger.fatal("Plugin {plugin}'s lane failed: {error}", {
        plugin: lane.name,
        error: error instanceof Error ? error.stack : String(error),
      });
    });
    this.#laneRuns.add(run);
  }

  #remove(lane: Lane | GroupMember, why: string): void {
    this.#logger.info("Unloading plugin {plugin}: {why}; its state is kept", {
      plugin: lane.name,
      why,
    });
    this.#lanes.delete(lane.name);
    // Not awaited: a slow callback of a removed plugin must not hold up other changes.
    const closing = lane.stop().then(() => lane.close()).catch(() => {});
    this.#closing.add(closing);
    closing.finally(() => this.#closing.delete(closing));
  }

  /** What every loaded plugin wants together, for narrowed reads (logged when it changes). */
  #narrowing(): Narrowing | null {
    const { config } = this.#options;
    const loaded: NarrowingInput[] = [];
    for (const lane of this.#lanes.values()) {
      const host = lane.host;
      if (host?.status !== "ready") continue;
      const projects = config.plugins.settings[lane.name]?.projects ?? null;
      loaded.push({ name: lane.name, eventTypes: host.eventTypes, projects });
    }
    const plan = planNarrowing(loaded);
    if (loaded.length > 0 && plan.key !== this.#narrowingLogged) {
      this.#narrowingLogged = plan.key;
      if (plan.narrowing) {
        this.#logger.info("Catch-up reads are narrowed to {narrowing}", { narrowing: plan.key });
      } else {
        this.#logger.info(
          "Catch-up reads are not narrowed: plugin(s) {plugins} want every event type",
          { plugins: plan.anyType.join(", ") },
        );
      }
    }
    return plan.narrowing;
  }

  async #resolveStart(where: StartAt): Promise<number> {
    if (typeof where === "number") return Math.max(0, where - 1);
    const signal = this.#abort.signal;
    const options = this.#options.config.daemon;
    const source = this.#options.source;
    const id = await withRecovery(
      (s) => where === "oldest" ? source.oldestId(s) : source.newestId(s),
      {
        signal,
        logger: this.#logger,
        maxConnRetries: options.maxConnRetries,
        connRetrySleepMs: options.connRetrySleepMs,
        sleep: this.#sleep,
        action: `find the ${where} event`,
      },
    );
    if (id === null) return 0;
    return where === "oldest" ? id - 1 : id;
  }

  async #control(): Promise<void> {
    const interval = this.#options.controlIntervalMs ?? 1000;
    while (!this.#abort.signal.aborted) {
      try {
        await this.#applyRequests();
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        this.#logger.error("Cannot apply run-time requests: {error}", { error: String(error) });
      }
      await this.#sleep(interval, this.#abort.signal);
    }
  }

  async #applyRequests(): Promise<void> {
    const { store } = this.#options;
    const { requests, malformed, offset } = await store.pendingRequests();
    if (offset === store.requestsOffset) return;
    const acks: string[] = [];
    for (const { line, reason } of malformed) {
      this.#logger.warn("Ignoring a malformed run-time request ({reason}): {line}", {
        reason,
        line,
      });
      // Acknowledged with the reason when it has an id, so the command that sent it says why.
      const id = requestId(line);
      if (id) acks.push(ackLine(id, `malformed request: ${reason}`));
    }
    for (const request of requests) {
      let error: string | null = null;
      try {
        // Acknowledged only once applied, so a crash before that leaves it unacknowledged.
        await this.#applyRequest(request);
      } catch (cause) {
        error = cause instanceof Error ? cause.message : String(cause);
        this.#logger.warn("Refused run-time request {op}: {error}", { op: request.op, error });
      }
      acks.push(ackLine(request.id, error));
    }
    store.acknowledge(acks, offset);
    await store.checkpoint();
  }

  async #applyRequest(request: OperatorRequest): Promise<void> {
    const { store } = this.#options;
    const names = request.plugins === "all" ? store.names : request.plugins;
    const unknown = names.filter((name) => !store.cursor(name));
    if (unknown.length > 0) throw new RangeError(`Unknown plugin(s): ${unknown.join(", ")}`);
    this.#logger.info("Applying run-time request {op} for {plugins}", {
      op: request.op,
      plugins: names.join(", "),
    });
    if (isOperated(request)) {
      // Applied by each lane between its batches (a pause waits for the batch in flight).
      await Promise.all(names.map((name) => {
        const apply = (cursor: PluginCursor) => {
          const what = changeOperated(cursor, request);
          this.#logger.info("Plugin {plugin}: {what}", { plugin: name, what });
        };
        const lane = this.#lanes.get(name);
        if (lane) return lane.change(apply);
        apply(store.cursor(name)!);
        return Promise.resolve();
      }));
      return;
    }
    if (request.op === "forget") {
      const loaded = names.filter((name) => this.#lanes.has(name));
      if (loaded.length > 0) {
        throw new RangeError(
          `Cannot forget loaded plugin(s) ${loaded.join(", ")}: remove their files first`,
        );
      }
      for (const name of names) store.forget(name);
      return;
    }
    const to = request.op !== "skip"
      ? undefined
      : request.to === undefined || request.to === "latest"
      ? await this.#resolveStart("latest")
      : request.to;
    const change = {
      op: request.op,
      force: request.force ?? false,
      ...(to === undefined ? {} : { to }),
    };
    // Every plugin is checked first, so a refused skip changes none of them.
    for (const name of names) checkCursorChange(store.cursor(name)!, change);
    const applied: Promise<void>[] = [];
    for (const name of names) {
      const lane = this.#lanes.get(name);
      const cursor = store.cursor(name)!;
      const halted = cursor.status === "halted";
      const apply = (c: typeof cursor) => {
        const what = changeCursor(c, change);
        this.#logger.info("Plugin {plugin}: {what}", { plugin: name, what });
      };
      if (lane) applied.push(lane.change(apply));
      else apply(cursor);
      // The operator has acted on a restore: the site's newest id is the new reference.
      if (halted && to !== undefined) store.noteSiteNewest(to, { reset: true });
    }
    await Promise.all(applied);
  }

  /**
   * Compare the site's newest event with every cursor, every `siteCheckIntervalMs`. A cursor
   * above it means the site went back (restored from an older backup, or another site at
   * the same address): the events it makes next would have ids the cursor already passed,
   * so those plugins stop, with the operator's way out, rather than miss them silently.
   */
  async #watchSite(): Promise<void> {
    const interval = this.#options.siteCheckIntervalMs ?? 30_000;
    while (!this.#abort.signal.aborted) {
      await this.#sleep(interval, this.#abort.signal);
      await this.#checkSite().catch((error) => {
        if (!this.#abort.signal.aborted) {
          this.#logger.debug("Cannot check the site's newest event: {error}", {
            error: String(error),
          });
        }
      });
    }
  }

  async #checkSite(): Promise<void> {
    const { store, source } = this.#options;
    const signal = this.#abort.signal;
    const above = async () => {
      const newest = (await source.newestId(signal)) ?? 0;
      const names = store.names.filter((name) => {
        const cursor = store.cursor(name)!;
        return cursor.status !== "halted" && cursor.position > newest;
      });
      return { newest, names };
    };
    const first = await above();
    if (first.names.length === 0) return;
    // Asked twice, so one odd answer cannot stop every plugin.
    const { newest, names } = await above();
    for (const name of names) {
      const cursor = store.cursor(name)!;
      const position = cursor.position;
      if (!cursor.halt(newest)) continue;
      this.#logger.error(
        'Plugin {plugin} stopped: the site\'s newest event is {newest}, below its cursor {cursor}. The site was restored from an older backup, or another site answers at this address: the events it makes now would be missed. Check the site, then run "sgevents state skip {plugin} --to latest" (or --to <id>) to go on',
        { plugin: name, newest, cursor: position },
      );
    }
    if (names.length > 0) await store.checkpoint();
  }

  async #progress(): Promise<void> {
    const interval = this.#options.config.daemon.progressIntervalMs;
    const last = new Map<string, number>();
    while (!this.#abort.signal.aborted) {
      await this.#sleep(interval, this.#abort.signal);
      const newest = this.#options.store.siteNewest ?? 0;
      for (const lane of this.#lanes.values()) {
        const position = lane.cursor.position;
        const before = last.get(lane.name) ?? position;
        last.set(lane.name, position);
        if (lane.caughtUp || lane.cursor.status !== "active") continue;
        const rate = (position - before) / (interval / 1000);
        const lag = Math.max(0, newest - position);
        this.#logger.info(
          "Catching up: plugin {plugin} at event {cursor}, {rate} ids/s, {lag} ids behind the newest seen, about {eta} s to go",
          {
            plugin: lane.name,
            cursor: position,
            rate: Math.round(rate),
            lag,
            eta: rate > 0 ? Math.round(lag / rate) : null,
          },
        );
      }
    }
  }
}

/** One lane at a time probes after a crash, so a death during a probe is that lane's. */
class ProbeQueue implements ProbeGate {
  #tail: Promise<void> = Promise.resolve();

  acquire(signal: AbortSignal): Promise<Disposable> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => release = resolve);
    return raceSignal(previous, signal).then(
      () => ({ [Symbol.dispose]: release }),
      (error) => {
        // Given up while waiting: the next in line waits for the one before instead.
        previous.then(release);
        throw error;
      },
    );
  }
}

function requestId(line: string): string | null {
  try {
    const id = (JSON.parse(line) as { id?: unknown }).id;
    return typeof id === "string" && id !== "" ? id : null;
  } catch {
    return null;
  }
}

function isIgnored(event: ShotGridEvent, ignored: ReadonlySet<string>): boolean {
  return ignored.size > 0 && event.user?.type === "ApiUser" && ignored.has(event.user.name ?? "");
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
