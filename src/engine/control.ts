/**
 * Run-time requests to a running daemon (`sgevents state skip`, `state forget`,
 * `plugins resume`): appended as JSON lines to `<state_file>.requests`, applied by the
 * daemon between batches, and acknowledged in the state file (`applied`), so a command
 * never edits state under a running daemon's feet.
 *
 * Why a file and not a socket: it needs no port, works the same in containers that share
 * only the state volume, and a line appended with O_APPEND is atomic.
 *
 * @module
 */
import type { StateDocument } from "../state/state_file.ts";

/** One request. */
export interface ControlRequest {
  readonly id: string;
  readonly op: "skip" | "forget" | "resume";
  /** Plugin names, or "all". */
  readonly plugins: readonly string[] | "all";
  /** For skip: the new cursor, or "latest". */
  readonly to?: number | "latest";
}

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
export async function sendRequest(stateFile: string, request: ControlRequest): Promise<void> {
  await Deno.writeTextFile(requestsFile(stateFile), JSON.stringify(request) + "\n", {
    append: true,
    create: true,
  });
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
): Promise<{ requests: ControlRequest[]; malformed: string[]; offset: number }> {
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
  const requests: ControlRequest[] = [];
  const malformed: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const request = JSON.parse(line) as ControlRequest;
      if (typeof request.id !== "string" || !["skip", "forget", "resume"].includes(request.op)) {
        throw new TypeError("not a request");
      }
      requests.push(request);
    } catch {
      malformed.push(line);
    }
  }
  return { requests, malformed, offset: end };
}

/** A change to plugin states, as {@link applyToState} makes it. */
export interface StateChange {
  readonly op: ControlRequest["op"];
  readonly plugins: readonly string[];
  /** For skip: the new cursor. */
  readonly to?: number;
}

/**
 * Apply a change to plugin states directly (no daemon running, or a plugin the running
 * daemon has not loaded).
 *
 * @param doc The state document (changed in place).
 * @param change What to do, to which plugins.
 * @throws {RangeError} When a plugin is unknown.
 */
export function applyToState(doc: StateDocument, change: StateChange): void {
  for (const name of change.plugins) {
    const state = doc.plugins.get(name);
    if (!state) throw new RangeError(`Unknown plugin "${name}"`);
    if (change.op === "skip") {
      state.backlog.clear();
      state.cursor = change.to ?? state.cursor;
      state.status = "active";
      state.paused = null;
    } else if (change.op === "resume") {
      if (state.paused?.fromBacklog && state.backlog.has(state.paused.eventId)) {
        // Looked up again at once; a fresh deadline in case it is slow to appear.
        state.backlog.set(state.paused.eventId, Date.now() + 5 * 60_000);
      }
      state.status = "active";
      state.paused = null;
    } else {
      doc.plugins.delete(name);
    }
  }
}
