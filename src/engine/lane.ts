/**
 * One plugin's way through the event log: its cursor, its backlog, its host.
 *
 * A lane reads pages after its cursor (shared with the other lanes at the head, see
 * page_source.ts), hands them to its plugin, and moves its cursor only over events the
 * plugin has finished (at-least-once; exactly-once across clean stops, since a stop
 * waits for the event in flight and saves). Gaps go to its backlog; ids that commit
 * late are delivered once, when they commit, and the cursor never moves back.
 * Lanes never wait for each other: a slow, failing or paused plugin delays only itself.
 * A lane far behind reads only the events the plugins want, up to the settled horizon
 * (see narrowing.ts).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { ShotGridEvent } from "../shotgrid/types.ts";
import { type Clock, isAbortError, raceSignal, sleep } from "../util/abort.ts";
import { backoffDelay } from "../util/backoff.ts";
import { maxFailedRecords, type PluginState } from "../state/state_file.ts";
import { findGaps } from "./backlog.ts";
import type { BacklogResolver } from "./backlog_resolver.ts";
import { type EngineObserver, noObserver } from "./observer.ts";
import { type Narrowing, narrowSpan, type SettledHorizon } from "./narrowing.ts";
import type { Page, PageSource } from "./page_source.ts";
import type { DeliveryHost, DeliveryReport, FailedEvent, PluginFileInfo } from "./types.ts";

/** What a lane needs from the engine. */
export interface LaneOptions {
  readonly state: PluginState;
  readonly pages: PageSource;
  readonly resolver: BacklogResolver;
  /** Makes the lane's progress durable (the state store's coalesced checkpoint). */
  readonly checkpoint: () => Promise<void>;
  readonly startHost: (plugin: PluginFileInfo) => Promise<DeliveryHost>;
  readonly exclude: (event: ShotGridEvent) => boolean;
  /** The plugin's `projects` setting: other projects' events are passed over. */
  readonly projects?: ReadonlySet<number> | null;
  /** What catch-up reads may be narrowed to now (see narrowing.ts); null: read everything. */
  readonly narrowing?: () => Narrowing | null;
  /** Where narrowed reads must stop; without it reads are never narrowed. */
  readonly horizon?: SettledHorizon | null;
  readonly clock: Clock;
  readonly fetchIntervalMs: number;
  readonly backlogTimeoutMs: number;
  /** `max_event_batch_size`: the most events handed over at once. */
  readonly batchSize: number;
  /** Daemon log (`sgevents.engine`). */
  readonly logger: Logger;
  /** The plugin's own log (`sgevents.plugin.<name>`): its errors reach its recipients. */
  readonly pluginLogger: Logger;
  /** Stop once caught up with the head of the log. */
  readonly once: boolean;
  /** Aborts every read when the daemon stops. */
  readonly signal: AbortSignal;
  /** Told of deliveries and failures (metrics, live tail). */
  readonly observer?: EngineObserver;
}

/** A change applied between batches; `state` changes are applied even when stopping. */
interface Command {
  readonly kind: "state" | "reload";
  readonly run: () => void | Promise<void>;
  readonly done: PromiseWithResolvers<void>;
}

/** One plugin's delivery loop. */
export class Lane {
  /** The plugin's name. */
  readonly name: string;
  #plugin: PluginFileInfo;
  #options: LaneOptions;
  #host: DeliveryHost | null = null;
  #commands: Command[] = [];
  #wake = new AbortController();
  #delivering = false;
  #stopping = false;
  #closed = false;
  #finalDrain = false;
  #caughtUp = false;
  /** Behind the head, as far as the lane knows: worth asking whether to read narrowed. */
  #behind = true;
  #notBefore = 0;
  /** When wake() was last called (epoch ms): a page read before it is read again at once. */
  #wokenAt = 0;
  /** Narrowed reads failed: whole pages until then (epoch ms). */
  #narrowAfter = 0;
  #nextBacklogCheck = 0;
  #run: Promise<void> | null = null;
  #loaded: Promise<void> | null = null;

  /**
   * @param plugin The plugin file.
   * @param options Shared engine parts.
   */
  constructor(plugin: PluginFileInfo, options: LaneOptions) {
    this.name = plugin.name;
    this.#plugin = plugin;
    this.#options = options;
  }

  /** The loaded host, once started. */
  get host(): DeliveryHost | null {
    return this.#host;
  }

  /** The plugin file the lane runs. */
  get plugin(): PluginFileInfo {
    return this.#plugin;
  }

  /** Whether the last page read was short (the lane is at the head of the log). */
  get caughtUp(): boolean {
    return this.#caughtUp;
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
  reload(plugin: PluginFileInfo): void {
    this.#enqueue("reload", async () => {
      await this.#host?.close();
      this.#plugin = plugin;
      this.#host = null;
      await this.#load();
      if (this.#options.state.status === "paused") this.#resume("its file changed");
    }).catch(() => {});
  }

  /**
   * Resume a paused plugin at the event it failed on.
   *
   * @returns Resolves once applied (before the next batch, or at stop).
   */
  resume(): Promise<void> {
    return this.#enqueue("state", () => this.#resume("resume was requested"));
  }

  /**
   * Drop the backlog and move the cursor (the supported way to skip accrued events).
   *
   * @param to The new cursor: the next event delivered is the first after it.
   * @returns Resolves once applied (before the next batch, or at stop).
   */
  skip(to: number): Promise<void> {
    return this.#enqueue("state", () => {
      const state = this.#options.state;
      this.#options.logger.warn(
        "Plugin {plugin}: skipping from id {from} to {to}, dropping {backlog} backlog id(s)",
        { plugin: this.name, from: state.cursor, to, backlog: state.backlog.size },
      );
      state.backlog.clear();
      state.cursor = to;
      state.status = "active";
      state.paused = null;
      this.#notBefore = 0;
      this.#behind = true;
    });
  }

  /**
   * Read the next page now instead of after `fetch_interval` (a webhook said something
   * changed). A delivery under way is not interrupted.
   */
  wake(): void {
    this.#wokenAt = this.#options.clock();
    // Only a read started after the wake-up will do (one in the same ms may predate it).
    this.#notBefore = Math.min(this.#notBefore, this.#wokenAt + 1);
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

  #enqueue(kind: Command["kind"], run: Command["run"]): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.#commands.push({ kind, run, done });
    this.#interrupt();
    return done.promise;
  }

  async #runCommands(kinds: ReadonlySet<Command["kind"]>): Promise<void> {
    for (const command of this.#commands.splice(0)) {
      if (!kinds.has(command.kind)) {
        command.done.reject(new DOMException("The plugin stopped first", "AbortError"));
        continue;
      }
      try {
        await command.run();
        command.done.resolve();
      } catch (error) {
        command.done.reject(error);
        throw error;
      }
    }
  }

  #interrupt(): void {
    this.#wake.abort();
    if (this.#delivering) this.#host?.requestStop();
  }

  #resume(why: string): void {
    const state = this.#options.state;
    if (state.status !== "paused") return;
    const paused = state.paused;
    if (paused?.fromBacklog && state.backlog.has(paused.eventId)) {
      state.backlog.set(paused.eventId, this.#options.clock() + this.#options.backlogTimeoutMs);
      this.#nextBacklogCheck = 0;
    }
    state.status = "active";
    state.paused = null;
    this.#behind = true;
    // Not after fetch_interval: the page it paused in is read again now (or served cached).
    this.#notBefore = 0;
    this.#options.logger.info("Plugin {plugin} resumes at event {id}: {why}", {
      plugin: this.name,
      id: paused?.eventId ?? null,
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
    if (host.status === "failed") {
      this.#options.state.lastError = host.loadError;
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
    const { signal, logger, state } = this.#options;
    await this.load();
    if (together) await raceSignal(together, this.#waitSignal()).catch(() => {});
    // Fixed while the daemon was down: the file differs from the one that failed.
    const pausedHash = state.paused?.hash;
    if (state.status === "paused" && pausedHash && pausedHash !== this.#plugin.hash) {
      this.#resume("its file changed while the daemon was stopped");
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
        // silently: log it, wait, and try the step again.
        failures++;
        const wait = backoffDelay(failures);
        logger.error("Plugin {plugin}'s delivery loop failed; retrying in {wait} ms: {error}", {
          plugin: this.name,
          wait,
          error: error instanceof Error ? error.stack ?? error.message : String(error),
        });
        await sleep(wait, this.#waitSignal()).catch(() => {});
      }
    }
    // Skip and resume requests already acknowledged still apply; the engine saves after.
    await this.#runCommands(new Set(["state"])).catch(() => {});
  }

  async #step(): Promise<"done" | "more"> {
    const { state } = this.#options;
    await this.#runCommands(new Set(["state", "reload"]));
    if (this.#commands.length > 0) return "more";
    if (this.#stopping) return "done";
    const host = this.#host;
    if (!host || host.status === "failed" || state.status === "paused") {
      if (this.#options.once) return "done";
      await this.#idle();
      return "more";
    }
    if (state.backlog.size > 0 && this.#options.clock() >= this.#nextBacklogCheck) {
      this.#nextBacklogCheck = this.#options.clock() + this.#options.fetchIntervalMs;
      await this.#drainBacklog(host);
      await this.#options.checkpoint();
      return "more";
    }
    const page = await this.#nextPage(state.cursor ?? 0);
    await this.#deliverPage(host, page);
    await this.#options.checkpoint();
    const more = page.full || page.narrowed;
    this.#behind = more;
    this.#caughtUp = !more;
    // A wake-up after this page's read started means it may lack what woke the lane.
    this.#notBefore = more
      ? 0
      : page.fetchedAt <= this.#wokenAt
      ? this.#wokenAt + 1
      : page.fetchedAt + this.#options.fetchIntervalMs;
    if (!this.#options.once || !this.#caughtUp || state.cursor !== page.lastId) return "more";
    // Caught up in `once` mode: one last look for waiting ids that have committed meanwhile.
    if (state.backlog.size > 0 && !this.#finalDrain) {
      this.#finalDrain = true;
      this.#nextBacklogCheck = 0;
      return "more";
    }
    return "done";
  }

  /** The next page: narrowed while the lane is behind the settled horizon, else whole. */
  async #nextPage(cursor: number): Promise<Page> {
    const { pages, horizon, narrowing } = this.#options;
    const signal = this.#waitSignal();
    const { clock, logger } = this.#options;
    const wanted = this.#behind && horizon && clock() >= this.#narrowAfter;
    const narrow = wanted ? narrowing?.() ?? null : null;
    if (narrow) {
      const span = narrowSpan(this.#options.batchSize);
      const blockEnd = (Math.floor(cursor / span) + 1) * span;
      const upTo = await horizon!.get(cursor, blockEnd, signal);
      try {
        if (upTo > cursor) return await pages.next(cursor, 0, signal, { upTo, narrowing: narrow });
      } catch (error) {
        if (signal.aborted) throw error;
        // Narrowing only saves reads: fall back to whole pages rather than retry it.
        this.#narrowAfter = clock() + narrowRetryMs;
        logger.warn(
          "Plugin {plugin}: a narrowed read failed ({error}); reading whole pages for {minutes} min",
          { plugin: this.name, error: String(error), minutes: narrowRetryMs / 60_000 },
        );
      }
    }
    return await pages.next(cursor, this.#notBefore, signal);
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

  async #deliver(host: DeliveryHost, events: readonly ShotGridEvent[]): Promise<DeliveryReport> {
    this.#delivering = true;
    try {
      // A command that arrived before this delivery still cuts it short.
      if (this.#stopping || this.#commands.length > 0) {
        return { done: 0, lastId: null, skipped: [], paused: null, stopped: true };
      }
      const started = performance.now();
      const report = await host.deliver(events, { signal: this.#options.signal });
      const seconds = (performance.now() - started) / 1000;
      (this.#options.observer ?? noObserver).deliverySeconds(this.name, seconds, report.done);
      return report;
    } finally {
      this.#delivering = false;
    }
  }

  async #deliverPage(host: DeliveryHost, page: Page): Promise<void> {
    const state = this.#options.state;
    const from = state.cursor ?? page.after;
    const events = this.#mine(page.deliverable);
    const report = events.length > 0 ? await this.#deliver(host, events) : emptyReport;
    const done = Math.min(report.done, events.length);
    const to = done >= events.length ? page.lastId : events[done]!.id - 1;
    // A narrowed page lacks the events of other types: its missing ids are not gaps.
    if (!page.narrowed) this.#recordGaps(from, to, page.events, page.fetchedAt);
    this.#count(host, events, done);
    this.#recordFailures(report, events[done], false);
    if (to > from) state.cursor = to;
    state.updatedAt = new Date(this.#options.clock()).toISOString();
  }

  async #drainBacklog(host: DeliveryHost): Promise<void> {
    const state = this.#options.state;
    const found = await this.#options.resolver.resolve(state.backlog.keys(), this.#waitSignal());
    const foundIds = new Set(found.map((event) => event.id));
    const { logger } = this.#options;
    const mine = new Set(this.#mine(found.filter((event) => !this.#options.exclude(event))));
    for (const event of found) if (!mine.has(event)) state.backlog.delete(event.id);
    const waiting = found.filter((event) => mine.has(event) && state.backlog.has(event.id));
    // At most one batch at a time, so a hard kill repeats at most one batch here too.
    const events = waiting.slice(0, this.#options.batchSize);
    if (waiting.length > events.length) this.#nextBacklogCheck = 0;
    if (events.length > 0) {
      const report = await this.#deliver(host, events);
      const done = Math.min(report.done, events.length);
      for (const event of events.slice(0, done)) {
        state.backlog.delete(event.id);
        logger.info("Processed id {id} from backlog", { plugin: this.name, id: event.id });
      }
      this.#count(host, events, done);
      this.#recordFailures(report, events[done], true);
      if (report.stopped || report.paused) return;
    }
    const now = this.#options.clock();
    for (const [id, deadline] of state.backlog) {
      if (deadline !== null && deadline < now && !foundIds.has(id)) {
        state.backlog.delete(id);
        logger.info("Timeout elapsed on backlog event id {id}", { plugin: this.name, id });
      }
    }
  }

  #recordGaps(
    from: number,
    to: number,
    events: readonly ShotGridEvent[],
    readAt: number,
  ): void {
    if (to <= from) return;
    const { state, logger, clock, backlogTimeoutMs } = this.#options;
    const now = clock();
    // A gap's age is judged when the page was read: a page read a while ago (prefetched,
    // or shared with faster lanes) must not turn a gap that has since filled into
    // "never happened".
    const gaps = findGaps(from, to, events, { now: readAt, backlogTimeoutMs });
    for (const id of gaps.waiting) {
      state.backlog.set(id, now + backlogTimeoutMs);
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
  }

  #count(host: DeliveryHost, events: readonly ShotGridEvent[], done: number): void {
    const wanted = events.slice(0, done).filter((event) => host.wants(event));
    this.#options.state.processed += wanted.length;
    if (wanted.length > 0) (this.#options.observer ?? noObserver).delivered(this.name, wanted);
  }

  #recordFailures(
    report: DeliveryReport,
    next: ShotGridEvent | undefined,
    fromBacklog: boolean,
  ): void {
    const { state, pluginLogger, clock } = this.#options;
    const at = new Date(clock()).toISOString();
    const failures = report.skipped.length + (report.paused ? 1 : 0);
    if (failures > 0) (this.#options.observer ?? noObserver).callbackFailed(this.name, failures);
    for (const failure of report.skipped) {
      state.failed.push({
        eventId: failure.id,
        callback: failure.callback,
        error: failure.error,
        at,
      });
      state.lastError = failure.error;
      pluginLogger.error(
        "Callback {callback} failed on event {id} after {attempts} attempt(s), skipped (stopOnError is false): {error}",
        { ...failureProps(failure), plugin: this.name },
      );
    }
    if (state.failed.length > maxFailedRecords) {
      state.failed.splice(0, state.failed.length - maxFailedRecords);
    }
    const failure = report.paused;
    if (!failure) return;
    const eventId = next?.id ?? failure.id;
    state.status = "paused";
    state.paused = {
      eventId,
      callback: failure.callback,
      error: failure.error,
      at,
      fromBacklog,
      hash: this.#plugin.hash,
    };
    state.lastError = failure.error;
    if (fromBacklog && state.backlog.has(eventId)) state.backlog.set(eventId, null);
    pluginLogger.error(
      "Plugin {plugin} paused at event {id}: callback {callback} failed after {attempts} attempt(s): {error}\n{stack}",
      { ...failureProps(failure), id: eventId, plugin: this.name },
    );
  }
}

/** How long a lane reads whole pages after a narrowed read failed. */
const narrowRetryMs = 5 * 60_000;

const emptyReport: DeliveryReport = {
  done: 0,
  lastId: null,
  skipped: [],
  paused: null,
  stopped: false,
};

function failureProps(failure: FailedEvent): Record<string, unknown> {
  return {
    callback: failure.callback,
    id: failure.id,
    attempts: failure.attempts,
    error: failure.error,
    stack: failure.stack ?? "",
  };
}
