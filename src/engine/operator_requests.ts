/**
 * Run-time requests added for the operator surface (HTTP API and page) beside those of
 * control.ts: `pause`, `replay` and `retry-failed`. They travel the same way (a JSON line
 * appended to `<state_file>.requests`, acknowledged in the state's `applied` list).
 *
 * NOTE for the engine: the daemon does not apply these yet; control.ts's
 * `pendingRequests` must accept their ops and engine.ts apply them.
 *
 * @module
 */
import { type ControlRequest, requestsFile } from "./control.ts";

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

/**
 * Append a request for the daemon holding `stateFile` (as control.ts's `sendRequest`).
 *
 * @param stateFile The state file.
 * @param request What to do (its id must be unique).
 */
export async function sendOperatorRequest(
  stateFile: string,
  request: OperatorRequest,
): Promise<void> {
  await Deno.writeTextFile(requestsFile(stateFile), JSON.stringify(request) + "\n", {
    append: true,
    create: true,
  });
}
