/**
 * Formatters for sgevents' logs: text lines (plain or ANSI colour) that also show the
 * properties a message did not use and error stacks, JSON lines, and the timing log.
 * Every formatter here redacts registered secrets from its output.
 *
 * @module
 */
import {
  getAnsiColorFormatter,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogRecord,
  type TextFormatter,
} from "@logtape/logtape";
import { redact, redactValue } from "./redact.ts";

/**
 * Returns a copy of a record with secrets redacted from its message values and properties.
 *
 * @param record The record as logged.
 * @returns The record safe to write anywhere.
 */
export function redactRecord(record: LogRecord): LogRecord {
  return {
    ...record,
    message: redactValue(record.message as unknown[]),
    rawMessage: typeof record.rawMessage === "string"
      ? redact(record.rawMessage)
      : record.rawMessage,
    properties: redactValue(record.properties),
  };
}

function placeholders(record: LogRecord): Set<string> {
  const names = new Set<string>();
  if (typeof record.rawMessage === "string") {
    for (const match of record.rawMessage.matchAll(/\{([^{}]+)\}/g)) names.add(match[1] ?? "");
  }
  return names;
}

function render(value: unknown): string {
  return typeof value === "string"
    ? JSON.stringify(value)
    : Deno.inspect(value, { colors: false, breakLength: Infinity, depth: 4 });
}

/**
 * Text after a record's line: ` key=value` for properties the message did not use, and the
 * stack of an `Error` (property or message value) on the following lines.
 *
 * @param record The (already redacted) record.
 * @returns The suffix, empty when there is nothing more to show.
 */
export function recordDetails(record: LogRecord): string {
  const used = placeholders(record);
  let pairs = "";
  const stacks: string[] = [];
  for (const [key, value] of Object.entries(record.properties)) {
    if (value instanceof Error) stacks.push(value.stack ?? `${value.name}: ${value.message}`);
    else if (used.has(key)) continue;
    // A stack sent as text (from a plugin's Worker) reads as lines, like an Error's.
    else if (key === "stack" && typeof value === "string") stacks.push(value);
    else pairs += ` ${key}=${render(value)}`;
  }
  for (const value of record.message) {
    if (value instanceof Error && !Object.values(record.properties).includes(value)) {
      stacks.push(value.stack ?? `${value.name}: ${value.message}`);
    }
  }
  const stackText = stacks.map((stack) => `\n    ${stack.replaceAll("\n", "\n    ")}`).join("");
  return pairs + stackText;
}

/**
 * The text line formatter for files, mails and the plain or pretty console.
 *
 * @param options `colors` for ANSI colours (a terminal).
 * @returns A formatter producing one record per line (plus stack lines), secrets redacted.
 */
export function getLineFormatter(options?: { readonly colors?: boolean }): TextFormatter {
  // Strings read as text inside messages ("Cannot read events after id 5", not quoted).
  const value = "bare";
  // New lines in messages and values stay new lines (a stack in `{stack}` reads as lines);
  // the lines after the first are indented below, so no text can pass for a record of its own.
  const sanitize = { newlines: "preserve" } as const;
  const base = options?.colors === true
    ? getAnsiColorFormatter({ timestamp: "date-time-tz", category: ".", value, sanitize })
    : getTextFormatter({ timestamp: "date-time-tz", category: ".", value, sanitize });
  return (record) => {
    const safe = redactRecord(record);
    const line = base(safe).replace(/\r?\n$/, "").replace(/\r?\n/g, "\n    ");
    return redact(`${line}${recordDetails(safe)}\n`);
  };
}

/**
 * The JSON lines formatter (one JSON object per record), secrets redacted.
 *
 * @returns The formatter.
 */
export function getJsonFormatter(): TextFormatter {
  const base = getJsonLinesFormatter({ properties: "nest:properties" });
  return (record) => {
    const safe = redactRecord(record);
    const properties: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(safe.properties)) {
      properties[key] = value instanceof Error
        ? { name: value.name, message: value.message, stack: value.stack }
        : value;
    }
    return redact(base({ ...safe, properties }));
  };
}

/**
 * The timing log's formatter: one `key=value` line per callback, from the properties that
 * {@link import("./timing.ts").logCallbackTiming} records.
 *
 * @returns The formatter.
 */
export function getTimingFormatter(): TextFormatter {
  return (record) => {
    const safe = redactRecord(record);
    const p = safe.properties;
    const fields = [
      new Date(safe.timestamp).toISOString(),
      `plugin=${String(p["plugin"])}`,
      `callback=${String(p["callback"])}`,
      `event=${String(p["eventId"])}`,
      `duration_ms=${String(p["durationMs"])}`,
      `delay_ms=${String(p["delayMs"])}`,
      `ok=${String(p["ok"] ?? true)}`,
    ];
    return redact(`${fields.join(" ")}\n`);
  };
}
