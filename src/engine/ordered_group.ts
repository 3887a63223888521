/**
 * Plugins that advance together (`plugins.order: strict`, `plugins.ordered_groups`): the
 * original daemon's processing order, for co-dependent plugins. Every event goes through
 * the group's plugins one after another, in the fixed order (plugin folders in config
 * order, then file name; callbacks in registration order inside each plugin), and no
 * plugin of the group gets the next event before every plugin of the group has finished
 * this one. `strict` is one group of every plugin.
 *
 * One driver per group reads pages from the group's one position and hands each event to
 * the members' hosts in order. Each member keeps its own {@link PluginCursor} (its state,
 * backlog, pause and counts stay per plugin), and the driver advances every member's
 * cursor to the same place. A member that pauses (stopOnError), or is halted, holds the
 * whole group back until it is resumed or skipped, as in the original daemon; other
 * plugins, in their own lanes or groups, go on. A member ahead of the others (from an
 * older state) is not given the events it already passed.
 *
 * Deliveries are one event at a time, which strict order needs; a group is therefore
 * slower than independent lanes. Reads are whole pages (never narrowed) and at-least-once
 * as in a lane: the cursors are saved after each page, and an event in flight when the
 * process dies is delivered again.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import type { PluginCursor } from "../state/cursor.ts";
import { type Clock, isAbortError, raceSignal, sleep } from "../util/abort.ts";
import { backoffDelay } from "../util/backoff.ts";
import { isRetriable } from "../util/retriable.ts";
import { findGaps } from "./backlog.ts";
import type { BacklogResolver } from "./backlog_resolver.ts";
import { type CommandKind, CommandQueue } from "./lane_commands.ts";
import { LaneReader } from "./lane_reader.ts";
import { type EngineObserver, noObserver } from "./observer.ts";
import type { Page, PageSource } from "./page_source.ts";
import type { DeliveryHost, DeliveryReport, PluginFile } from "./types.ts";

/** What a group's driver needs from the engine (the shared parts a lane gets too). */
export interface OrderedGroupOptions {
  readonly pages: PageSource;
  readonly resolver: BacklogResolver;
  readonly checkpoint: (options?: { durable?: boolean }) => Promise<void>;
  readonly startHost: (plugin: PluginFile) => Promise<DeliveryHost>;
  readonly exclude: (event: ShotGridEvent) => boolean;
  readonly clock: Clock;
  readonly fetchIntervalMs: number;
  readonly backlogTimeoutMs: number;
  readonly connRetrySleepMs: number;
  readonly batchSize: number;
  /** Daemon log (`sgevents.engine`). */
  readonly logger: Logger;
  /** A member's own log (`sgevents.plugin.<name>`). */
  readonly pluginLogger: (name: string) => Logger;
  readonly once: boolean;
  readonly signal: AbortSignal;
  readonly observer?: EngineObserver;
}

/** How a member is set up. */
export interface MemberOptions {
  readonly cursor: PluginCursor;
  /** Its `projects` setting: other projects' events are passed over. */
  readonly projects: ReadonlySet<number> | null;
  /** Its place in the processing order (lower first). */
  readonly rank: number;
}

/** One plugin of a group, driven by the group (the engine handles it as it does a Lane). */
export class GroupMember {
  /** The plugin's name. */
  readonly name: string;
  #group: OrderedGroup;
  #plugin: PluginFile;
  #options: MemberOptions;
  #host: DeliveryHost | null = null;
  #loaded: Promise<void> | null = null;
  #closed = false;
  /** Asked to stop: the group lets it go between events. */
  stopping = false;

  /**
   * @param group Its group.
   * @param plugin The plugin file.
   * @param options Cursor, projects, rank.
   */
  constructor(group: OrderedGroup, plugin: PluginFile, options: MemberOptions) {
    this.name = plugin.name;
    this.#group = group;
    this.#plugin = plugin;
    this.#options = options;
  }

  /** The loaded host, once started. */
  get host(): DeliveryHost | null {
    return this.#host;
  }

  /** The plugin file it runs. */
  get plugin(): PluginFile {
    return this.#plugin;
  }

  /** The plugin's own cursor. */
  get cursor(): PluginCursor {
    return this.#options.cursor;
  }

  /** Its place in the group's order. */
  get rank(): number {
    return this.#options.rank;
  }

  /** Whether its group's last page was short. */
  get caughtUp(): boolean {
    return this.#group.caughtUp;
  }

  /**
   * Whether the member gets `event` (its projects, and what its callbacks match).
   *
   * @param event An event.
   * @returns True to deliver it.
   */
  receives(event: ShotGridEvent): boolean {
    const projects = this.#options.projects;
    if (projects && !projects.has(event.project?.id ?? -1)) return false;
    return this.#host?.wants(event) ?? false;
  }

  /**
   * Load the plugin (once).
   *
   * @returns Resolves when loaded or failed to load.
   */
  load(): Promise<void> {
    this.#loaded ??= this.#load();
    return this.#loaded;
  }

  /**
   * Join the group's run.
   *
   * @param together Read nothing before it resolves.
   * @returns The group's run: resolves when the group has stopped.
   */
  start(together?: Promise<void>): Promise<void> {
    return this.#group.join(this, together);
  }

  /**
   * Swap in a changed file between events; a paused member resumes at its event.
   *
   * @param plugin The new version.
   */
  reload(plugin: PluginFile): void {
    this.#group.enqueue("reload", async () => {
      await this.#host?.close();
      this.#plugin = plugin;
      this.#host = null;
      await this.#load();
      this.#group.resumed(this, "its file changed");
    }).catch(() => {});
  }

  /**
   * Change the cursor between events (skip, resume...).
   *
   * @param change What to do with it.
   * @returns Resolves once applied.
   */
  change(change: (cursor: PluginCursor) => void): Promise<void> {
    return this.#group.enqueue("state", () => {
      change(this.cursor);
      this.#group.rush();
    });
  }

  /** Read the group's next page now (a webhook). */
  wake(): void {
    this.#group.wake();
  }

  /**
   * Leave the group after the event in flight. Idempotent.
   *
   * @returns Resolves once the group no longer uses it.
   */
  stop(): Promise<void> {
    this.stopping = true;
    return this.#group.release(this);
  }

  /** Close the host. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#host?.close();
  }

  async #load(): Promise<void> {
    const host = await this.#group.options.startHost(this.#plugin);
    if (this.#closed) return await host.close();
    this.#host = host;
    const { logger } = this.#group.options;
    if (host.status === "failed") {
      logger.error("{error}", { plugin: this.name, error: host.loadError });
    } else {
      logger.info("Loaded plugin {plugin} from {file} (ordered group {group})", {
        plugin: this.name,
        file: this.#plugin.file,
        group: this.#group.name,
      });
    }
  }
}

/** The driver of one group: one position, events handed to the members in order. */
export class OrderedGroup {
  /** For log lines: the members' names, or "strict". */
  readonly name: string;
  /** The engine's shared parts. */
  readonly options: OrderedGroupOptions;
  #members: GroupMember[] = [];
  #reader: LaneReader;
  #commands = new CommandQueue();
  #wake = new AbortController();
  #delivering: DeliveryHost | null = null;
  #released = new Map<GroupMember, PromiseWithResolvers<void>>();
  #run: Promise<void> | null = null;
  #nextBacklogCheck = 0;
  #finalDrain = false;

  /**
   * @param name How logs name the group.
   * @param options The engine's shared parts.
   */
  constructor(name: string, options: OrderedGroupOptions) {
    this.name = name;
    this.options = options;
    this.#reader = new LaneReader({ ...options, plugin: `group ${name}` });
  }

  /**
   * A member for `plugin` (the engine keeps it where it keeps lanes).
   *
   * @param plugin The plugin file.
   * @param options Its cursor, projects and rank.
   * @returns The member, not yet started.
   */
  member(plugin: PluginFile, options: MemberOptions): GroupMember {
    return new GroupMember(this, plugin, options);
  }

  /** Whether the last page read was short. */
  get caughtUp(): boolean {
    return this.#reader.caughtUp;
  }

  /**
   * Add a member to the run (between events), starting the run with the first.
   *
   * @param member The member.
   * @param together Read nothing before it resolves.
   * @returns The group's run.
   */
  join(member: GroupMember, together?: Promise<void>): Promise<void> {
    const joined = member.load().then(() => {
      this.#members = [...this.#members, member].sort((a, b) => a.rank - b.rank);
      this.rush();
    });
    if (this.#run) this.#interrupt();
    else this.#run = this.#loop(joined, together);
    return this.#run;
  }

  /**
   * Queue a change for between events.
   *
   * @param kind `state` (applied at stop too) or `reload`.
   * @param run The change.
   * @returns Resolves once applied.
   */
  enqueue(kind: CommandKind, run: () => void | Promise<void>): Promise<void> {
    const done = this.#commands.add(kind, run);
    this.#interrupt();
    return done;
  }

  /** Read the next page at once (after a change: the group may be behind). */
  rush(): void {
    this.#nextBacklogCheck = 0;
    this.#reader.rush();
  }

  /** Read the next page now instead of after `fetch_interval`. */
  wake(): void {
    this.#reader.wake();
    if (!this.#delivering) this.#wake.abort();
  }

  /**
   * Resolves once a stopping member is no longer used.
   *
   * @param member The member.
   * @returns Resolves when released (at once if the group never ran).
   */
  release(member: GroupMember): Promise<void> {
    if (!this.#run) return Promise.resolve();
    let waiting = this.#released.get(member);
    if (!waiting) this.#released.set(member, waiting = Promise.withResolvers<void>());
    this.#interrupt();
    return waiting.promise;
  }

  /**
   * A paused member was resumed: log it and read at once.
   *
   * @param member The member.
   * @param why The reason.
   */
  resumed(member: GroupMember, why: string): void {
    const paused = member.cursor.resume();
    if (!paused) return;
    this.rush();
    this.options.logger.info("Plugin {plugin} resumes at event {id}: {why}", {
      plugin: member.name,
      id: paused.eventId,
      why,
    });
  }

  #interrupt(): void {
    this.#wake.abort();
    this.#delivering?.requestStop();
  }

  #waitSignal(): AbortSignal {
    return AbortSignal.any([this.options.signal, this.#wake.signal]);
  }

  #idle(): Promise<void> {
    const signal = this.#waitSignal();
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }

  /** Let stopping members go; true when none is left. */
  #dropStopped(): boolean {
    for (const member of this.#members.filter((m) => m.stopping)) {
      this.#members = this.#members.filter((m) => m !== member);
      this.#released.get(member)?.resolve();
    }
    return this.#members.length === 0;
  }

  async #loop(joined: Promise<void>, together?: Promise<void>): Promise<void> {
    const { signal, logger } = this.options;
    await joined;
    if (together) await raceSignal(together, this.#waitSignal()).catch(() => {});
    let failures = 0;
    try {
      while (!signal.aborted) {
        if (this.#wake.signal.aborted) this.#wake = new AbortController();
        try {
          if (await this.#step() === "done") break;
          failures = 0;
        } catch (error) {
          if (isAbortError(error) || signal.aborted || this.#wake.signal.aborted) continue;
          failures++;
          const wait = isRetriable(error) ? backoffDelay(failures) : this.options.connRetrySleepMs;
          logger.error(
            "Ordered group {group}'s delivery loop failed; retrying in {wait} ms: {error}",
            {
              group: this.name,
              wait,
              error: error instanceof Error ? error.stack ?? error.message : String(error),
            },
          );
          await sleep(wait, this.#waitSignal()).catch(() => {});
        }
      }
      await this.#commands.run(new Set(["state"])).catch(() => {});
    } finally {
      this.#run = null;
      for (const waiting of this.#released.values()) waiting.resolve();
    }
  }

  async #step(): Promise<"done" | "more"> {
    await this.#commands.run(new Set(["state", "reload"]));
    if (this.#commands.pending) return "more";
    if (this.#dropStopped()) return "done";
    // A member that failed to load is not part of the order (its error is logged).
    const members = this.#members.filter((m) => m.host?.status === "ready");
    const holding = members.find((m) => m.cursor.status !== "active");
    if (members.length === 0 || holding) {
      if (this.options.once) return "done";
      await this.#idle();
      return "more";
    }
    const { clock, fetchIntervalMs, checkpoint } = this.options;
    if (members.some((m) => m.cursor.backlogSize > 0) && clock() >= this.#nextBacklogCheck) {
      this.#nextBacklogCheck = clock() + fetchIntervalMs;
      await this.#drainBacklog(members);
      await checkpoint();
      return "more";
    }
    const position = Math.min(...members.map((m) => m.cursor.position));
    const page = await this.#reader.next(position, this.#waitSignal());
    await this.#deliverPage(members, page);
    await checkpoint();
    this.#reader.handled(page);
    const done = members.every((m) => m.cursor.position >= page.lastId);
    if (!this.options.once || !this.caughtUp || !done) return "more";
    if (members.some((m) => m.cursor.backlogSize > 0) && !this.#finalDrain) {
      this.#finalDrain = true;
      this.#nextBacklogCheck = 0;
      return "more";
    }
    return "done";
  }

  async #deliverPage(members: readonly GroupMember[], page: Page): Promise<void> {
    for (const event of page.deliverable) {
      for (let i = 0; i < members.length; i++) {
        const member = members[i]!;
        if (member.cursor.position >= event.id || !member.receives(event)) continue;
        const report = await this.#deliver(member, event);
        this.#recordSkipped(member, report);
        if (report.done >= 1) {
          this.#count(member, event);
          continue;
        }
        // Cut short here: the members before it have finished this event, the rest not.
        members.forEach((m, j) => this.#advance(m, j < i ? event.id : event.id - 1, page));
        if (report.paused) this.#pause(member, event.id, report, false);
        return;
      }
      if (this.#commands.pending || this.#members.some((m) => m.stopping)) {
        // Between two events: let the change in.
        members.forEach((m) => this.#advance(m, event.id, page));
        return;
      }
    }
    members.forEach((m) => this.#advance(m, page.lastId, page));
  }

  async #drainBacklog(members: readonly GroupMember[]): Promise<void> {
    const { resolver, exclude, batchSize, logger } = this.options;
    const ids = [...new Set(members.flatMap((m) => m.cursor.backlog))];
    const found = await resolver.resolve(ids, this.#waitSignal());
    const events = found.filter((event) => !exclude(event)).slice(0, batchSize);
    if (found.length > events.length) this.#nextBacklogCheck = 0;
    for (const event of found) {
      if (exclude(event)) { for (const m of members) m.cursor.resolve(event.id); }
    }
    for (const event of events) {
      for (const member of members) {
        if (!member.cursor.awaits(event.id)) continue;
        if (!member.receives(event)) {
          member.cursor.resolve(event.id);
          continue;
        }
        const report = await this.#deliver(member, event);
        this.#recordSkipped(member, report);
        if (report.done < 1) {
          if (report.paused) this.#pause(member, event.id, report, true);
          return;
        }
        member.cursor.resolve(event.id);
        this.#count(member, event);
        logger.info("Processed id {id} from backlog", { plugin: member.name, id: event.id });
      }
    }
    const seen = new Set(found.map((event) => event.id));
    for (const member of members) {
      for (const id of member.cursor.expire(seen)) {
        logger.info("Timeout elapsed on backlog event id {id}", { plugin: member.name, id });
      }
    }
  }

  /** One event to one member, marked in flight (saved) while it runs. */
  async #deliver(member: GroupMember, event: ShotGridEvent): Promise<DeliveryReport> {
    const host = member.host!;
    member.cursor.beginDelivery(event.id, event.id);
    await this.options.checkpoint({ durable: false });
    this.#delivering = host;
    try {
      const started = performance.now();
      const report = await host.deliver([event], { signal: this.options.signal });
      this.#observer.deliverySeconds(
        member.name,
        (performance.now() - started) / 1000,
        report.done,
      );
      return report;
    } finally {
      this.#delivering = null;
      member.cursor.endDelivery();
    }
  }

  #advance(member: GroupMember, to: number, page: Page): void {
    const cursor = member.cursor;
    const from = cursor.position;
    if (to <= from) return;
    if (page.narrowed) return cursor.advance(to);
    const { logger, backlogTimeoutMs } = this.options;
    const gaps = findGaps(from, to, page.events, { now: page.fetchedAt, backlogTimeoutMs });
    for (const id of gaps.waiting) {
      logger.info("Adding event id {id} to backlog", { plugin: member.name, id });
    }
    for (const id of gaps.neverHappened) {
      logger.info("Event {id} never happened - ignoring", { plugin: member.name, id });
    }
    cursor.advance(to, gaps);
  }

  #count(member: GroupMember, event: ShotGridEvent): void {
    member.cursor.counted(1);
    this.#observer.delivered(member.name, [event]);
  }

  #recordSkipped(member: GroupMember, report: DeliveryReport): void {
    const failures = report.skipped.length + (report.paused ? 1 : 0);
    if (failures > 0) this.#observer.callbackFailed(member.name, failures);
    member.cursor.recordSkipped(report.skipped);
    for (const failure of report.skipped) {
      this.options.pluginLogger(member.name).error(
        "Callback {callback} failed on event {id} after {attempts} attempt(s), skipped (stopOnError is false): {error}",
        { ...failure, plugin: member.name },
      );
    }
  }

  #pause(member: GroupMember, eventId: number, report: DeliveryReport, fromBacklog: boolean): void {
    const failure = report.paused!;
    member.cursor.pause({
      eventId,
      callback: failure.callback,
      error: failure.error,
      fromBacklog,
      hash: member.plugin.hash,
    });
    this.options.pluginLogger(member.name).error(
      "Plugin {plugin} paused at event {id}: callback {callback} failed after {attempts} attempt(s): {error}; it holds back its ordered group ({group}) until resumed or skipped\n{stack}",
      {
        ...failure,
        id: eventId,
        plugin: member.name,
        group: this.name,
        stack: failure.stack ?? "",
      },
    );
  }

  get #observer(): EngineObserver {
    return this.options.observer ?? noObserver;
  }
}

/**
 * Which group each plugin belongs to, from `plugins.order` and `plugins.ordered_groups`.
 *
 * @param config The two settings.
 * @returns A function from plugin name to group key (null: its own lane).
 */
export function groupOf(
  config: {
    readonly order?: "per_plugin" | "strict";
    readonly orderedGroups?: readonly (readonly string[])[];
  },
): (name: string) => string | null {
  if (config.order === "strict") return () => "strict";
  const keys = new Map<string, string>();
  for (const group of config.orderedGroups ?? []) {
    for (const name of group) keys.set(name, group.join("+"));
  }
  return (name) => keys.get(name) ?? null;
}
