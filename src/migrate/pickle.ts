/**
 * A restricted reader for the Python daemon's pickled state (`eventIdFile`), protocols 0 to 5.
 *
 * Why not npm `pickleparser` (0.2.1, in the registry list): it handles protocols 0-5 and lets
 * a `nameResolver` throw on a global before anything is constructed, but (1) REDUCE calls
 * whatever callable is on the stack and BUILD runs `obj.__setstate__` or `Object.assign` on
 * any object, so safety would rest on every path through its interpreter, not on a whitelist
 * checked at each opcode; (2) dicts are plain objects by default, where a `__proto__` key
 * (SETITEM or BUILD) replaces the prototype; (3) its errors carry no byte offset or file, and
 * malformed streams (POP_MARK without MARK) are not refused. The daemon writes a tiny subset
 * of pickle, so this file is a small opcode interpreter with a whitelist instead: data
 * opcodes build values; GLOBAL/STACK_GLOBAL accept only `datetime.datetime` and
 * `_codecs.encode`; REDUCE accepts only those two with their exact argument shapes; BUILD,
 * INST, OBJ, NEWOBJ(_EX), PERSID, EXT*, sets and out-of-band buffers are refused. Nothing in
 * the file is ever called: a datetime is decoded from its 10-byte state here.
 *
 * @module
 */
import {
  bytesText,
  latin1,
  narrow,
  PickleError,
  type PickleValue,
  PyDateTime,
  PyTuple,
  rawUnicodeEscape,
} from "./pickle_values.ts";

export { PickleError, type PickleValue, PyDateTime, PyTuple } from "./pickle_values.ts";

const allowedGlobals = new Set(["datetime.datetime", "_codecs.encode"]);

class Global {
  constructor(readonly name: string) {}
}

/** Bytes made by `_codecs.encode`: only ever the state argument of a datetime. */
class Encoded {
  constructor(readonly bytes: Uint8Array) {}
}

/** A tuple holding {@link Encoded} bytes: only ever the arguments of a REDUCE. */
class CallArgs {
  constructor(readonly items: readonly (PickleValue | Encoded)[]) {}
}

const mark = Symbol("mark");
type Slot = PickleValue | Global | Encoded | CallArgs | typeof mark;

/** Opcodes no daemon state contains, by byte, with their pickletools names for messages. */
const refused: Record<number, string> = {
  0x62: "BUILD",
  0x69: "INST",
  0x6f: "OBJ",
  0x81: "NEWOBJ",
  0x92: "NEWOBJ_EX",
  0x50: "PERSID",
  0x51: "BINPERSID",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

/**
 * Reads a pickle, refusing anything but the data types the Python daemon writes.
 *
 * @param bytes The file's content.
 * @param file The file's path, for messages.
 * @returns The unpickled value.
 * @throws {PickleError} On a refused opcode or global (naming it and its byte offset) or a
 *   malformed stream; nothing from the file is run.
 */
export function readPickle(bytes: Uint8Array, file: string): PickleValue {
  return new Reader(bytes, file).run();
}

class Reader {
  #pos = 0;
  #at = 0;
  #stack: Slot[] = [];
  #marks: number[] = [];
  /** From the PROTO opcode; streams without one are protocol 0 or 1. */
  #protocol = 0;
  #memo = new Map<number, Slot>();
  readonly #view: DataView;

  constructor(readonly bytes: Uint8Array, readonly file: string) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(what: string): never {
    throw new PickleError(
      this.file,
      this.#at,
      `Cannot read pickled state "${this.file}": byte ${this.#at}: ${what}`,
    );
  }

  refuse(what: string): never {
    this.fail(
      `${what}, which a shotgunEvents state file never contains; refused without running anything`,
    );
  }

  run(): PickleValue {
    while (this.#pos < this.bytes.length) {
      this.#at = this.#pos;
      const op = this.bytes[this.#pos++]!;
      if (op === 0x2e) { // STOP
        if (this.#stack.length !== 1 || this.#marks.length > 0) this.fail("STOP with a bad stack");
        return this.value(this.#stack.pop()!, "the result");
      }
      this.step(op);
    }
    this.#at = this.#pos;
    this.fail("the file ends before the STOP opcode (truncated?)");
  }

  step(op: number): void {
    const s = this.#stack;
    switch (op) {
      case 0x80: { // PROTO
        const version = this.u8();
        if (version > 5) this.fail(`protocol ${version} is newer than 5`);
        this.#protocol = version;
        return;
      }
      case 0x95: // FRAME: framing only, the length is not needed.
        this.take(8);
        return;
      case 0x28: // MARK
        this.#marks.push(s.length);
        return;
      case 0x30: // POP
        this.pop();
        return;
      case 0x31: // POP_MARK
        this.popMark();
        return;
      case 0x32: // DUP
        s.push(this.top());
        return;
      case 0x70: // PUT
        this.#memo.set(this.lineInt(), this.top());
        return;
      case 0x71: // BINPUT
        this.#memo.set(this.u8(), this.top());
        return;
      case 0x72: // LONG_BINPUT
        this.#memo.set(this.u32(), this.top());
        return;
      case 0x94: // MEMOIZE
        this.#memo.set(this.#memo.size, this.top());
        return;
      case 0x67: // GET
        return this.get(this.lineInt());
      case 0x68: // BINGET
        return this.get(this.u8());
      case 0x6a: // LONG_BINGET
        return this.get(this.u32());
      case 0x4e: // NONE
        s.push(null);
        return;
      case 0x88: // NEWTRUE
        s.push(true);
        return;
      case 0x89: // NEWFALSE
        s.push(false);
        return;
      case 0x49: { // INT (protocol 0; "01"/"00" are True/False)
        const line = this.line();
        if (line === "01" || line === "00") s.push(line === "01");
        else s.push(this.decimal(line));
        return;
      }
      case 0x4c: // LONG: "123L" in protocol 0/1
        s.push(this.decimal(this.line().replace(/L$/, "")));
        return;
      case 0x4a: // BININT
        s.push(this.#view.getInt32(this.take(4), true));
        return;
      case 0x4b: // BININT1
        s.push(this.u8());
        return;
      case 0x4d: // BININT2
        s.push(this.#view.getUint16(this.take(2), true));
        return;
      case 0x8a: // LONG1
        s.push(this.littleEndian(this.u8()));
        return;
      case 0x8b: // LONG4
        s.push(this.littleEndian(this.u32()));
        return;
      case 0x46: { // FLOAT
        const line = this.line();
        const value = Number(line);
        if (Number.isNaN(value) && line.trim().toLowerCase() !== "nan") {
          this.fail(`FLOAT "${line}" is not a number`);
        }
        s.push(value);
        return;
      }
      case 0x47: // BINFLOAT
        s.push(this.#view.getFloat64(this.take(8), false));
        return;
      case 0x53: // STRING (Python 2 str, a quoted repr)
        s.push(this.pythonLiteral(this.line()));
        return;
      case 0x54: // BINSTRING
        s.push(this.bytesOf(this.#view.getInt32(this.take(4), true)));
        return;
      case 0x55: // SHORT_BINSTRING
        s.push(this.bytesOf(this.u8()));
        return;
      case 0x42: // BINBYTES
        s.push(this.bytesOf(this.u32()));
        return;
      case 0x43: // SHORT_BINBYTES
        s.push(this.bytesOf(this.u8()));
        return;
      case 0x8e: // BINBYTES8
        s.push(this.bytesOf(this.u64()));
        return;
      case 0x56: // UNICODE (raw-unicode-escape)
        s.push(rawUnicodeEscape(this.line()));
        return;
      case 0x58: // BINUNICODE
        s.push(this.utf8(this.u32()));
        return;
      case 0x8c: // SHORT_BINUNICODE
        s.push(this.utf8(this.u8()));
        return;
      case 0x8d: // BINUNICODE8
        s.push(this.utf8(this.u64()));
        return;
      case 0x7d: // EMPTY_DICT
        s.push(new Map());
        return;
      case 0x64: { // DICT
        const dict = new Map<PickleValue, PickleValue>();
        this.setItems(dict, this.popMark());
        s.push(dict);
        return;
      }
      case 0x73: { // SETITEM
        const value = this.pop();
        const key = this.pop();
        this.setItems(this.dictOnTop(), [key, value]);
        return;
      }
      case 0x75: { // SETITEMS
        const items = this.popMark();
        this.setItems(this.dictOnTop(), items);
        return;
      }
      case 0x5d: // EMPTY_LIST
        s.push([]);
        return;
      case 0x6c: // LIST
        s.push(this.popMark().map((item) => this.value(item, "a list item")));
        return;
      case 0x61: // APPEND
        this.appendTo([this.pop()]);
        return;
      case 0x65: // APPENDS
        this.appendTo(this.popMark());
        return;
      case 0x29: // EMPTY_TUPLE
        s.push(new PyTuple([]));
        return;
      case 0x74: // TUPLE
        s.push(this.tuple(this.popMark()));
        return;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: { // TUPLE3
        const items: Slot[] = [];
        for (let i = op - 0x84; i > 0; i--) items.unshift(this.pop());
        s.push(this.tuple(items));
        return;
      }
      case 0x63: // GLOBAL
        s.push(this.global(this.line(), this.line()));
        return;
      case 0x93: { // STACK_GLOBAL
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== "string" || typeof name !== "string") {
          this.fail("STACK_GLOBAL without a module and name string");
        }
        s.push(this.global(module, name));
        return;
      }
      case 0x52: { // REDUCE
        const args = this.pop();
        const callable = this.pop();
        s.push(this.reduce(callable, args));
        return;
      }
    }
    const name = refused[op];
    if (name !== undefined) this.refuse(`opcode ${name}`);
    this.fail(`unknown opcode 0x${op.toString(16).padStart(2, "0")}; not a pickle?`);
  }

  global(module: string, name: string): Global {
    // Python 3 reading protocol 0-2 maps Python 2 names; these two are the same in both.
    const full = `${module}.${name}`;
    if (!allowedGlobals.has(full)) this.refuse(`global "${full}"`);
    // Python 3 writes bytes through _codecs.encode only below protocol 3 (BINBYTES from 3 on).
    if (full === "_codecs.encode" && this.#protocol >= 3) {
      this.refuse(`global "${full}" in protocol ${this.#protocol}`);
    }
    return new Global(full);
  }

  reduce(callable: Slot, args: Slot): PickleValue | Encoded {
    if (!(callable instanceof Global)) this.refuse("opcode REDUCE on a value that is no global");
    if (!(args instanceof PyTuple) && !(args instanceof CallArgs)) {
      this.fail(`REDUCE of "${callable.name}" without an argument tuple`);
    }
    if (callable.name === "_codecs.encode") {
      const [text, encoding] = args.items;
      if (
        args.items.length !== 2 || typeof text !== "string" ||
        (encoding !== "latin1" && encoding !== "latin-1")
      ) {
        this.refuse(`call "_codecs.encode" with other arguments than (text, "latin1")`);
      }
      const out = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code > 255) this.fail(`"_codecs.encode" of a character beyond latin-1`);
        out[i] = code;
      }
      return new Encoded(out);
    }
    const [arg] = args.items;
    const state = arg instanceof Encoded ? arg.bytes : arg;
    if (args.items.length !== 1 || !(state instanceof Uint8Array) || state.length !== 10) {
      this.refuse(
        `call "datetime.datetime" with other arguments than its 10-byte state (a time zone or fields)`,
      );
    }
    return this.datetime(state);
  }

  datetime(b: Uint8Array): PyDateTime {
    const fields = {
      year: b[0]! * 256 + b[1]!,
      month: b[2]! & 0x7f,
      day: b[3]!,
      hour: b[4]!,
      minute: b[5]!,
      second: b[6]!,
      microsecond: (b[7]! << 16) | (b[8]! << 8) | b[9]!,
      fold: b[2]! >> 7,
    };
    const { year, month, day, hour, minute, second, microsecond } = fields;
    if (
      year < 1 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 59 || microsecond > 999_999
    ) {
      this.fail(`datetime state ${JSON.stringify(fields)} is not a valid date and time`);
    }
    return new PyDateTime(fields);
  }

  value(slot: Slot, what: string): PickleValue {
    if (slot === mark) this.fail(`a MARK where ${what} was expected`);
    if (slot instanceof Global) this.refuse(`global "${slot.name}" used as ${what}`);
    if (slot instanceof Encoded || slot instanceof CallArgs) {
      this.refuse(`bytes from "_codecs.encode" used as ${what}, not as a datetime's state`);
    }
    return slot;
  }

  tuple(items: Slot[]): PyTuple | CallArgs {
    const encoded = items.some((item) => item instanceof Encoded);
    const checked = items.map((item) =>
      item instanceof Encoded ? item : this.value(item, "a tuple item")
    );
    return encoded ? new CallArgs(checked) : new PyTuple(checked as PickleValue[]);
  }

  setItems(dict: Map<PickleValue, PickleValue>, items: Slot[]): void {
    if (items.length % 2 !== 0) this.fail("a dict with an odd number of keys and values");
    for (let i = 0; i < items.length; i += 2) {
      const key = this.value(items[i]!, "a dict key");
      if (typeof key === "object" && key !== null && !(key instanceof Uint8Array)) {
        this.fail("a dict key that is not a number or string");
      }
      // Bytes keys (Python 2 str names and paths) are compared by content: store them as text.
      const usable = key instanceof Uint8Array ? bytesText(key) : key;
      dict.set(usable, this.value(items[i + 1]!, "a dict value"));
    }
  }

  dictOnTop(): Map<PickleValue, PickleValue> {
    const top = this.top();
    if (!(top instanceof Map)) this.fail("SETITEM(S) on something that is not a dict");
    return top;
  }

  appendTo(items: Slot[]): void {
    const top = this.top();
    if (!Array.isArray(top)) this.fail("APPEND(S) on something that is not a list");
    for (const item of items) top.push(this.value(item, "a list item"));
  }

  get(index: number): void {
    const slot = this.#memo.get(index);
    if (slot === undefined) this.fail(`memo entry ${index} was never stored`);
    this.#stack.push(slot);
  }

  top(): Slot {
    const floor = this.#marks.at(-1) ?? 0;
    if (this.#stack.length <= floor) this.fail("the stack is empty");
    return this.#stack[this.#stack.length - 1]!;
  }

  pop(): Slot {
    this.top();
    return this.#stack.pop()!;
  }

  popMark(): Slot[] {
    const at = this.#marks.pop();
    if (at === undefined) this.fail("no MARK before this opcode");
    return this.#stack.splice(at);
  }

  take(n: number): number {
    if (this.#pos + n > this.bytes.length) this.fail("the file ends inside an opcode (truncated?)");
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  u8(): number {
    return this.bytes[this.take(1)]!;
  }

  u32(): number {
    return this.#view.getUint32(this.take(4), true);
  }

  u64(): number {
    const value = this.#view.getBigUint64(this.take(8), true);
    if (value > BigInt(this.bytes.length)) this.fail("a length beyond the end of the file");
    return Number(value);
  }

  bytesOf(n: number): Uint8Array {
    if (n < 0) this.fail("a negative length");
    const at = this.take(n);
    return this.bytes.slice(at, at + n);
  }

  utf8(n: number): string {
    const bytes = this.bytesOf(n);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      this.fail("a string that is not UTF-8");
    }
  }

  line(): string {
    const end = this.bytes.indexOf(0x0a, this.#pos);
    if (end < 0) this.fail("the file ends inside a line (truncated?)");
    const text = latin1(this.bytes.subarray(this.#pos, end));
    this.#pos = end + 1;
    return text;
  }

  lineInt(): number {
    const line = this.line();
    if (!/^\d+$/.test(line)) this.fail(`"${line}" is not a memo index`);
    return Number(line);
  }

  decimal(text: string): number | bigint {
    if (!/^[+-]?\d+$/.test(text.trim())) this.fail(`"${text}" is not an integer`);
    return narrow(BigInt(text.trim()));
  }

  littleEndian(n: number): number | bigint {
    const at = this.take(n);
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(this.bytes[at + i]!);
    if (n > 0 && this.bytes[at + n - 1]! & 0x80) value -= 1n << BigInt(8 * n);
    return narrow(value);
  }

  /** Python 2's repr of a str: quoted, with \\, \', \n, \r, \t and \xNN escapes. */
  pythonLiteral(text: string): Uint8Array {
    const quote = text[0];
    if ((quote !== "'" && quote !== '"') || text.at(-1) !== quote || text.length < 2) {
      this.fail(`STRING ${JSON.stringify(text)} is not a quoted string`);
    }
    const body = text.slice(1, -1);
    const out: number[] = [];
    const simple: Record<string, number> = { n: 10, r: 13, t: 9, "\\": 92, "'": 39, '"': 34 };
    for (let i = 0; i < body.length; i++) {
      const c = body[i]!;
      if (c !== "\\") {
        out.push(c.charCodeAt(0));
        continue;
      }
      const next = body[++i];
      if (next === "x" && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 1, i + 3))) {
        out.push(parseInt(body.slice(i + 1, i + 3), 16));
        i += 2;
      } else if (next !== undefined && next in simple) out.push(simple[next]!);
      else this.fail(`STRING has an escape this reader does not know: "\\${next ?? ""}"`);
    }
    return Uint8Array.from(out);
  }
}
