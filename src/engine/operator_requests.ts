/**
 * Run-time requests added for the operator surface (HTTP API and page) beside those of
 * control.ts: `pause`, `replay` and `retry-failed`. They travel the same way (a JSON line
 * appended to `<state_file>.requests`, acknowledged in the state's `applied` list);
 * control.ts parses them and {@link changeOperated} applies them, in the daemon between
 * batches or, with no daemon, in the CLI.
 *
 * @module
 */
import type { PluginCursor } from "../state/cursor.ts";
import type { ControlRequest } from "./control.ts";

/** Pause plugins on purpose (resume with a `resume` request). */
export interface PauseRequest {
  readonly id: string;
  readonly op: "pause";
  readonly plugins: readonly string[] | "all";
}

/** Deliver the events `from <= id <= to` again to one plugin, without moving its cursor. */
export interface ReplayRequest {
  readonly id: string;
  readonly op: "replay";
  readonly plugins: readonly [string];
  readonly from: number;
  readonly to: number;
  readonly dryRun?: boolean;
}

/** Deliver again the events a plugin skipped after failing (all, or one by id). */
export interface RetryFailedRequest {
  readonly id: string;
  readonly op: "retry-failed";
  readonly plugins: readonly [string];
  readonly eventId?: number;
}

/** Any run-time request. */
export type OperatorRequest = ControlRequest | PauseRequest | ReplayRequest | RetryFailedRequest;

/** A request of this file's kinds (not skip, resume or forget). */
export type OperatedRequest = PauseRequest | ReplayRequest | RetryFailedRequest;

/**
 * Whether a request is one of this file's kinds.
 *
 * @param request Any request.
 * @returns `true` for pause, replay and retry-failed.
 */
export function isOperated<T extends { readonly op: string }>(
  request: T,
): request is Extract<T, { readonly op: OperatedRequest["op"] }> {
  return request.op === "pause" || request.op === "replay" || request.op === "retry-failed";
}

/**
 * What a pause, replay or retry-failed request does to one plugin's cursor: the same
 * whether the daemon applies it between batches or the CLI with no daemon running. A
 * replay with `dryRun` is checked and changes nothing.
 *
 * @param cursor The plugin's cursor.
 * @param request The request (without its id).
 * @returns A description for the log and the command's answer.
 * @throws {RangeError} When refused (a range above the cursor, a replay under way...).
 */
export function changeOperated(
  cursor: PluginCursor,
  request: DistributiveOmit<OperatedRequest, "id">,
): string {
  switch (request.op) {
    case "pause":
      if (cursor.pauseByOperator()) return "paused";
      return cursor.status === "halted"
        ? "halted (the site went back), not paused"
        : "already paused";
    case "replay": {
      if (request.dryRun) {
        cursor.checkReplay(request.from, request.to);
        return `would replay events ${request.from} to ${request.to}`;
      }
      const replay = cursor.startReplay(request.from, request.to);
      return `replaying events ${replay.from} to ${replay.to}`;
    }
    case "retry-failed": {
      const replay = cursor.startRetry(request.eventId);
      return `retrying failed event(s) ${replay.ids!.join(", ")}`;
    }
  }
}

/** `Omit` over each member of a union. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
