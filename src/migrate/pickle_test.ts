import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { PickleError, PyDateTime, PyTuple, readPickle } from "./pickle.ts";

const fixtures = fileURLToPath(new URL("../../tests/fixtures/python_state/", import.meta.url));
const read = (name: string) => readPickle(Deno.readFileSync(fixtures + name), name);

function dt(year: number, month: number, day: number, hour: number, minute: number, us = 0) {
  return new PyDateTime({ year, month, day, hour, minute, second: 0, microsecond: us, fold: 0 });
}

// What tests/fixtures/python_state/state_*.id hold (scripts/fixtures/make_python_state.py).
const expected = new Map<unknown, unknown>([
  [
    "/opt/shotgunEvents/plugins",
    new Map<unknown, unknown>([
      [
        "notify_status",
        new PyTuple([
          120,
          new Map([[117, dt(2099, 1, 15, 12, 0, 250000)], [118, dt(2001, 1, 1, 0, 0)]]),
        ]),
      ],
      ["assign_task", new PyTuple([118, new Map()])],
      ["legacy_counter", 95],
      ["big_ids", new PyTuple([3000000000, new Map([[2999999999, dt(2099, 7, 1, 8, 30)]])])],
    ]),
  ],
  [
    "/mnt/old/plugins",
    new Map<unknown, unknown>([
      ["notify_status", new PyTuple([101, new Map()])],
      ["assign_task", new PyTuple([119, new Map([[116, dt(2099, 1, 15, 12, 0, 250000)]])])],
    ]),
  ],
]);

Deno.test("readPickle() reads the daemon's state as Python wrote it in protocols 0 to 5 and the Python 2 shapes", () => {
  for (
    const name of [0, 1, 2, 3, 4, 5].map((p) => `state_p${p}.id`).concat(
      "state_py2_p0.id",
      "state_py2_p2.id",
    )
  ) {
    assert.deepStrictEqual(read(name), expected, name);
  }
});

Deno.test("readPickle() refuses globals and objects a state never holds, naming the file, what and where", () => {
  const cases: [string, RegExp][] = [
    ["evil_system.id", /"evil_system\.id": byte 70: global "posix\.system"/],
    ["evil_eval.id", /"evil_eval\.id": byte 48: global "builtins\.eval"/],
    ["evil_object.id", /byte 35: global "copy_reg\._reconstructor"/],
    ["evil_build.id", /"evil_build\.id": byte 28: opcode BUILD/],
  ];
  for (const [name, message] of cases) {
    assert.throws(() => read(name), (error: unknown) => {
      assert.ok(error instanceof PickleError, name);
      assert.equal(error.file, name);
      assert.match(error.message, message);
      assert.match(error.message, /refused without running anything/);
      return true;
    });
  }
});

Deno.test("readPickle() refuses REDUCE and argument shapes other than the two whitelisted calls", () => {
  const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
  const cases: [string, string, RegExp][] = [
    // A REDUCE whose callable is data, not a global.
    ["reduce-on-data", "\x80\x02))R.", /byte 4: opcode REDUCE on a value that is no global/],
    // datetime with a second argument (a tzinfo) or not 10 bytes.
    [
      "datetime-two-args",
      "\x80\x03cdatetime\ndatetime\nC\x0a\x07\xd0\x01\x01\x00\x00\x00\x00\x00\x00N\x86R.",
      /call "datetime\.datetime" with other arguments/,
    ],
    ["datetime-short", "\x80\x03cdatetime\ndatetime\nC\x02ab\x85R.", /call "datetime\.datetime"/],
    [
      "codecs-other-encoding",
      "\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x04\x00\x00\x00utf8\x86R.",
      /call "_codecs\.encode" with other arguments/,
    ],
    [
      "global-as-result",
      "\x80\x02cdatetime\ndatetime\n.",
      /global "datetime\.datetime" used as the result/,
    ],
    ["stack-global", "\x80\x04\x8c\x02os\x8c\x06system\x93.", /byte 14: global "os\.system"/],
    ["newobj", "\x80\x02))\x81.", /byte 4: opcode NEWOBJ/],
    // _codecs.encode carries a datetime's bytes in protocols 0-2 and is nothing else.
    [
      "codecs-as-data",
      "\x80\x02}X\x01\x00\x00\x00kc_codecs\nencode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00latin1\x86Rs.",
      /byte 44: bytes from "_codecs\.encode" used as a dict value, not as a datetime's state/,
    ],
    [
      "codecs-protocol-4",
      "\x80\x04c_codecs\nencode\n.",
      /byte 2: global "_codecs\.encode" in protocol 4/,
    ],
    ["inst", "(ios\nsystem\n.", /opcode INST/],
    ["set", "\x80\x04\x8f.", /opcode EMPTY_SET/],
  ];
  for (const [name, text, message] of cases) {
    assert.throws(() => readPickle(bytes(text), name), message, name);
  }
});

Deno.test("readPickle() refuses malformed streams with the offset", () => {
  const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
  assert.throws(() => readPickle(bytes("\x80\x05}"), "t"), /byte 3: the file ends before the STOP/);
  assert.throws(() => readPickle(bytes("\x80\x06}."), "t"), /protocol 6 is newer than 5/);
  assert.throws(() => readPickle(bytes("1."), "t"), /byte 0: no MARK/);
  assert.throws(() => readPickle(bytes("\x80\x02h\x05."), "t"), /memo entry 5 was never stored/);
  assert.throws(() => readPickle(bytes("\x80\x02X\xff\x00\x00\x00ab."), "t"), /truncated/);
  assert.throws(() => readPickle(bytes("1000605\n"), "t"), /byte 0: no MARK/);
  assert.throws(() => readPickle(bytes("\x80\x02\xfe."), "t"), /unknown opcode 0xfe/);
});

Deno.test("readPickle() decodes protocol 0 booleans, longs and negative LONG1", () => {
  const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
  assert.deepStrictEqual(
    readPickle(bytes("(I01\nI00\nL12345678901234567890L\nt."), "t"),
    new PyTuple([true, false, 12345678901234567890n]),
  );
  assert.equal(readPickle(bytes("\x80\x02\x8a\x01\xff."), "t"), -1);
  assert.equal(readPickle(bytes("\x80\x02\x8a\x05\x00\x5e\xd0\xb2\x00."), "t"), 3000000000);
});

Deno.test("readPickle() decodes escaped Windows paths and non-ASCII names in every string opcode", () => {
  const names = new Map([
    ["C:\\studio\\plugins été\n", new Map([["café_✓", new PyTuple([5, new Map()])]])],
  ]);
  for (const name of ["names_p0.id", "names_p5.id", "names_py2_p0.id"]) {
    assert.deepStrictEqual(read(name), names, name);
  }
});
