/**
 * What the plugin host and a plugin's Worker say to each other, and the shared memory
 * they both read (so that stopping and the watchdog cost no message per event).
 *
 * @module
 */
import type { NormalizedMatchEvents } from "./matcher.ts";

/** A registered callback as the host sees it (never the script key). */
export interface CallbackInfo {
  /** Function name, or `callback#<n>`. */
  readonly name: string;
  readonly scriptName: string;
  readonly matchEvents: NormalizedMatchEvents;
  readonly stopOnError: boolean;
  /** The effective timeout: the callback's own or the configured one. */
  readonly timeoutMs: number;
}

/** One callback failure: the engine's type (the engine owns the host contract). */
import type { FailedEvent } from "../engine/types.ts";
export type { FailedEvent };

/** Slots of the shared `Int32Array`. */
export const slot = {
  /**
   * Host sets 1: finish the event in flight, then end the batch. Host sets {@link ended}
   * when it has given the Worker up: start no further callback (Deno's `terminate()` does
   * not stop a thread running synchronous code, so a slow Worker ended as hung runs on
   * until its code yields; it must not run the events its plugins are restarted at).
   */
  stop: 0,
  /** Worker: events of the current batch finished. */
  done: 1,
  /** Worker: 1 while a callback attempt runs. */
  running: 2,
  /** Worker: index of the callback running or waiting to retry; -1 between events. */
  callback: 3,
  /**
   * Worker: attempt number running (1-based), or the last failed one while waiting to
   * retry. Meaningful only while {@link slot.callback} is not -1: written before it.
   */
  attempt: 4,
  /** Worker: timeout of the attempt running, in ms. */
  timeoutMs: 5,
  /** Worker: the longest synchronous run of a callback on one event so far, in ms. */
  cpuMs: 6,
  /**
   * Worker: callbacks before this index are finished on event `done` (written as soon as
   * a callback returns, so a Worker ended by a co-tenant repeats none of them).
   */
  next: 7,
} as const;

/** The {@link slot.stop} value of a control block whose Worker was given up. */
export const ended = 2;

const int32Slots = 8;

/** The shared control block: 8 Int32 slots then one BigInt64 (attempt start, epoch ms). */
export interface Control {
  readonly buffer: SharedArrayBuffer;
  readonly ints: Int32Array;
  readonly startedAt: BigInt64Array;
}

/**
 * Create a control block, or view an existing buffer.
 *
 * @param buffer The buffer to view (the worker's side); a new one when omitted.
 * @returns The typed views.
 */
export function controlBlock(buffer?: SharedArrayBuffer): Control {
  const shared = buffer ?? new SharedArrayBuffer(int32Slots * 4 + 8);
  return {
    buffer: shared,
    ints: new Int32Array(shared, 0, int32Slots),
    startedAt: new BigInt64Array(shared, int32Slots * 4, 1),
  };
}

/** Settings the worker needs to run callbacks. */
export interface WorkerSettings {
  readonly plugin: string;
  readonly fileName: string;
  readonly url: string;
  readonly modules: readonly { readonly url: string; readonly fileUrl: string }[];
  readonly shotgrid: {
    readonly url: string;
    readonly proxy: string | null;
    readonly useSessionUuid: boolean;
    readonly timeoutMs: number;
  };
  readonly callbackTimeoutMs: number;
  readonly retries: number;
  readonly backoff: {
    readonly initialMs?: number;
    readonly maxMs?: number;
    readonly factor?: number;
  };
  readonly control: SharedArrayBuffer;
}

/**
 * Where the first event of a batch picks up: after the worker was restarted mid-callback,
 * or after an earlier batch ended part-way through that event (stop, pause). Callbacks
 * before `callbackIndex` already ran on it and are not run again.
 */
export interface Resume {
  /** The first callback to run. */
  readonly callbackIndex: number;
  /** Attempts of that callback already failed (0: it starts afresh). */
  readonly failedAttempts: number;
  /** The last failure, when `failedAttempts > 0`. */
  readonly error: string;
  readonly stack: string | null;
}

/**
 * Ascending page indices as they cross to a Worker: a run `from..from+count-1` (the
 * common case: a plugin wanting every event), else an Int32Array (copied as one block;
 * a JS array of numbers is cloned element by element).
 */
export type IndexList = { readonly from: number; readonly count: number } | Int32Array;

/**
 * Pack ascending indices.
 *
 * @param indices Ascending indices.
 * @returns A run when they are consecutive, else a typed array of them.
 */
export function packIndices(indices: readonly number[]): IndexList {
  const from = indices[0] ?? 0;
  const count = indices.length;
  if (count === 0 || indices[count - 1] === from + count - 1) return { from, count };
  return Int32Array.from(indices);
}

/**
 * Call `each` with every index of `list`, in order.
 *
 * @param list Packed indices.
 * @param each Called per index with its position in the list.
 */
export function forEachIndex(
  list: IndexList,
  each: (index: number, position: number) => void,
): void {
  if (list instanceof Int32Array) { for (let i = 0; i < list.length; i++) each(list[i]!, i); }
  else for (let i = 0; i < list.count; i++) each(list.from + i, i);
}

/**
 * A page of events as a Worker holds it: one shared copy of the events any of its plugins
 * wants, parsed and frozen once (see page_cache.ts).
 */
export interface PagePayload {
  /** The page's id in this Worker. */
  readonly id: number;
  /** The events, one JSON array, UTF-8 in shared memory; null when the Worker holds the page. */
  readonly bytes: Uint8Array<SharedArrayBuffer> | null;
  /** With `bytes`: the page index of each of its events. */
  readonly indices: IndexList | null;
  /** Pages the Worker may drop now. */
  readonly evict: readonly number[];
}

/**
 * Host to worker. `tenant` names the plugin within its Worker (several plugins share one);
 * each has its own control block and batch.
 */
export type HostMessage =
  /**
   * First message to a new Worker: `busy[0]` is set to the id + 1 of the tenant whose code
   * runs synchronously (0: none), so a hang is charged to the plugin that loops; `busy[1]`
   * is a heartbeat the Worker's event loop counts up (a thread that stops counting is stuck).
   */
  | { readonly kind: "init"; readonly busy: SharedArrayBuffer }
  | { readonly kind: "load"; readonly tenant: number; readonly settings: WorkerSettings }
  /** Forget a plugin's registrations (reload, quarantine): the others go on. */
  | { readonly kind: "unload"; readonly tenant: number }
  | {
    readonly kind: "deliver";
    readonly tenant: number;
    readonly seq: number;
    readonly page: PagePayload;
    /** The page indices of the events this plugin is given, ascending. */
    readonly indices: IndexList;
    readonly resume: Resume | null;
    readonly timing: boolean;
  }
  /** Wake a backoff wait: the stop flag is set. */
  | { readonly kind: "stop"; readonly tenant: number }
  /** Shutdown: abort the running callback's signal too. */
  | { readonly kind: "abort"; readonly tenant: number };

/** One callback run, for the timing log. */
export interface Timing {
  readonly callback: string;
  readonly eventId: number;
  readonly durationMs: number;
  readonly delayMs: number;
  readonly attempts: number;
  readonly ok: boolean;
}

/** A log record from the plugin. */
export interface LogRecordMessage {
  readonly kind: "log";
  /** The plugin that logged; null: the Worker itself. */
  readonly tenant: number | null;
  readonly level: "debug" | "info" | "warning" | "error" | "fatal";
  readonly message: string;
  readonly properties: Record<string, unknown> | null;
}

/** Worker to host. */
export type WorkerMessage =
  | {
    readonly kind: "loaded";
    readonly tenant: number;
    readonly callbacks: readonly CallbackInfo[];
    readonly emails: readonly string[] | boolean;
  }
  | {
    readonly kind: "loadFailed";
    readonly tenant: number;
    readonly error: string;
    readonly stack: string | null;
  }
  /**
   * A plugin ended its Worker (`Deno.exit()`, `close()`): restart without waiting.
   * `tenant`: the plugin whose callback (or load) called it, when known.
   */
  | { readonly kind: "exiting"; readonly reason: string; readonly tenant: number | null }
  | LogRecordMessage
  | {
    readonly kind: "skipped";
    readonly tenant: number;
    readonly seq: number;
    readonly failure: FailedEvent;
  }
  | {
    readonly kind: "done";
    readonly tenant: number;
    readonly seq: number;
    /** Events of this batch finished. */
    readonly done: number;
    readonly paused: FailedEvent | null;
    readonly stopped: boolean;
    /** Where event `done` picks up when the batch ended part-way through it, or `null`. */
    readonly partial: Resume | null;
    readonly timings: readonly Timing[];
  };
