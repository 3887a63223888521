/**
 * Error mails: error-level records go by SMTP to the configured recipients plus, for a
 * plugin's records, the addresses the plugin gave with `reg.setEmails()` (kept in
 * `plugin_emails.ts`). Rate-limited; sending never blocks logging and never throws into the
 * caller.
 *
 * @module
 */
import type { ConnectionOptions } from "node:tls";
import { getLogger, type LogRecord, type Sink } from "@logtape/logtape";
// @ts-types="@types/nodemailer"
import nodemailer from "nodemailer";
import type { EmailConfig } from "../config/types.ts";
import { getLineFormatter } from "./format.ts";
import { recipientsFor } from "./plugin_emails.ts";
import { redact, registerSecret } from "./redact.ts";

/** Options of {@link getEmailSink}. */
export interface EmailSinkOptions {
  /** The time source for rate limiting; `Date.now` by default. */
  readonly clock?: () => number;
  /** TLS options for the SMTP connection (e.g. a private CA); system defaults otherwise. */
  readonly tls?: ConnectionOptions;
}

const ownCategory = ["sgevents", "email"];

/**
 * Creates the mail sink. Attach it behind an error-level filter.
 *
 * @param config The `email` section.
 * @param options Clock and TLS options.
 * @returns The sink; disposing it waits (up to 10 s) for mails in flight, then disconnects;
 *   a second disposal does nothing.
 */
export function getEmailSink(
  config: EmailConfig,
  options?: EmailSinkOptions,
): Sink & AsyncDisposable {
  const clock = options?.clock ?? Date.now;
  if (config.password !== null) registerSecret(config.password);
  const transport = nodemailer.createTransport({
    host: config.server,
    port: config.port,
    secure: config.security === "tls",
    requireTLS: config.security === "starttls",
    ignoreTLS: config.security === "none",
    ...(config.username === null
      ? {}
      : { auth: { user: config.username, pass: config.password ?? "" } }),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    ...(options?.tls === undefined ? {} : { tls: options.tls }),
  });
  const formatter = getLineFormatter();
  const logger = getLogger(ownCategory);
  const sent: number[] = [];
  let suppressed = 0;
  let lastFailureLog = Number.NEGATIVE_INFINITY;
  let queue: Promise<void> = Promise.resolve();
  let closed = false;

  const send = async (mail: { to: string[]; subject: string; text: string }) => {
    try {
      await transport.sendMail({ from: config.from, ...mail });
    } catch (error) {
      const now = clock();
      if (now - lastFailureLog < config.rateWindowMs) return;
      lastFailureLog = now;
      logger.warn("Cannot send error mail via {server}:{port}: {reason}", {
        server: config.server,
        port: config.port,
        reason: redact(error instanceof Error ? error.message : String(error)),
      });
    }
  };

  const sink = (record: LogRecord): void => {
    if (closed) return;
    if (ownCategory.every((part, index) => record.category[index] === part)) return;
    const to = recipientsFor(record.category, config.to);
    if (to.length === 0) return;
    const now = clock();
    while (sent.length > 0 && (sent[0] ?? 0) <= now - config.rateWindowMs) sent.shift();
    if (sent.length >= config.rateLimit) {
      suppressed++;
      return;
    }
    sent.push(now);
    const plugin = record.category[1] === "plugin" ? record.category[2] ?? "daemon" : "daemon";
    const subject = config.subject.replaceAll("{plugin}", plugin).replaceAll(
      "{level}",
      record.level,
    );
    let text = formatter(record);
    if (suppressed > 0) {
      text += `\n(${suppressed} earlier error mail${suppressed === 1 ? " was" : "s were"} ` +
        `suppressed by the rate limit of ${config.rateLimit} per ${
          config.rateWindowMs / 1000
        } s)\n`;
      suppressed = 0;
    }
    const mail = { to, subject: redact(subject), text: redact(text) };
    queue = queue.then(() => send(mail));
  };

  return Object.assign(sink, {
    async [Symbol.asyncDispose]() {
      if (closed) return;
      closed = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      // Bounded so a stop stays prompt (SIGTERM within 2 s) when the mail server is slow;
      // whatever is not sent by then is in the log files anyway.
      const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, 1_500));
      await Promise.race([queue, timeout]);
      clearTimeout(timer);
      transport.close();
    },
  });
}
