/**
 * The seams between the engine and the rest: where events come from and where they go.
 *
 * @module
 */
import type { ShotGridEvent } from "../shotgrid/types.ts";
import type { Narrowing } from "./narrowing.ts";

/** The ids `after < id <= upTo`. */
export interface IdRange {
  readonly after: number;
  readonly upTo: number;
}

/** A narrowed read: only the events of `narrowing`, and none above `upTo`. */
export interface NarrowRead {
  readonly upTo: number;
  readonly narrowing: Narrowing;
}

/** Reads EventLogEntry rows from the site (implemented over the ShotGrid client). */
export interface EventSource {
  /** Events with `id > after` (and within `narrow`, when given), ascending, at most `limit`. */
  after(
    after: number,
    limit: number,
    signal: AbortSignal,
    narrow?: NarrowRead,
  ): Promise<ShotGridEvent[]>;
  /** Events with `range.after < id <= range.upTo`, ascending, at most `limit` (read-ahead). */
  within(range: IdRange, limit: number, signal: AbortSignal): Promise<ShotGridEvent[]>;
  /** The events among `ids` that exist now (any order). */
  byIds(ids: readonly number[], signal: AbortSignal): Promise<ShotGridEvent[]>;
  /** The newest event id, or null on an empty site. */
  newestId(signal: AbortSignal): Promise<number | null>;
  /** The oldest event id, or null on an empty site. */
  oldestId(signal: AbortSignal): Promise<number | null>;
  /**
   * The lowest id in `range` of an event created after `time` (epoch ms, rounded down to
   * whole seconds, as ShotGrid stores dates: an event in that second is neither after nor
   * before it), or null.
   */
  firstCreatedAfter(range: IdRange, time: number, signal: AbortSignal): Promise<number | null>;
  /** The highest id in `range` of an event created before `time` (rounded down), or null. */
  lastCreatedBefore(range: IdRange, time: number, signal: AbortSignal): Promise<number | null>;
}

/** One failure of a callback, as the plugin host reports it. */
export interface FailedEvent {
  readonly id: number;
  readonly callback: string;
  readonly error: string;
  readonly stack: string | null;
  readonly attempts: number;
}

/** What became of a batch handed to a plugin. */
export interface DeliveryReport {
  /** How many events from the front of the batch are finished. */
  readonly done: number;
  /** Failures of `stopOnError: false` callbacks, recorded and passed. */
  readonly skipped: readonly FailedEvent[];
  /** A `stopOnError: true` failure: the batch's event at `done` is where the plugin pauses. */
  readonly paused: FailedEvent | null;
  /** Stop was requested and the batch was cut short. */
  readonly stopped: boolean;
}

/** A loaded plugin as the engine drives it (the plugin runtime's PluginHost). */
export interface DeliveryHost {
  readonly name: string;
  readonly file: string;
  readonly hash: string;
  readonly status: "ready" | "failed";
  readonly loadError: string | null;
  /** The event types its callbacks match (`*` a wildcard inside one); null: every type. */
  readonly eventTypes: readonly string[] | null;
  /** The Worker it runs in (`worker 1`: shared; `plugin <name>`: its own), if known. */
  readonly placement?: string;
  /** Why it was moved to a Worker of its own (quarantine), or null. */
  readonly quarantined?: string | null;
  wants(event: ShotGridEvent): boolean;
  deliver(
    events: readonly ShotGridEvent[],
    options?: { signal?: AbortSignal },
  ): Promise<DeliveryReport>;
  requestStop(): void;
  close(): Promise<void>;
}

/** A plugin file found in the configured folders (discovery.ts finds them). */
export interface PluginFile {
  /** The file name without extension: the plugin's identity in state and logs. */
  readonly name: string;
  /** Absolute path. */
  readonly file: string;
  /** SHA-256 of the plugin and every relative module it imports (content, not mtimes). */
  readonly hash: string;
}
