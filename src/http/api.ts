/**
 * The JSON API under `/api/`: plugins, failed events, the live tail (server-sent
 * events), and actions (pause, resume, skip, replay, retry-failed) sent as run-time
 * requests exactly as the CLI sends them, then awaited in the state's acknowledgements.
 *
 * @module
 */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { ControlRequest } from "../engine/control.ts";
import type { OperatorRequest } from "../engine/operator_requests.ts";
import { sendRequest } from "../engine/control.ts";
import { bearerProblem, originProblem } from "./auth.ts";
import type { DeliveredEvent } from "./metrics.ts";
import { failedViews, pluginViews, type ViewSources } from "./view.ts";

/** What the API needs besides the views. */
export interface ApiOptions extends ViewSources {
  readonly stateFile: string;
  /** Sends a request to the daemon (default: appended to the state file's requests file). */
  readonly sendRequest?: (request: OperatorRequest) => Promise<void>;
  /** Needed by every POST; null: actions are off. */
  readonly token: string | null;
  /** How long an action waits for the daemon's acknowledgement (default 5 s). */
  readonly ackTimeoutMs?: number;
  /** Ends live tails when the server stops. */
  readonly signal: AbortSignal;
}

const actions = ["pause", "resume", "skip", "replay", "retry-failed"] as const;
type Action = typeof actions[number];

/**
 * The `/api` routes.
 *
 * @param options Status, metrics, state file, token.
 * @returns A Hono app to mount at `/api`.
 */
export function apiRoutes(options: ApiOptions): Hono {
  const app = new Hono();
  app.get(
    "/plugins",
    (c) => c.json({ head: options.metrics.headId, plugins: pluginViews(options) }),
  );
  app.get("/plugins/:name", (c) => {
    const name = c.req.param("name");
    const plugin = pluginViews(options).find((view) => view.name === name);
    if (!plugin) return c.json({ error: `Unknown plugin ${JSON.stringify(name)}` }, 404);
    return c.json({ ...plugin, failedEvents: failedViews(options, name) });
  });
  app.get("/failed", (c) => c.json({ failed: failedViews(options) }));
  app.get("/events", (c) =>
    streamSSE(c, async (stream) => {
      const queue: DeliveredEvent[] = [];
      let wake: (() => void) | null = null;
      const stop = options.metrics.onDelivered((events) => {
        queue.push(...events);
        // A slow reader gets the newest only.
        if (queue.length > 200) queue.splice(0, queue.length - 200);
        wake?.();
      });
      // The client going away: hono's onAbort (the request's own signal is Deno's legacy one).
      const gone = new AbortController();
      stream.onAbort(() => gone.abort());
      const ended = AbortSignal.any([options.signal, gone.signal]);
      try {
        while (!ended.aborted && !stream.aborted) {
          if (queue.length === 0) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              ended.addEventListener("abort", () => resolve(), { once: true });
            });
            wake = null;
            continue;
          }
          await stream.writeSSE({ event: "delivered", data: JSON.stringify(queue.splice(0)) });
        }
      } finally {
        stop();
      }
    }));
  app.post("/plugins/:name/:action", async (c) => {
    const denied = originProblem(c.req.raw);
    if (denied) return c.json({ error: denied }, 403);
    const problem = bearerProblem(c.req.header("authorization") ?? null, options.token);
    if (problem) return c.json({ error: problem }, options.token === null ? 403 : 401);
    const name = c.req.param("name");
    const action = c.req.param("action") as Action;
    if (!actions.includes(action)) {
      return c.json({
        error: `Unknown action ${JSON.stringify(action)}; expected one of: ${actions.join(", ")}`,
      }, 404);
    }
    if (!options.status.status().plugins.some((plugin) => plugin.name === name)) {
      return c.json({ error: `Unknown plugin ${JSON.stringify(name)}` }, 404);
    }
    let body: Record<string, unknown> = {};
    const text = await c.req.text();
    if (text.trim() !== "") {
      try {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          throw new TypeError("not an object");
        }
        body = parsed as Record<string, unknown>;
      } catch {
        return c.json({ error: "Cannot read the body: expected a JSON object" }, 400);
      }
    }
    const request = toRequest(action, name, body);
    if (typeof request === "string") return c.json({ error: request }, 400);
    await (options.sendRequest ?? ((r) => sendRequest(options.stateFile, r)))(request);
    const ack = await waitForAck(options, request.id, options.signal);
    if (ack === null) {
      return c.json({
        id: request.id,
        applied: false,
        message: "Sent; the daemon has not applied it yet",
      }, 202);
    }
    if (ack.error !== null) {
      return c.json({ id: request.id, applied: false, error: ack.error }, 409);
    }
    return c.json({ id: request.id, applied: true });
  });
  return app;
}

function toRequest(
  action: Action,
  plugin: string,
  body: Record<string, unknown>,
): OperatorRequest | string {
  const id = `http-${crypto.randomUUID()}`;
  const plugins = [plugin] as const;
  const eventId = (key: string) => {
    const value = body[key];
    return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : null;
  };
  switch (action) {
    case "pause":
      return { id, op: "pause", plugins };
    case "resume":
      return { id, op: "resume", plugins } satisfies ControlRequest;
    case "skip": {
      const to = body["to"] ?? "latest";
      if (to !== "latest" && eventId("to") === null) {
        return `Cannot skip: "to" must be "latest" or an event id, not ${JSON.stringify(to)}`;
      }
      return { id, op: "skip", plugins, to: to === "latest" ? "latest" : eventId("to")! };
    }
    case "replay": {
      const from = eventId("from");
      const to = eventId("to");
      if (from === null || to === null || from < 1 || to < from) {
        return `Cannot replay: expected "from" and "to" event ids with from <= to, got ${
          JSON.stringify({ from: body["from"], to: body["to"] })
        }`;
      }
      return { id, op: "replay", plugins, from, to, dryRun: body["dryRun"] === true };
    }
    case "retry-failed": {
      if (body["id"] === undefined) return { id, op: "retry-failed", plugins };
      const one = eventId("id");
      if (one === null) {
        return `Cannot retry: "id" must be an event id, not ${JSON.stringify(body["id"])}`;
      }
      return { id, op: "retry-failed", plugins, eventId: one };
    }
  }
}

async function waitForAck(
  options: ApiOptions,
  id: string,
  signal: AbortSignal,
): Promise<{ readonly error: string | null } | null> {
  const deadline = options.clock() + (options.ackTimeoutMs ?? 5000);
  while (!signal.aborted) {
    const ack = options.status.acknowledgement(id);
    if (ack || options.clock() >= deadline) return ack;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
}
