/**
 * The values the restricted pickle reader produces, its error, and the text decodings of
 * pickle strings (Python 2 `str`, raw-unicode-escape).
 *
 * @module
 */

/** A Python tuple (kept apart from lists: the daemon's plugin state is a 2-tuple). */
export class PyTuple {
  /**
   * @param items The tuple's items.
   */
  constructor(readonly items: readonly PickleValue[]) {}
}

/** A naive `datetime.datetime`, as its fields (no zone: the daemon wrote local time). */
export class PyDateTime {
  /**
   * @param fields The calendar fields; `fold` 1 is the second of two equal local times.
   */
  constructor(
    readonly fields: {
      readonly year: number;
      readonly month: number;
      readonly day: number;
      readonly hour: number;
      readonly minute: number;
      readonly second: number;
      readonly microsecond: number;
      readonly fold: number;
    },
  ) {}
}

/** A value the reader can produce. Ints beyond 2^53 are bigints; Python 2 `str` is bytes. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PyTuple
  | PyDateTime
  | Map<PickleValue, PickleValue>;

/** A pickle that is malformed or contains something a daemon state file never does. */
export class PickleError extends Error {
  /** The file read. */
  readonly file: string;
  /** Byte offset of the opcode concerned. */
  readonly offset: number;
  /**
   * @param file The file read.
   * @param offset Byte offset of the opcode concerned.
   * @param message The whole message.
   */
  constructor(file: string, offset: number, message: string) {
    super(message);
    this.name = "PickleError";
    this.file = file;
    this.offset = offset;
  }
}

/**
 * A bigint as a number when it is a safe integer.
 *
 * @param value The integer.
 * @returns A number, or the bigint when beyond 2^53.
 */
export function narrow(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

/**
 * Bytes as latin-1 text (each byte one code unit).
 *
 * @param bytes The bytes.
 * @returns The text.
 */
export function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return text;
}

/**
 * Bytes as UTF-8 text, or latin-1 when they are not UTF-8 (Python 2 paths can be either).
 *
 * @param bytes The bytes.
 * @returns The text.
 */
export function bytesText(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return latin1(bytes);
  }
}

/**
 * Decodes Python's raw-unicode-escape (protocol 0 UNICODE lines): latin-1 bytes with
 * \uXXXX and \UXXXXXXXX escapes (the pickler escapes every backslash, so each one starts one).
 *
 * @param text The line as latin-1 text.
 * @returns The string.
 */
export function rawUnicodeEscape(text: string): string {
  return text.replace(
    /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
    (_, four?: string, eight?: string) => String.fromCodePoint(parseInt(four ?? eight!, 16)),
  );
}
