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
  /** Host sets 1: finish the event in flight, then end the batch. */
  stop: 0,
  /** Worker: events of the current batch finished. */
  done: 1,
  /** Worker: 1 while a callback attempt runs. */
  running: 2,
  /** Worker: index of the callback running or waiting to retry; -1 between events. */
  callback: 3,
  /** Worker: attempt number running (1-based); -1 between events. */
  attempt: 4,
  /** Worker: timeout of the attempt running, in ms. */
  timeoutMs: 5,
} as const;

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

/** Host to worker. */
export type HostMessage =
  | { readonly kind: "load"; readonly settings: WorkerSettings }
  | {
    readonly kind: "deliver";
    readonly seq: number;
    /** The wanted events, one JSON array, UTF-8 in shared memory (see batch_cache.ts). */
    readonly events: Uint8Array<SharedArrayBuffer>;
    readonly resume: Resume | null;
    readonly timing: boolean;
  }
  /** Wake a backoff wait: the stop flag is set. */
  | { readonly kind: "stop" }
  /** Shutdown: abort the running callback's signal too. */
  | { readonly kind: "abort" };

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
  readonly level: "debug" | "info" | "warning" | "error" | "fatal";
  readonly message: string;
  readonly properties: Record<string, unknown> | null;
}

/** Worker to host. */
export type WorkerMessage =
  | {
    readonly kind: "loaded";
    readonly callbacks: readonly CallbackInfo[];
    readonly emails: readonly string[] | boolean;
  }
  | { readonly kind: "loadFailed"; readonly error: string; readonly stack: string | null }
  /** The plugin ended its own worker (`Deno.exit()`, `close()`): restart without waiting. */
  | { readonly kind: "exiting"; readonly reason: string }
  | LogRecordMessage
  | { readonly kind: "skipped"; readonly seq: number; readonly failure: FailedEvent }
  | {
    readonly kind: "done";
    readonly seq: number;
    /** Events of this batch finished. */
    readonly done: number;
    readonly paused: FailedEvent | null;
    readonly stopped: boolean;
    /** Where event `done` picks up when the batch ended part-way through it, or `null`. */
    readonly partial: Resume | null;
    readonly timings: readonly Timing[];
  };
