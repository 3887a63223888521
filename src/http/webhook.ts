/**
 * `POST /webhook`: ShotGrid webhook deliveries as a low-latency trigger. A delivery
 * signed with the webhook's secret wakes the poller at once; it never becomes an event
 * itself, so the event log stays the one source of truth and a dropped or repeated
 * delivery loses or doubles nothing.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { Context } from "hono";
import { validSignature } from "./auth.ts";

/** What the webhook route needs. */
export interface WebhookOptions {
  /** The webhook's secret token; null: the route answers 404. */
  readonly secret: string | null;
  /** Makes the engine read the log now. */
  readonly wake: () => void;
  readonly logger: Logger;
}

/** Deliveries larger than this are refused unread (ShotGrid's are a few KB). */
const maxBodyBytes = 1024 * 1024;

/**
 * The webhook handler.
 *
 * @param options Secret, wake-up and logger.
 * @returns A Hono handler.
 */
export function webhookHandler(options: WebhookOptions): (c: Context) => Promise<Response> {
  return async (c) => {
    if (options.secret === null) {
      return c.json({ error: "The webhook is off: set http.webhook_secret_file to use it" }, 404);
    }
    const length = Number(c.req.header("content-length") ?? 0);
    if (length > maxBodyBytes) return c.json({ error: "Body too large" }, 413);
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.length > maxBodyBytes) return c.json({ error: "Body too large" }, 413);
    const signature = c.req.header("x-sg-signature") ?? null;
    if (!validSignature(signature, { body, secret: options.secret })) {
      // Never the body: it is unauthenticated input and may be large.
      options.logger.warn("Refused a webhook delivery from {from}: {why} signature", {
        from: c.req.header("x-forwarded-for") ?? "client",
        why: signature === null ? "no" : "a bad",
      });
      return c.json({ error: "Bad or missing X-SG-SIGNATURE" }, 401);
    }
    options.wake();
    return c.json({ ok: true });
  };
}
