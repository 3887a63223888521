import assert from "node:assert/strict";
import { PyDateTime, PyTuple } from "./pickle.ts";
import { importState, localEpoch, textStateId } from "./state_import.ts";

const at = (year: number, month: number, day: number, hour: number) =>
  new PyDateTime({ year, month, day, hour, minute: 0, second: 0, microsecond: 0, fold: 0 });
const options = { file: "x.id", pluginPaths: ["/new"], now: localEpoch(at(2030, 6, 1, 12)) };

Deno.test("importState() takes each plugin's last id as its cursor and keeps waiting backlog ids", () => {
  const value = new Map([
    [
      "/new",
      new Map<unknown, unknown>([
        ["a", new PyTuple([50, new Map([[45, at(2030, 6, 1, 13)], [46, at(2030, 6, 1, 11)]])])],
        ["b", 40],
        ["c", new PyTuple([null, new Map()])],
        // A Python backlog fill rewound the last id below a backlog id: read again in order.
        ["d", new PyTuple([30, new Map([[33, at(2030, 6, 1, 13)]])])],
      ]),
    ],
  ]);
  const result = importState(value as never, options);
  assert.deepEqual(
    result.plugins.map((p) => [p.name, p.lastId, [...p.backlog], p.expired, p.covered]),
    [
      ["a", 50, [[45, localEpoch(at(2030, 6, 1, 13))]], [46], []],
      ["b", 40, [], [], []],
      ["d", 30, [], [], [33]],
    ],
  );
  assert.deepEqual(result.unstarted, ["c"]);
  assert.deepEqual(result.notes, []);
});

Deno.test("importState() takes the highest last id of a name found under several folders", () => {
  const value = new Map([
    ["/old", new Map([["a", new PyTuple([90, new Map([[88, at(2030, 6, 1, 13)]])])]])],
    ["/new", new Map([["a", new PyTuple([70, new Map()])]])],
  ]);
  const [a] = importState(value as never, options).plugins;
  assert.equal(a?.lastId, 90);
  assert.equal(a?.folder, "/old");
  assert.deepEqual([...a!.backlog.keys()], [88]);
  assert.deepEqual(a?.others, [{ folder: "/new", lastId: 70 }]);
  assert.match(
    importState(value as never, options).notes[0]!,
    /"\/old" is not in \[plugins\] paths/,
  );
});

Deno.test("importState() gives a folder's bare id to each plugin file found in it", () => {
  const value = new Map([["/new", 77]]);
  const listed = importState(value as never, { ...options, listPlugins: () => ["p", "q"] });
  assert.deepEqual(listed.plugins.map((p) => [p.name, p.lastId]), [["p", 77], ["q", 77]]);
  const unlisted = importState(value as never, { ...options, listPlugins: () => null });
  assert.deepEqual(unlisted.plugins, []);
  assert.match(unlisted.notes[0]!, /holds one id \(77\) for all its plugins, but cannot be listed/);
});

Deno.test("importState() names the path of a value that is not shaped like a daemon state", () => {
  const cases: [unknown, RegExp][] = [
    [[1], /the top level: expected a dict of plugin folders, found a list/],
    [
      new Map([["/p", new Map([["a", "x"]])]]),
      /"\/p" > "a": expected \(last id, backlog\) or an id, found the string "x"/,
    ],
    [
      new Map([["/p", new Map([["a", new PyTuple([1, new Map([[2, 3]])])]])]]),
      /"\/p" > "a" backlog 2: expected a datetime/,
    ],
    [new Map([["/p", new Map([["a", -4]])]]), /expected an event id, found number -4/],
    [new Map([["/p", new Map([["a", 2n ** 60n]])]]), /id 1152921504606846976 is beyond/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => importState(value as never, options), message);
  }
});

Deno.test("textStateId() reads the pre-pickle text id file and nothing else", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  assert.equal(textStateId(bytes("1000605\n")), 1000605);
  assert.equal(textStateId(bytes("(dp0\n")), null);
  assert.equal(textStateId(Uint8Array.of(0x80, 0x05)), null);
});

Deno.test("localEpoch() reads a naive datetime in the host's zone, fold picking the later of two", async () => {
  // A subprocess: the zone is fixed at start-up, so TZ is set for a fresh one.
  const module = new URL("./state_import.ts", import.meta.url).href;
  const pickle = new URL("./pickle.ts", import.meta.url).href;
  const code = `
    import { localEpoch } from "${module}";
    import { PyDateTime } from "${pickle}";
    const at = (month, day, hour, minute, fold) => new Date(localEpoch(new PyDateTime({
      year: 2030, month, day, hour, minute, second: 0, microsecond: 999999, fold,
    }))).toISOString();
    console.log(JSON.stringify([at(1, 15, 12, 0, 0), at(11, 3, 1, 30, 0), at(11, 3, 1, 30, 1)]));
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { TZ: "America/New_York" },
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(output.stdout)), [
    "2030-01-15T17:00:00.999Z",
    "2030-11-03T05:30:00.999Z",
    "2030-11-03T06:30:00.999Z",
  ]);
});
