/**
 * The one owner of a plugin's position in the event log, as kafkajs's offset manager is
 * the one place offsets move. The lane, the engine, the run-time requests and the CLI
 * move a plugin's cursor and backlog only through a {@link PluginCursor}; nothing else
 * touches the state document's plugin entries.
 *
 * The rules, in one place:
 * - the cursor only moves forward over finished events ({@link PluginCursor.advance});
 *   it moves back only by an explicit {@link PluginCursor.rewind};
 * - every id is a positive safe integer (ids from the site are checked where they enter,
 *   see engine/event_page.ts; ids from people are checked by {@link parseEventId});
 * - a missing id waits in the backlog until `backlog_timeout` after it was seen, by the
 *   one injected clock; a paused plugin's backlog event waits without a deadline;
 * - a skip drops the backlog and the failure that paused the plugin;
 * - a delivery is marked in flight before it starts, so a process that died during it is
 *   known at the next start (see {@link PluginCursor.recoverFromCrash});
 * - a replay delivers ids at or below the cursor again without moving it: its own
 *   position (`replay.next`) moves only over finished events, so it resumes after a crash;
 *   an event it delivers well leaves the failed list.
 *
 * @module
 */
import type { Clock } from "../util/abort.ts";
import {
  type FailedEventRecord,
  type HaltInfo,
  maxFailedRecords,
  newPluginState,
  type PauseInfo,
  type PluginState,
  type Replay,
} from "./state_file.ts";

/** What every cursor of a daemon shares: its clock and its gap policy. */
export interface CursorOptions {
  /** Epoch ms. The engine's injected clock; the CLI's `Date.now`. */
  readonly clock: Clock;
  /** How long a missing id is waited for (`daemon.backlog_timeout`). */
  readonly backlogTimeoutMs: number;
}

/** The missing ids of a finished range, as engine/backlog.ts sorts them. */
export interface Gaps {
  /** Ids to wait for. */
  readonly waiting: readonly number[];
}

/** A failure to pause at (a `stopOnError` callback, or a crash loop). */
export interface PauseRequest {
  readonly eventId: number;
  readonly callback: string;
  readonly error: string;
  /** The event came from the backlog (a late commit), not from the plugin's range. */
  readonly fromBacklog: boolean;
  /** The plugin's content hash when it failed (a different file resumes it at start). */
  readonly hash?: string;
  /** The event was being replayed. */
  readonly inReplay?: boolean;
}

/** What {@link PluginCursor.recoverFromCrash} found. */
export type CrashRecovery =
  /** The last run ended cleanly (or never delivered). */
  | { readonly kind: "clean" }
  /** The process died during a batch: its events are delivered one at a time. */
  | { readonly kind: "probe"; readonly first: number; readonly last: number }
  /** The process died twice during the same event: the plugin is paused there. */
  | { readonly kind: "paused"; readonly eventId: number };

/** The largest id anything accepts (ShotGrid ids are integers; JSON numbers are doubles). */
export const maxEventId = Number.MAX_SAFE_INTEGER;

/**
 * Whether `value` can be an event id: a whole number from 1 to 2^53 - 1.
 *
 * @param value Anything.
 * @returns `true` for a valid id.
 */
export function isEventId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/**
 * Parse an event id typed by a person: digits only (`1e3`, `0x10`, `12.0`, `-3` refused).
 *
 * @param text The text.
 * @param what What it is, for the message (`--to`).
 * @returns The id (0 is allowed: "before the first event").
 * @throws {RangeError} Naming the value and what is expected.
 */
export function parseEventId(text: string, what: string): number {
  const trimmed = text.trim();
  const id = /^\d{1,16}$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isSafeInteger(id)) {
    throw new RangeError(
      `${what} "${text}" is not an event id; use a whole number from 0 to ${maxEventId}`,
    );
  }
  return id;
}

/** One plugin's position: its cursor, backlog, pause and crash bookkeeping. */
export class PluginCursor {
  /** The plugin's name. */
  readonly name: string;
  readonly #state: PluginState;
  readonly #options: CursorOptions;

  /**
   * @param name The plugin.
   * @param state Its entry in the state document (this cursor becomes its only writer).
   * @param options Clock and backlog timeout.
   */
  constructor(name: string, state: PluginState, options: CursorOptions) {
    this.name = name;
    this.#state = state;
    this.#options = options;
  }

  /** The last id processed: every id at or below it is done, waiting or given up on. */
  get position(): number {
    return this.#state.cursor ?? 0;
  }

  /** `active`, `paused` (a failure to fix) or `halted` (the site went back: see {@link halt}). */
  get status(): PluginState["status"] {
    return this.#state.status;
  }

  /** Why the plugin is paused, or null. */
  get paused(): PauseInfo | null {
    return this.#state.paused;
  }

  /** Why the plugin is halted, or null. */
  get halted(): HaltInfo | null {
    return this.#state.halted;
  }

  /** The ids waited for, ascending. */
  get backlog(): readonly number[] {
    return [...this.#state.backlog.keys()].sort((a, b) => a - b);
  }

  /** How many ids are waited for. */
  get backlogSize(): number {
    return this.#state.backlog.size;
  }

  /** While probing after a crash: the last id still delivered one at a time. */
  get probeUpTo(): number | null {
    return this.#state.probe?.upTo ?? null;
  }

  /** The replay under way, or null. */
  get replay(): Replay | null {
    return this.#state.replay;
  }

  /** A read-only view of the whole entry (for `state show`, metrics, the page). */
  get view(): Readonly<PluginState> {
    return this.#state;
  }

  /**
   * Whether `id` is waited for.
   *
   * @param id An event id.
   * @returns `true` when in the backlog.
   */
  awaits(id: number): boolean {
    return this.#state.backlog.has(id);
  }

  /**
   * The events up to `to` are finished: move the cursor there, and wait for `gaps`.
   *
   * @param to The new cursor; at or above the current one.
   * @param gaps Ids missing below `to` that are worth waiting for.
   * @throws {RangeError} When `to` is below the cursor or not an id (a bug upstream).
   */
  advance(to: number, gaps?: Gaps): void {
    const state = this.#state;
    if (!Number.isSafeInteger(to) || to < this.position) {
      throw new RangeError(
        `Cannot move plugin "${this.name}"'s cursor from ${this.position} back to ${to}; use rewind`,
      );
    }
    const deadline = this.#options.clock() + this.#options.backlogTimeoutMs;
    for (const id of gaps?.waiting ?? []) {
      if (id > this.position && id <= to) state.backlog.set(id, deadline);
    }
    // Moved past its last failure: what failed stays in the failed list, not in lastError.
    if (to > this.position && state.status === "active") state.lastError = null;
    state.cursor = to;
    if (state.probe && to >= state.probe.upTo) state.probe = null;
    this.#touch();
  }

  /**
   * A backlog id was delivered, or is not the plugin's to receive (another project, an
   * ignored script user): stop waiting for it.
   *
   * @param id The id.
   */
  resolve(id: number): void {
    if (this.#state.backlog.delete(id)) this.#touch();
  }

  /**
   * Stop waiting for ids whose deadline has passed and that were not found.
   *
   * @param found Ids the site has now (delivered next, not expired).
   * @returns The ids given up on.
   */
  expire(found: ReadonlySet<number>): number[] {
    const now = this.#options.clock();
    const expired: number[] = [];
    for (const [id, deadline] of this.#state.backlog) {
      if (deadline !== null && deadline < now && !found.has(id)) expired.push(id);
    }
    for (const id of expired) this.#state.backlog.delete(id);
    if (expired.length > 0) this.#touch();
    return expired.sort((a, b) => a - b);
  }

  /**
   * Pause the plugin at a failed event (it resumes there).
   *
   * @param failure The event, callback and error.
   */
  pause(failure: PauseRequest): void {
    const state = this.#state;
    state.status = "paused";
    state.paused = {
      eventId: failure.eventId,
      callback: failure.callback,
      error: failure.error,
      at: this.#now(),
      fromBacklog: failure.fromBacklog,
      ...(failure.hash === undefined ? {} : { hash: failure.hash }),
      ...(failure.inReplay ? { inReplay: true } : {}),
    };
    state.lastError = failure.error;
    // A paused backlog event waits without a deadline until the plugin resumes.
    if (failure.fromBacklog && state.backlog.has(failure.eventId)) {
      state.backlog.set(failure.eventId, null);
    }
    this.#touch();
  }

  /**
   * Pause the plugin on purpose (an operator's `plugins pause`): nothing is delivered to
   * it, replays included, until it is resumed; it resumes after its cursor.
   *
   * @returns `false` when it was already paused, or is halted (it delivers nothing either,
   *   and only a skip moves it on).
   */
  pauseByOperator(): boolean {
    const state = this.#state;
    if (state.status !== "active") return false;
    state.status = "paused";
    state.paused = {
      eventId: this.position + 1,
      callback: "(operator)",
      error: "Paused by an operator",
      at: this.#now(),
      fromBacklog: false,
      byOperator: true,
    };
    this.#touch();
    return true;
  }

  /**
   * The checks of {@link startReplay}, changing nothing (a dry run).
   *
   * @param from The first id.
   * @param to The last id.
   * @throws {RangeError} As startReplay would.
   */
  checkReplay(from: number, to: number): void {
    if (!isEventId(from) || !isEventId(to) || from > to) {
      throw new RangeError(
        `Cannot replay events ${from} to ${to} for plugin "${this.name}": expected event ids with from <= to`,
      );
    }
    if (to > this.position) {
      throw new RangeError(
        `Cannot replay events ${from} to ${to} for plugin "${this.name}": its cursor is at ${this.position}, and events after it are not delivered yet; use --to ${this.position} or less`,
      );
    }
    const running = this.#state.replay;
    if (running) {
      throw new RangeError(
        `Cannot start a replay for plugin "${this.name}": one is under way (events ${running.from} to ${running.to}, next ${running.next})`,
      );
    }
  }

  /**
   * Deliver the events `from <= id <= to` again, beside the lane, without moving the cursor.
   *
   * @param from The first id.
   * @param to The last id: at or below the cursor (events above it are not delivered yet).
   * @returns The replay.
   * @throws {RangeError} When the range is empty, above the cursor, or a replay is under way.
   */
  startReplay(from: number, to: number): Replay {
    this.checkReplay(from, to);
    return this.#beginReplay(from, to, null);
  }

  /**
   * Deliver again the events the plugin skipped after failing (`stopOnError: false`); each
   * leaves the failed list once delivered well.
   *
   * @param eventId Only this one; all of them when omitted.
   * @returns The replay of those ids.
   * @throws {RangeError} When there is nothing to retry, or a replay is under way.
   */
  startRetry(eventId?: number): Replay {
    const failed = [...new Set(this.#state.failed.map((record) => record.eventId))];
    const ids = failed.filter((id) => eventId === undefined || id === eventId)
      .sort((a, b) => a - b);
    if (ids.length === 0) {
      throw new RangeError(
        eventId === undefined
          ? `Cannot retry plugin "${this.name}"'s failed events: it has none`
          : `Cannot retry event ${eventId} for plugin "${this.name}": it is not in its failed list (see sgevents state failed)`,
      );
    }
    return this.#beginReplay(ids[0]!, ids[ids.length - 1]!, ids);
  }

  /**
   * The replay delivered its events below `next` (those in `delivered` well): move it on,
   * and drop the delivered ids from the failed list. It ends once `next` passes its end.
   *
   * @param next The lowest id not replayed yet.
   * @param delivered Ids delivered well (their failed records are removed).
   * @returns `true` when the replay has ended.
   * @throws {RangeError} With no replay, or a `next` below the replay's (a bug upstream).
   */
  replayed(next: number, delivered: readonly number[] = []): boolean {
    const state = this.#state;
    const replay = state.replay;
    if (!replay || !Number.isSafeInteger(next) || next < replay.next) {
      throw new RangeError(
        `Cannot move plugin "${this.name}"'s replay to ${next}: ${
          replay ? `it is at ${replay.next}` : "none is under way"
        }`,
      );
    }
    if (delivered.length > 0) {
      const done = new Set(delivered);
      const kept = state.failed.filter((record) => !done.has(record.eventId));
      state.failed.splice(0, state.failed.length, ...kept);
    }
    // A probe of a replay batch (at or below the cursor) ends once the replay is past it.
    if (state.probe && state.probe.upTo <= this.position && next > state.probe.upTo) {
      state.probe = null;
    }
    const ended = next > replay.to;
    state.replay = ended ? null : { ...replay, next };
    this.#touch();
    return ended;
  }

  #beginReplay(from: number, to: number, ids: readonly number[] | null): Replay {
    const running = this.#state.replay;
    if (running) {
      throw new RangeError(
        `Cannot start a replay for plugin "${this.name}": one is under way (events ${running.from} to ${running.to}, next ${running.next})`,
      );
    }
    const replay: Replay = { from, to, next: from, ids, at: this.#now() };
    this.#state.replay = replay;
    this.#touch();
    return replay;
  }

  /**
   * Resume a paused plugin at the event it failed on. A halted plugin is not resumed
   * (only a skip past the site's restore moves it).
   *
   * @returns The pause that ended, or null when the plugin was not paused.
   */
  resume(): PauseInfo | null {
    const state = this.#state;
    if (state.status !== "paused") return null;
    const paused = state.paused;
    if (paused?.fromBacklog && state.backlog.has(paused.eventId)) {
      state.backlog.set(paused.eventId, this.#options.clock() + this.#options.backlogTimeoutMs);
    }
    state.status = "active";
    state.paused = null;
    state.lastError = null;
    this.#touch();
    return paused;
  }

  /**
   * Move the cursor forward (or, for a halted plugin, to where the site now is), dropping
   * the backlog and any pause: the supported way to give up on accrued events.
   *
   * @param to The new cursor: the next event delivered is the first after it.
   * @returns Where it was and how many backlog ids were dropped.
   * @throws {RangeError} When `to` is below the cursor of a plugin that is not halted
   *   (a rewind re-delivers events: use replay, or {@link rewind}).
   */
  skip(to: number): { from: number; dropped: number } {
    if (!Number.isSafeInteger(to) || to < 0) {
      throw new RangeError(`Cannot skip plugin "${this.name}" to ${to}: not an event id`);
    }
    if (to < this.position && this.#state.status !== "halted") {
      throw new RangeError(
        `Cannot skip plugin "${this.name}" back from event ${this.position} to ${to}: that would deliver events again`,
      );
    }
    return this.#moveTo(to);
  }

  /**
   * Move the cursor anywhere, backward included (`state skip --force`): events after it
   * are delivered again.
   *
   * @param to The new cursor.
   * @returns Where it was and how many backlog ids were dropped.
   */
  rewind(to: number): { from: number; dropped: number } {
    if (!Number.isSafeInteger(to) || to < 0) {
      throw new RangeError(`Cannot move plugin "${this.name}" to ${to}: not an event id`);
    }
    // The lane delivers those events again anyway: a replay of them would double them.
    if (this.#state.replay && to < this.#state.replay.to) this.#state.replay = null;
    return this.#moveTo(to);
  }

  /**
   * Stop the plugin because the site's newest event is below its cursor (the site was
   * restored from an older backup, or is another site at the same address): events the
   * site makes next would have ids the cursor already passed.
   *
   * @param siteNewest The site's newest event id now.
   * @returns `false` when already halted (so the error is logged and mailed once).
   */
  halt(siteNewest: number): boolean {
    const state = this.#state;
    if (state.status === "halted") return false;
    state.status = "halted";
    state.halted = { cursor: this.position, siteNewest, at: this.#now() };
    state.lastError =
      `The site's newest event is ${siteNewest}, below this plugin's cursor ${this.position}`;
    this.#touch();
    return true;
  }

  /**
   * Note where the plugin runs: quarantined in a Worker of its own (why), or back among
   * the others (null). Shown by `state show`, `plugins list` and the page.
   *
   * @param reason Why it was quarantined, or null.
   */
  quarantined(reason: string | null): void {
    const state = this.#state;
    if ((state.quarantine?.reason ?? null) === reason) return;
    state.quarantine = reason === null ? null : { reason, at: this.#now() };
    this.#touch();
  }

  /**
   * Record failures of `stopOnError: false` callbacks (kept bounded).
   *
   * @param failures The events passed over, with their errors.
   */
  recordSkipped(
    failures: readonly { id: number; callback: string; error: string; attempts: number }[],
  ): void {
    if (failures.length === 0) return;
    const at = this.#now();
    const state = this.#state;
    for (const failure of failures) {
      const record: FailedEventRecord = {
        eventId: failure.id,
        callback: failure.callback,
        error: failure.error,
        attempts: failure.attempts,
        at,
      };
      state.failed.push(record);
      state.lastError = failure.error;
    }
    if (state.failed.length > maxFailedRecords) {
      state.failed.splice(0, state.failed.length - maxFailedRecords);
    }
    this.#touch();
  }

  /**
   * Count events delivered to at least one callback.
   *
   * @param n How many.
   */
  counted(n: number): void {
    if (n > 0) this.#state.processed += n;
  }

  /**
   * Mark a delivery of the events `first..last` as under way (save before delivering).
   *
   * @param first The first event's id.
   * @param last The last event's id.
   */
  beginDelivery(first: number, last: number): void {
    const probe = this.#state.probe;
    // While probing, a death during this very event counts twice against it.
    const deaths = probe && first === last && probe.eventId === first ? probe.deaths : 0;
    this.#state.inFlight = { first, last, deaths };
  }

  /** The delivery marked by {@link beginDelivery} has ended (well or not). */
  endDelivery(): void {
    this.#state.inFlight = null;
  }

  /**
   * At start: whether the process died while this plugin was delivering. A death during
   * a batch makes the batch's events be delivered one at a time; a second death during
   * one of them, delivered alone, pauses the plugin at that event, so a plugin that takes
   * the whole process down (out of memory) stops itself, not the daemon.
   *
   * @param hash The plugin's content hash (a changed file resumes the pause).
   * @returns What was found and done.
   */
  recoverFromCrash(hash?: string): CrashRecovery {
    const state = this.#state;
    const inFlight = state.inFlight;
    state.inFlight = null;
    if (!inFlight) return { kind: "clean" };
    if (inFlight.first === inFlight.last && inFlight.deaths >= 1) {
      state.probe = null;
      this.pause({
        eventId: inFlight.first,
        callback: "(process)",
        error:
          `The sgevents process ended twice while plugin "${this.name}" processed event ${inFlight.first} (out of memory, or the plugin ended the process); paused at that event so the other plugins go on`,
        fromBacklog: state.backlog.has(inFlight.first),
        ...(hash === undefined ? {} : { hash }),
      });
      return { kind: "paused", eventId: inFlight.first };
    }
    const upTo = Math.max(inFlight.last, state.probe?.upTo ?? 0);
    const eventId = inFlight.first === inFlight.last ? inFlight.first : null;
    state.probe = { upTo, eventId, deaths: eventId === null ? 0 : inFlight.deaths + 1 };
    this.#touch();
    return { kind: "probe", first: inFlight.first, last: inFlight.last };
  }

  #moveTo(to: number): { from: number; dropped: number } {
    const state = this.#state;
    const from = this.position;
    const dropped = state.backlog.size;
    state.backlog.clear();
    state.cursor = to;
    state.status = "active";
    state.paused = null;
    state.halted = null;
    state.probe = null;
    state.lastError = null;
    this.#touch();
    return { from, dropped };
  }

  #now(): string {
    return new Date(this.#options.clock()).toISOString();
  }

  #touch(): void {
    this.#state.updatedAt = this.#now();
  }
}

/**
 * A fresh entry for a plugin placed at `position`.
 *
 * @param position Its cursor: the first event delivered is the one after it.
 * @returns The entry (hand it to a {@link PluginCursor}).
 */
export function placedState(position: number): PluginState {
  return newPluginState(position);
}
