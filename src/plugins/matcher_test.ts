import assert from "node:assert/strict";
import { compileMatchEvents, eventTypesOf, normalizeMatchEvents } from "./matcher.ts";
import type { MatchEvents } from "./mod.ts";

const taskStatus = { event_type: "Shotgun_Task_Change", attribute_name: "sg_status_list" };
const taskDesc = { event_type: "Shotgun_Task_Change", attribute_name: "description" };
const shotStatus = { event_type: "Shotgun_Shot_Change", attribute_name: "sg_status_list" };
const shotNew = { event_type: "Shotgun_Shot_New", attribute_name: null };
const login = { event_type: "Shotgun_User_Login", attribute_name: null };
const events = { taskStatus, taskDesc, shotStatus, shotNew, login };

type Case = [string, MatchEvents | null | undefined, (keyof typeof events)[]];

const cases: Case[] = [
  ["undefined matches all", undefined, [
    "taskStatus",
    "taskDesc",
    "shotStatus",
    "shotNew",
    "login",
  ]],
  ["null matches all", null, ["taskStatus", "taskDesc", "shotStatus", "shotNew", "login"]],
  ["{} matches all", {}, ["taskStatus", "taskDesc", "shotStatus", "shotNew", "login"]],
  ["'*': null matches all", { "*": null }, [
    "taskStatus",
    "taskDesc",
    "shotStatus",
    "shotNew",
    "login",
  ]],
  ["'*': '*' matches all", { "*": "*" }, [
    "taskStatus",
    "taskDesc",
    "shotStatus",
    "shotNew",
    "login",
  ]],
  ["type with null", { Shotgun_Task_Change: null }, ["taskStatus", "taskDesc"]],
  ["type with '*'", { Shotgun_Task_Change: "*" }, ["taskStatus", "taskDesc"]],
  ["type with list containing '*'", { Shotgun_Task_Change: ["x", "*"] }, [
    "taskStatus",
    "taskDesc",
  ]],
  ["type with list", { Shotgun_Task_Change: ["sg_status_list"] }, ["taskStatus"]],
  ["string value is one exact name", { Shotgun_Task_Change: "sg_status_list" }, ["taskStatus"]],
  // The Python daemon's bug: `"status" in "sg_status_list"` was a substring match.
  ["string value is not a substring", { Shotgun_Task_Change: "status" }, []],
  ["list value is not a substring", { Shotgun_Task_Change: ["status"] }, []],
  ["'*' key with a list", { "*": ["sg_status_list"] }, ["taskStatus", "shotStatus"]],
  ["pattern key", { "Shotgun_*_Change": ["sg_status_list"] }, ["taskStatus", "shotStatus"]],
  ["pattern prefix", { "Shotgun_Shot_*": null }, ["shotStatus", "shotNew"]],
  ["pattern is anchored at both ends", { "Shotgun_*_Chang": null, "hotgun_*": null }, []],
  ["regex characters in keys are literal", { "Shotgun.Task.Change": null }, []],
  ["a list never matches a null attribute", { Shotgun_Shot_New: ["code"] }, []],
  ["several keys are a union", { Shotgun_Shot_New: null, Shotgun_User_Login: null }, [
    "shotNew",
    "login",
  ]],
  // Python consulted only '*' when present; here every matching key counts.
  ["'*' and a specific key are a union", {
    "*": ["description"],
    Shotgun_Shot_Change: null,
  }, ["taskDesc", "shotStatus"]],
];

Deno.test("compileMatchEvents() matches as documented", async (t) => {
  for (const [title, matchEvents, expected] of cases) {
    await t.step(title, () => {
      const wants = compileMatchEvents(matchEvents);
      const matched = Object.entries(events).filter(([, e]) => wants(e)).map(([k]) => k);
      assert.deepEqual(matched, expected);
    });
  }
});

Deno.test("compileMatchEvents() rejects invalid shapes with a TypeError", async (t) => {
  const invalid: [string, unknown, string][] = [
    ["an array", ["Shotgun_Task_Change"], "expected an object"],
    ["a string", "Shotgun_Task_Change", "expected an object"],
    ["a Map", new Map(), "expected a plain object"],
    ["an empty key", { "": null }, 'Invalid matchEvents key ""'],
    ["a number value", { Shotgun_Task_Change: 3 }, 'Invalid matchEvents["Shotgun_Task_Change"]'],
    ["an object value", { Shotgun_Task_Change: {} }, "expected null"],
    ["an empty list", { Shotgun_Task_Change: [] }, "an empty list matches nothing"],
    ["a non-string in a list", { Shotgun_Task_Change: ["a", 1] }, '["Shotgun_Task_Change"][1]'],
    ["an empty attribute", { Shotgun_Task_Change: "" }, "cannot be empty"],
  ];
  for (const [title, value, message] of invalid) {
    await t.step(title, () => {
      assert.throws(() => compileMatchEvents(value as MatchEvents), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.ok(error.message.includes(message), error.message);
        return true;
      });
    });
  }
});

Deno.test("normalizeMatchEvents() returns a plain copy with lists or null", () => {
  const input = { A: "x", B: ["y", "z"], C: "*", D: ["*", "q"], E: null };
  const expected = { A: ["x"], B: ["y", "z"], C: null, D: null, E: null };
  assert.deepEqual(normalizeMatchEvents(input), expected);
  assert.deepEqual(structuredClone(normalizeMatchEvents(input)), expected);
});

Deno.test("eventTypesOf() lists the types callbacks match, or null when one matches any type", () => {
  const n = normalizeMatchEvents;
  assert.deepEqual(
    eventTypesOf([n({ Shotgun_Version_New: null }), n({ "Shotgun_*_Change": "sg_status_list" })]),
    ["Shotgun_*_Change", "Shotgun_Version_New"],
  );
  assert.equal(eventTypesOf([n({ Shotgun_Version_New: null }), n({})]), null);
  assert.equal(eventTypesOf([n({ "*": ["sg_status_list"] })]), null);
  assert.equal(eventTypesOf([n({ "**": null })]), null);
  assert.deepEqual(eventTypesOf([]), []);
});
