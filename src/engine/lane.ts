/**
 * One plugin's way through the event log: it reads pages after its cursor (shared with the
 * other lanes at the head, see page_source.ts and lane_reader.ts), hands them to its
 * plugin's host, and tells its {@link PluginCursor} what was finished: the cursor moves
 * only over events the plugin has finished (at-least-once; exactly-once across clean
 * stops, since a stop waits for the event in flight and saves). Gaps go to the backlog;
 * ids that commit late are delivered once, when they commit, and the cursor never moves
 * back. Lanes never wait for each other: a slow, failing or paused plugin delays only
 * itself.
 *
 * Every delivery is marked in flight (and saved) before it starts, so a plugin that takes
 * the whole process down is found at the next start: its batch is then delivered one
 * event at a time, one probing lane at a time (see {@link ProbeGate}), and a second death
 * on one event pauses the plugin there (see PluginCursor.recoverFromCrash).
 *
 * A replay (`sgevents replay`, `plugins retry-failed`) is delivered by the same lane, so
 * the plugin never runs two deliveries at once: one replay batch between two of its normal
 * batches, and replay batches back to back while the lane waits for `fetch_interval` at
 * the head. The replay's own position moves as its batches finish; the cursor does not.
 * Replay batches are marked in flight too, so a death during one probes it the same way.
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
import { CommandQueue } from "./lane_commands.ts";
import { LaneReader, type LaneReaderOptions } from "./lane_reader.ts";
import { type EngineObserver, noObserver } from "./observer.ts";
import type { Page } from "./page_source.ts";
import type { ReplayReader } from "./replay_reader.ts";
import type { DeliveryHost, DeliveryReport, FailedEvent, PluginFile } from "./types.ts";

/** Lets one lane at a time deliver events one by one after a crash (so a death is its own). */
export interface ProbeGate {
  /** Resolves once this lane may probe; dispose the handle to let the next one. */
  acquire(signal: AbortSignal): Promise<Disposable>;
}

/** What a lane needs from the engine. */
export interface LaneOptions extends Omit<LaneReaderOptions, "plugin" | "logger"> {
  readonly cursor: PluginCursor;
  readonly resolver: BacklogResolver;
  /** Reads replays' events from the site. */
  readonly replays: ReplayReader;
  /** Saves the lane's progress (the state store's coalesced checkpoint). */
  readonly checkpoint: (options?: { durable?: boolean }) => Promise<void>;
  readonly startHost: (plugin: PluginFile) => Promise<DeliveryHost>;
  readonly exclude: (event: ShotGridEvent) => boolean;
  /** The plugin's `projects` setting: other projects' events are passed over. */
  readonly projects?: ReadonlySet<number> | null;
  readonly probe: ProbeGate;
  readonly clock: Clock;
  readonly backlogTimeoutMs: number;
  /** How long a failed step waits at most before it is tried again. */
  readonly connRetrySleepMs: number;
  /** Daemon log (`sgevents.engine`). */
  readonly logger: Logger;
  /** The plugin's own log (`sgevents.plugin.<name>`): its errors reach its recipients. */
  readonly pluginLogger: Logger;
  /** Stop once caught up with the head of the log. */
  readonly once: boolean;
  /** Aborts every read when the daemon stops. */
  readonly signal: AbortSignal;
  /** Told of deliveries and failures (the HTTP server's metrics). */
  readonly observer?: EngineObserver;
}

/** One plugin's delivery loop. */
export class Lane {
  /** The plugin's name. */
  readonly name: string;
  #plugin: PluginFile;
  #options: LaneOptions;
  #cursor: PluginCursor;
  #reader: LaneReader;
  #host: DeliveryHost | null = null;
  #commands = new CommandQueue();
  #wake = new AbortController();
  #delivering = false;
  #stopping = false;
  #closed = false;
  #finalDrain = false;
  /** A replay batch may go before the next normal batch. */
  #replayTurn = true;
  #nextBacklogCheck = 0;
  /** A page's progress awaits the next in-flight mark, to be saved durably with it. */
  #owesDurableSave = false;
  #run: Promise<void> | null = null;
  #loaded: Promise<void> | null = null;

  /**
   * @param plugin The plugin file.
   * @param options Shared engine parts and the plugin's cursor.
   */
  constructor(plugin: PluginFile, options: LaneOptions) {
    this.name = plugin.name;
    this.#plugin = plugin;
    this.#options = options;
    this.#cursor = options.cursor;
    this.#reader = new LaneReader({ ...options, plugin: plugin.name });
  }

  /** The loaded host, once started. */
  get host(): DeliveryHost | null {
    return this.#host;
  }

  /** The plugin file the lane runs. */
  get plugin(): PluginFile {
    return this.#plugin;
  }

  /** The plugin's cursor. */
  get cursor(): PluginCursor {
    return this.#cursor;
  }

  /** Whether the last page read was short (the lane is at the head of the log). */
  get caughtUp(): boolean {
    return this.#reader.caughtUp;
  }

  /**
   * Load the plugin (once; `start()` does it too).
   *
   * @returns Resolves when the host is loaded or has failed to load.
   */
  load(): Promise<void> {
    this.#loaded ??= this.#load();
    return this.#loaded;
  }

  /**
   * Start the loop.
   *
   * @param together Read nothing before it resolves (the plugins found with this one load).
   * @returns Resolves when the lane has stopped (stop(), or caught up in `once` mode).
   */
  start(together?: Promise<void>): Promise<void> {
    this.#run ??= this.#loop(together);
    return this.#run;
  }

  /**
   * Swap in a changed plugin file after the event in flight; a paused plugin resumes at
   * the event it failed on.
   *
   * @param plugin The new version.
   */
  reload(plugin: PluginFile): void {
    this.#enqueue("reload", async () => {
      await this.#host?.close();
      this.#plugin = plugin;
      this.#host = null;
      await this.#load();
      this.#resumed(this.#cursor.resume(), "its file changed");
    }).catch(() => {});
  }

  /**
   * Change the plugin's cursor between batches (skip, resume...), through its cursor.
   *
   * @param change What to do with the cursor.
   * @returns Resolves once applied (before the next batch, or at stop).
   */
  change(change: (cursor: PluginCursor) => void): Promise<void> {
    return this.#enqueue("state", () => {
      change(this.#cursor);
      this.#nextBacklogCheck = 0;
      this.#reader.rush();
    });
  }

  /**
   * Read the next page now instead of after `fetch_interval` (a webhook said something
   * changed). A delivery under way is not interrupted.
   */
  wake(): void {
    this.#reader.wake();
    if (!this.#delivering) this.#wake.abort();
  }

  /**
   * Stop after the event in flight. Idempotent.
   *
   * @returns Resolves when the loop has ended.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#interrupt();
    // A lane that failed (its plugin could not even be started) has stopped too.
    await this.#run?.catch(() => {});
  }

  /** Close the host (terminates its worker), now or as soon as a load under way ends. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#host?.close();
  }

  #enqueue(kind: "state" | "reload", run: () => void | Promise<void>): Promise<void> {
    const done = this.#commands.add(kind, run);
    this.#interrupt();
    return done;
  }

  #interrupt(): void {
    this.#wake.abort();
    if (this.#delivering) this.#host?.requestStop();
  }

  #resumed(paused: ReturnType<PluginCursor["resume"]>, why: string): void {
    if (!paused) return;
    this.#nextBacklogCheck = 0;
    this.#reader.rush();
    this.#options.logger.info("Plugin {plugin} resumes at event {id}: {why}", {
      plugin: this.name,
      id: paused.eventId,
      why,
    });
  }

  async #load(): Promise<void> {
    const host = await this.#options.startHost(this.#plugin);
    if (this.#closed) {
      // The daemon gave up waiting for this load; do not leave its Worker running.
      await host.close();
      return;
    }
    this.#host = host;
    this.#cursor.quarantined(host.quarantined ?? null);
    if (host.status === "failed") {
      // The load error already names the plugin and says "Cannot load plugin ...".
      this.#options.logger.error("{error}", { plugin: this.name, error: host.loadError });
    } else {
      this.#options.logger.info("Loaded plugin {plugin} from {file}", {
        plugin: this.name,
        file: this.#plugin.file,
      });
    }
  }

  async #loop(together?: Promise<void>): Promise<void> {
    const { signal, logger } = this.#options;
    await this.load();
    if (together) await raceSignal(together, this.#waitSignal()).catch(() => {});
    // Fixed while the daemon was down: the file differs from the one that failed.
    const pausedHash = this.#cursor.paused?.hash;
    if (this.#cursor.status === "paused" && pausedHash && pausedHash !== this.#plugin.hash) {
      this.#resumed(this.#cursor.resume(), "its file changed while the daemon was stopped");
    }
    let failures = 0;
    while (!this.#stopping && !signal.aborted) {
      if (this.#wake.signal.aborted) this.#wake = new AbortController();
      try {
        if (await this.#step() === "done") break;
        failures = 0;
      } catch (error) {
        // A wake-up (command, reload, stop) interrupts a wait: not a failure.
        if (isAbortError(error) || signal.aborted || this.#wake.signal.aborted) continue;
        // Anything else (a state write failing on a full disk...) must not end the lane
        // silently: log it and try the step again, soon if it may pass, slowly if not.
        failures++;
        const retriable = isRetriable(error);
        const wait = retriable ? backoffDelay(failures) : this.#options.connRetrySleepMs;
        logger.error("Plugin {plugin}'s delivery loop failed; retrying in {wait} ms: {error}", {
          plugin: this.name,
          wait,
          error: error instanceof Error ? error.stack ?? error.message : String(error),
        });
        await sleep(wait, this.#waitSignal()).catch(() => {});
      }
    }
    // Skip and resume requests already acknowledged still apply; the engine saves after.
    await this.#commands.run(new Set(["state"])).catch(() => {});
  }

  async #step(): Promise<"done" | "more"> {
    const cursor = this.#cursor;
    await this.#commands.run(new Set(["state", "reload"]));
    if (this.#commands.pending) return "more";
    if (this.#stopping) return "done";
    const host = this.#host;
    if (!host || host.status === "failed" || cursor.status !== "active") {
      if (this.#options.once) return "done";
      await this.#idle();
      return "more";
    }
    if (this.#backlogDue()) {
      this.#nextBacklogCheck = this.#options.clock() + this.#options.fetchIntervalMs;
      await this.#drainBacklog(host);
      await this.#options.checkpoint();
      return "more";
    }
    if (cursor.replay && (this.#replayTurn || !this.#reader.due)) {
      this.#replayTurn = false;
      await this.#deliverReplay(host);
      await this.#options.checkpoint();
      return "more";
    }
    this.#replayTurn = true;
    let page = await this.#reader.next(cursor.position, this.#waitSignal());
    for (;;) {
      await this.#deliverPage(host, page);
      this.#reader.handled(page);
      const next = this.#mayChain(host) ? await this.#readyPage(cursor.position) : null;
      if (!next) break;
      // The next page is here already, so its in-flight mark is written at once: that one
      // write (made durable) carries this page's progress too, instead of a save of its own.
      this.#owesDurableSave = true;
      page = next;
    }
    await this.#options.checkpoint();
    this.#owesDurableSave = false;
    if (!this.#options.once || !this.caughtUp || cursor.position !== page.lastId) return "more";
    // Caught up in `once` mode: one last look for waiting ids that have committed meanwhile.
    if (cursor.backlogSize > 0 && !this.#finalDrain) {
      this.#finalDrain = true;
      this.#nextBacklogCheck = 0;
      return "more";
    }
    return cursor.replay ? "more" : "done";
  }

  /**
   * Whether the lane would go straight on to its next page (nothing else is due first), so
   * that page's in-flight mark may carry this page's save.
   */
  #mayChain(host: DeliveryHost): boolean {
    const cursor = this.#cursor;
    return !this.#stopping && !this.#options.signal.aborted && !this.#commands.pending &&
      this.#host === host && host.status !== "failed" && cursor.status === "active" &&
      !this.caughtUp && cursor.replay === null && !this.#backlogDue();
  }

  /** Whether the backlog is to be looked at before the next page. */
  #backlogDue(): boolean {
    return this.#cursor.backlogSize > 0 && this.#options.clock() >= this.#nextBacklogCheck;
  }

  /**
   * The next page if it has been read already (prefetched, read ahead or read for another
   * lane), else null: it is then asked for again, and waited for, after this page's save.
   */
  async #readyPage(position: number): Promise<Page | null> {
    const pending = this.#reader.next(position, this.#waitSignal());
    pending.catch(() => {});
    // A page already read resolves within microtasks; one still to read, after a macrotask.
    const later = new Promise<null>((resolve) => setTimeout(() => resolve(null), 0));
    return await Promise.race([pending, later]).catch(() => null);
  }

  /** Events less those of projects the plugin is not limited to. */
  #mine(events: readonly ShotGridEvent[]): readonly ShotGridEvent[] {
    const projects = this.#options.projects;
    if (!projects) return events;
    return events.filter((event) => projects.has(event.project?.id ?? -1));
  }

  #waitSignal(): AbortSignal {
    return AbortSignal.any([this.#options.signal, this.#wake.signal]);
  }

  #idle(): Promise<void> {
    const signal = this.#waitSignal();
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }

  /**
   * Hand events to the host, marked in flight (saved) while it runs. After a crash, the
   * events up to the probe bound go one at a time, one probing lane at a time.
   */
  async #deliver(host: DeliveryHost, events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
    const probeUpTo = this.#cursor.probeUpTo;
    if (probeUpTo === null || events[0]!.id > probeUpTo) {
      return await this.#deliverMarked(host, events);
    }
    using _gate = await this.#options.probe.acquire(this.#waitSignal());
    const skipped: FailedEvent[] = [];
    let done = 0;
    for (const event of events) {
      if (event.id > probeUpTo) break;
      const report = await this.#deliverMarked(host, [event]);
      skipped.push(...report.skipped);
      if (report.done < 1) return { ...report, done, skipped };
      done++;
    }
    if (done === events.length) return { done, skipped, paused: null, stopped: false };
    const rest = await this.#deliverMarked(host, events.slice(done));
    return { ...rest, done: done + rest.done, skipped: [...skipped, ...rest.skipped] };
  }

  async #deliverMarked(
    host: DeliveryHost,
    events: readonly ShotGridEvent[],
  ): Promise<DeliveryReport> {
    // A command that arrived before this delivery still cuts it short.
    if (this.#stopping || this.#commands.pending) {
      return { done: 0, skipped: [], paused: null, stopped: true };
    }
    this.#cursor.beginDelivery(events[0]!.id, events[events.length - 1]!.id);
    // Not fsynced: the mark only has to outlive the process, not the machine; unless it
    // also carries the previous page's progress (see #step).
    await this.#options.checkpoint({ durable: this.#owesDurableSave });
    this.#owesDurableSave = false;
    this.#delivering = true;
    try {
      const started = performance.now();
      const report = await host.deliver(events, { signal: this.#options.signal });
      this.#cursor.quarantined(host.quarantined ?? null);
      const seconds = (performance.now() - started) / 1000;
      this.#observer.deliverySeconds(this.name, seconds, report.done);
      return report;
    } finally {
      this.#delivering = false;
      this.#cursor.endDelivery();
    }
  }

  async #deliverPage(host: DeliveryHost, page: Page): Promise<void> {
    const cursor = this.#cursor;
    const from = cursor.position;
    const events = this.#mine(page.deliverable);
    const report = events.length > 0 ? await this.#deliver(host, events) : emptyReport;
    const done = Math.min(report.done, events.length);
    const to = done >= events.length ? page.lastId : events[done]!.id - 1;
    // A narrowed page lacks the events of other types: its missing ids are not gaps.
    if (to > from) cursor.advance(to, page.narrowed ? undefined : this.#gaps(from, to, page));
    this.#count(host, events, done);
    this.#recordFailures(report, events[done], false);
  }

  /** One batch of the replay under way, from its own position; the cursor stays. */
  async #deliverReplay(host: DeliveryHost): Promise<void> {
    const cursor = this.#cursor;
    const replay = cursor.replay!;
    const { logger, exclude } = this.#options;
    if (replay.next === replay.from) {
      logger.info("Plugin {plugin}: replaying {what} {from} to {to}", {
        plugin: this.name,
        what: replay.ids ? "failed events" : "events",
        from: replay.from,
        to: replay.to,
      });
    }
    const batch = await this.#options.replays.next(replay, this.#waitSignal());
    const events = this.#mine(batch.events.filter((event) => !exclude(event)));
    const report = events.length > 0 ? await this.#deliver(host, events) : emptyReport;
    const done = Math.min(report.done, events.length);
    const next = done >= events.length ? batch.scannedTo + 1 : events[done]!.id;
    // Passed: delivered (a new failure is recorded again below), or not on the site.
    const passed = (replay.ids ?? batch.events.map((event) => event.id))
      .filter((id) => id >= replay.next && id < next);
    if (next > replay.next && cursor.replayed(next, passed)) {
      logger.info("Plugin {plugin}: replay of {from} to {to} done", {
        plugin: this.name,
        from: replay.from,
        to: replay.to,
      });
    }
    this.#count(host, events, done);
    this.#recordFailures(report, events[done], false, true);
  }

  async #drainBacklog(host: DeliveryHost): Promise<void> {
    const cursor = this.#cursor;
    const { logger, exclude, resolver, batchSize } = this.#options;
    const found = await resolver.resolve(cursor.backlog, this.#waitSignal());
    const mine = new Set(this.#mine(found.filter((event) => !exclude(event))));
    for (const event of found) if (!mine.has(event)) cursor.resolve(event.id);
    const waiting = found.filter((event) => mine.has(event) && cursor.awaits(event.id));
    // At most one batch at a time, so a hard kill repeats at most one batch here too.
    const events = waiting.slice(0, batchSize);
    if (waiting.length > events.length) this.#nextBacklogCheck = 0;
    if (events.length > 0) {
      const report = await this.#deliver(host, events);
      const done = Math.min(report.done, events.length);
      for (const event of events.slice(0, done)) {
        cursor.resolve(event.id);
        logger.info("Processed id {id} from backlog", { plugin: this.name, id: event.id });
      }
      this.#count(host, events, done);
      this.#recordFailures(report, events[done], true);
      if (report.stopped || report.paused) return;
    }
    for (const id of cursor.expire(new Set(found.map((event) => event.id)))) {
      logger.info("Timeout elapsed on backlog event id {id}", { plugin: this.name, id });
    }
  }

  /** The gaps of a finished whole-page range, logged; those worth waiting for returned. */
  #gaps(from: number, to: number, page: Page): { waiting: number[] } {
    const { logger, backlogTimeoutMs } = this.#options;
    // A gap's age is judged when the page was read: a page read a while ago (prefetched,
    // or shared with faster lanes) must not turn a gap that has since filled into
    // "never happened".
    const gaps = findGaps(from, to, page.events, { now: page.fetchedAt, backlogTimeoutMs });
    for (const id of gaps.waiting) {
      logger.info("Adding event id {id} to backlog", { plugin: this.name, id });
    }
    for (const id of gaps.neverHappened) {
      logger.info("Event {id} never happened - ignoring", { plugin: this.name, id });
    }
    for (const [first, last] of gaps.skippedRanges) {
      logger.warn(
        "Event ids {first} to {last} are missing ({count} ids, more than a transaction leaves); not waiting for them",
        { plugin: this.name, first, last, count: last - first + 1 },
      );
    }
    return gaps;
  }

  #count(host: DeliveryHost, events: readonly ShotGridEvent[], done: number): void {
    const wanted = events.slice(0, done).filter((event) => host.wants(event));
    this.#cursor.counted(wanted.length);
    if (wanted.length > 0) this.#observer.delivered(this.name, wanted);
  }

  get #observer(): EngineObserver {
    return this.#options.observer ?? noObserver;
  }

  #recordFailures(
    report: DeliveryReport,
    next: ShotGridEvent | undefined,
    fromBacklog: boolean,
    inReplay = false,
  ): void {
    const { pluginLogger } = this.#options;
    const failures = report.skipped.length + (report.paused ? 1 : 0);
    if (failures > 0) this.#observer.callbackFailed(this.name, failures);
    this.#cursor.recordSkipped(report.skipped);
    for (const failure of report.skipped) {
      pluginLogger.error(
        "Callback {callback} failed on event {id} after {attempts} attempt(s), skipped (stopOnError is false): {error}",
        { ...failureProps(failure), plugin: this.name },
      );
    }
    const failure = report.paused;
    if (!failure) return;
    const eventId = next?.id ?? failure.id;
    this.#cursor.pause({
      eventId,
      callback: failure.callback,
      error: failure.error,
      fromBacklog,
      hash: this.#plugin.hash,
      ...(inReplay ? { inReplay } : {}),
    });
    pluginLogger.error(
      "Plugin {plugin} paused at event {id}: callback {callback} failed after {attempts} attempt(s): {error}\n{stack}",
      { ...failureProps(failure), id: eventId, plugin: this.name },
    );
  }
}

const emptyReport: DeliveryReport = { done: 0, skipped: [], paused: null, stopped: false };

function failureProps(failure: FailedEvent): Record<string, unknown> {
  return {
    callback: failure.callback,
    id: failure.id,
    attempts: failure.attempts,
    error: failure.error,
    stack: failure.stack ?? "",
  };
}
