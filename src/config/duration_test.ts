import assert from "node:assert/strict";
import { parseDuration, parseSize } from "./duration.ts";

Deno.test("parseDuration() reads seconds, units and combinations", () => {
  const cases: [unknown, number | null][] = [
    [5, 5000],
    [0.5, 500],
    [0, 0],
    ["5", 5000],
    ["5s", 5000],
    ["500ms", 500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1h2m3s4ms", 3_723_004],
    [" 1.5s ", 1500],
    ["5x", null],
    ["", null],
    ["s", null],
    ["-5s", null],
    [-1, null],
    [Number.NaN, null],
    [true, null],
    [null, null],
    [[5], null],
  ];
  for (const [input, expected] of cases) {
    assert.equal(parseDuration(input), expected, `parseDuration(${JSON.stringify(input)})`);
  }
});

Deno.test("parseSize() reads bytes and binary units", () => {
  const cases: [unknown, number | null][] = [
    [1024, 1024],
    ["10MB", 10 * 1024 * 1024],
    ["512KB", 512 * 1024],
    ["512 KiB", 512 * 1024],
    ["1gb", 1024 ** 3],
    ["100", 100],
    ["100B", 100],
    ["10XB", null],
    ["MB", null],
    [-5, null],
    [false, null],
  ];
  for (const [input, expected] of cases) {
    assert.equal(parseSize(input), expected, `parseSize(${JSON.stringify(input)})`);
  }
});
