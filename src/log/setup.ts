/**
 * Configures LogTape for the daemon: console, rotating files (daemon and per plugin), the
 * timing log and error mails, with levels per category and secrets redacted everywhere.
 *
 * Categories: `["sgevents", <part>]` for the daemon (engine, poller, state, plugins,
 * shotgrid), `["sgevents", "plugin", <name>]` for each plugin's logger and
 * `["sgevents", "timing"]` for the timing log.
 *
 * @module
 */
import type { ConnectionOptions } from "node:tls";
import { join } from "node:path";
import { getRotatingFileSink } from "@logtape/file";
import {
  configure,
  dispose,
  getStreamSink,
  type LoggerConfig,
  type Sink,
  withFilter,
} from "@logtape/logtape";
import type { EmailConfig, LoggingConfig } from "../config/types.ts";
import { getJsonFormatter, getLineFormatter, getTimingFormatter } from "./format.ts";
import { getCategoryFileSink } from "./plugin_sinks.ts";

/** Options of {@link setupLogging}. */
export interface SetupLoggingOptions {
  /** The `email` section; mails are sent when it is enabled. */
  readonly email?: EmailConfig;
  /** Log to the console (default `true`). */
  readonly console?: boolean;
  /** Where console lines go; standard error by default (it is never closed). */
  readonly consoleStream?: WritableStream<Uint8Array>;
  /** Clock for the mail rate limit. */
  readonly clock?: () => number;
  /** TLS options for SMTP (e.g. a private CA). */
  readonly emailTls?: ConnectionOptions;
}

type SinkId = "console" | "files" | "timing" | "email";

/**
 * Configures logging for the process (LogTape is global: this replaces any earlier setup).
 *
 * @param config The `logging` section.
 * @param options Mail settings and console options.
 * @returns A handle whose disposal flushes and closes every sink.
 */
export async function setupLogging(
  config: LoggingConfig,
  options?: SetupLoggingOptions,
): Promise<AsyncDisposable> {
  const sinks: Partial<Record<SinkId, Sink>> = {};
  if (options?.console !== false) {
    const stream = options?.consoleStream ?? Deno.stderr.writable;
    const pretty = config.format === "pretty" ||
      (config.format === "auto" && options?.consoleStream === undefined &&
        Deno.stderr.isTerminal());
    sinks.console = getStreamSink(stream, {
      formatter: config.format === "json"
        ? getJsonFormatter()
        : getLineFormatter({ colors: pretty }),
      closeStream: false,
    });
  }
  if (config.dir !== null) {
    sinks.files = getCategoryFileSink({
      dir: config.dir,
      perPlugin: config.perPlugin,
      maxFileBytes: config.maxFileBytes,
      maxFiles: config.maxFiles,
      formatter: getLineFormatter(),
    });
    if (config.timing) {
      sinks.timing = getRotatingFileSink(join(config.dir, "timing.log"), {
        formatter: getTimingFormatter(),
        maxSize: config.maxFileBytes,
        maxFiles: config.maxFiles,
        bufferSize: 0,
      });
    }
  }
  let email: (Sink & AsyncDisposable) | undefined;
  if (options?.email?.enabled === true) {
    // Loaded only when mail is enabled: a daemon without email never loads nodemailer.
    const { getEmailSink } = await import("./email.ts");
    email = getEmailSink(options.email, {
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.emailTls === undefined ? {} : { tls: options.emailTls }),
    });
    const mailer = email;
    sinks.email = Object.assign(withFilter(mailer, "error"), {
      [Symbol.asyncDispose]: () => mailer[Symbol.asyncDispose](),
    });
  }
  const daemonSinks = (["console", "files", "email"] as const).filter((id) => id in sinks);
  const loggers: LoggerConfig<SinkId, never>[] = [
    {
      category: ["sgevents"],
      sinks: daemonSinks,
      lowestLevel: config.levels["sgevents"] ?? config.level,
    },
    // The timing log is a file of its own: never the console, never mail.
    {
      category: ["sgevents", "timing"],
      sinks: sinks.timing === undefined ? [] : ["timing"],
      parentSinks: "override",
      lowestLevel: sinks.timing === undefined ? null : "info",
    },
    {
      category: ["logtape", "meta"],
      sinks: (["console", "files"] as const).filter((id) => id in sinks),
      lowestLevel: "warning",
    },
  ];
  for (const [name, level] of Object.entries(config.levels)) {
    const category = name.split(".");
    if (name === "sgevents" || (category[0] === "sgevents" && category[1] === "timing")) continue;
    // "forward": the daemon's sinks apply with this category's own level, finer or coarser.
    loggers.push({ category, parentSinks: "forward", lowestLevel: level });
  }
  await configure({ sinks: sinks as Record<SinkId, Sink>, loggers, reset: true });
  return {
    async [Symbol.asyncDispose]() {
      // Mails first: a failure to send is logged, and the other sinks must still be open.
      await email?.[Symbol.asyncDispose]();
      await dispose();
    },
  };
}
