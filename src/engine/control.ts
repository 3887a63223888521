/**
 * Run-time requests to a running daemon (`sgevents state skip`, `state forget`,
 * `plugins resume`, and those of operator_requests.ts: `plugins pause`, `replay`,
 * `plugins retry-failed`): appended as JSON lines to `<state_file>.requests`, applied by the
 * daemon between batches, and acknowledged in the state file (`applied`), so a command
 * never edits state under a running daemon's feet.
 *
 * Why a file and not a socket: it needs no port, works the same in containers that share
 * only the state volume, and a line appended with O_APPEND is atomic.
 *
 * @module
 */
import { isEventId, type PluginCursor } from "../state/cursor.ts";
import type { OperatorRequest } from "./operator_requests.ts";

/** One request. */
export interface ControlRequest {
  readonly id: string;
  readonly op: "skip" | "forget" | "resume";
  /** Plugin names, or "all". */
  readonly plugins: readonly string[] | "all";
  /** For skip: the new cursor, or "latest". */
  readonly to?: number | "latest";
  /** For skip: move the cursor back too (events after `to` are delivered again). */
  readonly force?: boolean;
}

const ops: ReadonlySet<string> = new Set([
  "skip",
  "forget",
  "resume",
  "pause",
  "replay",
  "retry-failed",
]);

/** An acknowledgement as stored in the state file's `applied` list: `id` or `id error...`. */
export function ackLine(id: string, error: string | null): string {
  return error ? `${id} ${error}` : id;
}

/**
 * The requests file of a state file.
 *
 * @param stateFile The state file.
 * @returns Its requests file path.
 */
export function requestsFile(stateFile: string): string {
  return `${stateFile}.requests`;
}

/**
 * Append a request for the daemon holding `stateFile`.
 *
 * @param stateFile The state file.
 * @param request What to do (its id must be unique).
 */
export async function sendRequest(stateFile: string, request: OperatorRequest): Promise<void> {
  await Deno.writeTextFile(requestsFile(stateFile), JSON.stringify(request) + "\n", {
    append: true,
    create: true,
  });
}

/** A line of the requests file that is not a valid request. */
export interface Malformed {
  readonly line: string;
  readonly reason: string;
}

/**
 * The requests appended since `offset` (only whole lines: a line being written waits).
 *
 * Reading by byte offset, not by remembering request ids, means an old request can never
 * be applied twice however many have been made.
 *
 * @param stateFile The state file.
 * @param offset Bytes already read (the state's `requestsOffset`).
 * @returns New requests, oldest first; malformed lines; the offset after them.
 */
export async function pendingRequests(
  stateFile: string,
  offset: number,
): Promise<{ requests: OperatorRequest[]; malformed: Malformed[]; offset: number }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(requestsFile(stateFile));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { requests: [], malformed: [], offset: 0 };
    throw error;
  }
  // A file shorter than what was read was replaced or truncated by hand: start over.
  const start = bytes.length < offset ? 0 : offset;
  const end = bytes.lastIndexOf(10) + 1;
  if (end <= start) return { requests: [], malformed: [], offset: start };
  const text = new TextDecoder().decode(bytes.subarray(start, end));
  const requests: OperatorRequest[] = [];
  const malformed: Malformed[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const parsed = parseRequest(line);
    if (typeof parsed === "string") malformed.push({ line, reason: parsed });
    else requests.push(parsed);
  }
  return { requests, malformed, offset: end };
}

/**
 * Parse one line of the requests file, with the checks the CLI makes.
 *
 * @param line A JSON line.
 * @returns The request, or why it is refused.
 */
export function parseRequest(line: string): OperatorRequest | string {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return "it is not JSON";
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "it is not an object";
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== "string" || r.id === "") return `"id" must be a non-empty string`;
  if (typeof r.op !== "string" || !ops.has(r.op)) {
    return `"op" must be one of ${[...ops].join(", ")}, not ${JSON.stringify(r.op)}`;
  }
  const plugins = r.plugins;
  if (
    plugins !== "all" &&
    !(Array.isArray(plugins) && plugins.length > 0 &&
      plugins.every((p) => typeof p === "string" && p !== ""))
  ) {
    return `"plugins" must be "all" or a list of plugin names`;
  }
  if (r.to !== undefined && r.to !== "latest" && !(r.to === 0 || isEventId(r.to))) {
    return `"to" must be "latest" or an event id (a whole number from 0 to 2^53 - 1), not ${
      JSON.stringify(r.to)
    }`;
  }
  if (r.force !== undefined && typeof r.force !== "boolean") return `"force" must be true or false`;
  if (r.op === "replay" || r.op === "retry-failed") {
    if (!Array.isArray(plugins) || plugins.length !== 1) {
      return `"plugins" of a ${r.op} must name one plugin`;
    }
  }
  if (r.op === "replay") {
    if (!isEventId(r.from) || !isEventId(r.to) || r.from > r.to) {
      return `"from" and "to" of a replay must be event ids with from <= to, not ${
        JSON.stringify({ from: r.from, to: r.to })
      }`;
    }
    if (r.dryRun !== undefined && typeof r.dryRun !== "boolean") {
      return `"dryRun" must be true or false`;
    }
  }
  if (r.op === "retry-failed" && r.eventId !== undefined && !isEventId(r.eventId)) {
    return `"eventId" must be an event id, not ${JSON.stringify(r.eventId)}`;
  }
  return r as unknown as OperatorRequest;
}

/** A skip or resume, with a skip's target resolved to an id. */
export interface CursorChange {
  readonly op: "skip" | "resume";
  readonly to?: number;
  readonly force?: boolean;
}

/**
 * Whether a change may be made, before any plugin of a request is changed: a skip back
 * below the cursor re-delivers events and is refused without `force` (unless the plugin
 * is halted by a site restore, where going back to the site's newest id is the way on).
 *
 * @param cursor The plugin's cursor.
 * @param request The change.
 * @throws {RangeError} Naming the plugin and pointing at replay.
 */
export function checkCursorChange(cursor: PluginCursor, request: CursorChange): void {
  if (request.op !== "skip" || request.force || request.to === undefined) return;
  if (request.to < cursor.position && cursor.status !== "halted") {
    throw new RangeError(
      `Cannot skip plugin "${cursor.name}" back from event ${cursor.position} to ${request.to}: that would deliver events again; use "sgevents replay ${cursor.name} --from ${
        request.to + 1
      } --to ${cursor.position}" to deliver a range again, or --force to move the cursor back`,
    );
  }
}

/**
 * What a skip or resume request does to one plugin's cursor: the same whether the daemon
 * applies it between batches, or the CLI applies it with no daemon running.
 *
 * @param cursor The plugin's cursor.
 * @param request The request (`to` already resolved to an id for a skip).
 * @returns A description for the log.
 * @throws {RangeError} When the skip is refused (backward without force).
 */
export function changeCursor(cursor: PluginCursor, request: CursorChange): string {
  checkCursorChange(cursor, request);
  if (request.op === "resume") {
    const paused = cursor.resume();
    return paused ? `resumed at event ${paused.eventId}` : "not paused";
  }
  const to = request.to ?? cursor.position;
  const { from, dropped } = request.force ? cursor.rewind(to) : cursor.skip(to);
  return `moved from event ${from} to ${to}, ${dropped} backlog id(s) dropped`;
}
