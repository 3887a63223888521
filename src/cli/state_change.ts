/**
 * Changing plugin state from the command line, safely whether or not a daemon runs:
 * with no daemon, take the state (the file's lock, or the PostgreSQL lead) and edit it;
 * with a daemon running it, hand the change to the daemon (the requests file or table, see
 * engine/control.ts) and wait for its acknowledgement.
 *
 * @module
 */
import type { Config } from "../config/types.ts";
import { changeCursor, checkCursorChange, sendRequest } from "../engine/control.ts";
import {
  changeOperated,
  type DistributiveOmit,
  isOperated,
  type OperatorRequest,
} from "../engine/operator_requests.ts";
import { ShotGridEventSource } from "../engine/event_source.ts";
import { StateLock } from "../state/lock.ts";
import { StateStore } from "../state/state_store.ts";
import { sleep } from "../util/abort.ts";
import { daemonClient } from "./context.ts";
import { UsageError } from "./errors.ts";
import { readState, StateBusyError, withStateWriter } from "./state_access.ts";

/** Options of {@link changeState}. */
export interface ChangeStateOptions {
  /** How long to wait for a running daemon's acknowledgement (default 15 s). */
  readonly timeoutMs?: number;
}

/**
 * Apply a state change now (no daemon) or through the running daemon.
 *
 * A skip is checked against the site first: a target above the site's newest event is
 * refused without `force` (a typo there would drop every event until the site gets there).
 *
 * @param config The config (state file, site).
 * @param request The change.
 * @param options Wait limit.
 * @returns How it was applied.
 * @throws {UsageError} When a plugin is unknown, a skip target is refused, or the daemon
 *   refused the change.
 */
export async function changeState(
  config: Config,
  request: DistributiveOmit<OperatorRequest, "id">,
  options: ChangeStateOptions = {},
): Promise<"applied" | "handed to the running daemon"> {
  const file = config.daemon.stateFile;
  const id = crypto.randomUUID();
  if (request.op === "skip" && typeof request.to === "number" && !request.force) {
    const newest = await newestOnSite(config);
    if (request.to > newest) {
      throw new UsageError(
        `--to ${request.to} is above the site's newest event ${newest}; events up to ${request.to} would be dropped as they are made. Pass --force to skip there anyway`,
      );
    }
  }
  const running = config.daemon.stateUrl === null
    ? await StateLock.holder(file) !== null
    : (await readState(config)).daemon !== null;
  if (!running) {
    try {
      await withStateWriter(config, async (backend) => {
        await using store = await StateStore.openBackend(backend, {
          site: config.shotgrid.url,
          purpose: "sgevents state command",
          backlogTimeoutMs: config.daemon.backlogTimeoutMs,
        });
        await applyNow(config, store, request);
        await store.checkpoint();
      });
      return "applied";
    } catch (error) {
      if (!(error instanceof StateBusyError)) throw error;
      // A daemon started meanwhile: hand it the change below.
    }
  }
  const view = await readState(config);
  pluginNames(view.doc?.plugins.keys() ?? [], request.plugins);
  await queueRequest(config, { ...request, id } as OperatorRequest);
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    await sleep(200);
    const now = (await readState(config)).doc;
    const ack = now?.applied.find((line) => line === id || line.startsWith(`${id} `));
    if (ack === undefined) continue;
    if (ack !== id) throw new UsageError(`The running daemon refused: ${ack.slice(id.length + 1)}`);
    return "handed to the running daemon";
  }
  throw new UsageError(
    `The running daemon did not acknowledge the request within ${
      Math.round((options.timeoutMs ?? 15_000) / 1000)
    } s; it stays queued in ${
      config.daemon.stateUrl === null ? `"${file}.requests"` : "the sgevents_request table"
    } and applies when the daemon reads it`,
  );
}

/** Apply a change to a store this command holds (no daemon runs). */
async function applyNow(
  config: Config,
  store: StateStore,
  request: DistributiveOmit<OperatorRequest, "id">,
): Promise<void> {
  const names = pluginNames(store.names, request.plugins);
  if (request.op === "forget") {
    for (const name of names) store.forget(name);
    return;
  }
  if (isOperated(request)) {
    try {
      for (const name of names) changeOperated(store.cursor(name)!, request);
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(error.message);
      throw error;
    }
    return;
  }
  const to = request.op === "skip"
    ? request.to === undefined || request.to === "latest" ? await newestOnSite(config) : request.to
    : undefined;
  const change = {
    op: request.op,
    force: request.force ?? false,
    ...(to === undefined ? {} : { to }),
  };
  const cursors = names.map((name) => store.cursor(name)!);
  const halted = cursors.some((cursor) => cursor.status === "halted");
  try {
    // Every plugin checked first, so a refused skip changes none of them.
    for (const cursor of cursors) checkCursorChange(cursor, change);
    for (const cursor of cursors) changeCursor(cursor, change);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  if (halted && to !== undefined) store.noteSiteNewest(to, { reset: true });
}

/**
 * Queue a request for the running daemon: the requests file, or the requests table.
 *
 * @param config The config (state file or `state_url`).
 * @param request The request (its id unique).
 */
export async function queueRequest(config: Config, request: OperatorRequest): Promise<void> {
  const { stateUrl, stateFile, name, statePassword } = config.daemon;
  if (stateUrl === null) return await sendRequest(stateFile, request);
  const { queueDatabaseRequest } = await import("./state_access_postgres.ts");
  await queueDatabaseRequest(stateUrl, { name, password: statePassword }, request);
}

function pluginNames(known: Iterable<string>, wanted: readonly string[] | "all"): string[] {
  const names = [...known];
  if (wanted === "all") return names;
  const unknown = wanted.filter((name) => !names.includes(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `Unknown plugin(s) ${unknown.map((n) => `"${n}"`).join(", ")}; the state file knows: ${
        names.join(", ") || "none"
      }`,
    );
  }
  return [...wanted];
}

async function newestOnSite(config: Config): Promise<number> {
  await using client = daemonClient(config);
  const newest = await new ShotGridEventSource(client).newestId(AbortSignal.timeout(30_000));
  return newest ?? 0;
}
