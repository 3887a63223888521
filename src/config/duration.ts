/**
 * Durations and sizes as users write them in the config: `5s`, `500ms`, `1m30s`, `10MB`.
 *
 * @module
 */

const durationUnits: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const durationPart = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
const plainNumber = /^\d+(?:\.\d+)?$/;

/**
 * Parses a duration: a number of seconds (`5`, `0.5`, `"5"`) or a string of number-unit
 * pairs with units `ms`, `s`, `m`, `h` (`"500ms"`, `"2m"`, `"1m30s"`).
 *
 * @param value The value from the config file.
 * @returns The duration in whole milliseconds, or `null` when it is not a duration
 *   (negative, empty, unknown unit, not a number or string).
 */
export function parseDuration(value: unknown): number | null {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : null;
  }
  if (typeof value !== "string") return null;
  const text = value.trim().toLowerCase();
  if (plainNumber.test(text)) return Math.round(Number(text) * 1000);
  if (text === "") return null;
  let total = 0;
  durationPart.lastIndex = 0;
  while (durationPart.lastIndex < text.length) {
    const match = durationPart.exec(text);
    if (match === null) return null;
    total += Number(match[1]) * (durationUnits[match[2] ?? ""] ?? Number.NaN);
  }
  return Number.isFinite(total) ? Math.round(total) : null;
}

const sizeUnits: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};
const sizePattern = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/;

/**
 * Parses a size: a number of bytes or a string with a binary unit (`512KB`, `10MB`, `1GiB`;
 * KB and KiB are both 1024 bytes, as log rotation settings usually mean).
 *
 * @param value The value from the config file.
 * @returns The size in whole bytes, or `null` when it is not a size.
 */
export function parseSize(value: unknown): number | null {
  if (typeof value === "number") {
    return Number.isFinite(value) && value >= 0 ? Math.round(value) : null;
  }
  if (typeof value !== "string") return null;
  const match = sizePattern.exec(value.trim().toLowerCase());
  if (match === null) return null;
  const unit = sizeUnits[match[2] ?? ""];
  return unit === undefined ? null : Math.round(Number(match[1]) * unit);
}
