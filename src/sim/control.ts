/**
 * The control API under `/_sim/` (JSON), for the CLI and out-of-process benchmarks. It is
 * never subject to faults and not counted in the stats.
 *
 * @module
 */

import type { FaultController, FaultSettings } from "./faults.ts";
import type { Answer, SimRequest } from "./routes.ts";
import type { SimStats } from "./stats.ts";
import type { SimStore } from "./store.ts";

const faultKeys = new Set<string>([
  "errorRate",
  "errorStatus",
  "latencyMs",
  "latencyJitterMs",
  "resetRate",
  "rateLimit",
  "outageMode",
]);

function fail(status: number, message: string): Answer {
  return { status, json: { error: message } };
}

/**
 * Answer one control request.
 *
 * @param req The request (path under `/_sim/`).
 * @param sim The parts it controls.
 * @returns The answer.
 */
export function controlAnswer(
  req: SimRequest,
  sim: { store: SimStore; faults: FaultController; stats: SimStats },
): Answer {
  const { store, faults, stats } = sim;
  const route = `${req.method} ${req.url.pathname.replace(/\/$/, "")}`;
  let body: Record<string, unknown> = {};
  if (req.method === "POST" && req.body.trim() !== "") {
    try {
      body = JSON.parse(req.body);
    } catch {
      return fail(400, "Cannot read control request: the body is not JSON");
    }
  }
  const summary = () => ({ lastEventId: store.lastEventId, eventCount: store.eventCount });
  try {
    switch (route) {
      case "GET /_sim/health":
        return { status: 200, json: { ok: true, ...summary() } };
      case "GET /_sim/stats":
        return {
          status: 200,
          json: { ...stats.toJSON(), faults: { ...faults.injected }, ...summary() },
        };
      case "POST /_sim/stats/reset":
        stats.reset();
        return { status: 200, json: stats.toJSON() };
      case "POST /_sim/faults": {
        const partial: Partial<FaultSettings> = {};
        for (const [key, value] of Object.entries(body)) {
          if (faultKeys.has(key)) (partial as Record<string, unknown>)[key] = value;
          else if (key !== "outageMs" && key !== "expireTokens") {
            return fail(400, `Cannot set fault "${key}": unknown setting`);
          }
        }
        faults.set(partial);
        if (typeof body.outageMs === "number") faults.outage(body.outageMs);
        if (body.expireTokens === true) faults.expireTokens();
        return { status: 200, json: { settings: faults.settings, inOutage: faults.inOutage } };
      }
      case "POST /_sim/clear":
        faults.clear();
        return { status: 200, json: { settings: faults.settings } };
      case "POST /_sim/events": {
        const count = Number(body.count ?? 1);
        if (!Number.isInteger(count) || count < 0) {
          return fail(400, `Cannot append events: count ${body.count} is invalid`);
        }
        store.appendEvents(count);
        return { status: 200, json: summary() };
      }
      default:
        return fail(404, `No control route ${route}`);
    }
  } catch (error) {
    if (error instanceof RangeError) return fail(400, error.message);
    throw error;
  }
}
