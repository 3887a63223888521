import assert from "node:assert/strict";
import { narrowTypes } from "./narrowing.ts";

Deno.test("narrowTypes() is the union of exact types, or null when any plugin wants more", () => {
  const cb = (matchEvents: Record<string, string[] | null> | null) => ({ matchEvents });
  assert.deepEqual(
    narrowTypes([[cb({ Shotgun_Task_Change: ["sg_status_list"] })], [
      cb({ Shotgun_Note_New: null }),
      cb({ Shotgun_Task_Change: null }),
    ]]),
    ["Shotgun_Note_New", "Shotgun_Task_Change"],
  );
  assert.equal(narrowTypes([[cb({ "*": null })]]), null);
  assert.equal(narrowTypes([[cb({ "Shotgun_*_New": null })]]), null);
  assert.equal(narrowTypes([[cb(null)]]), null);
  assert.equal(narrowTypes([[cb({})]]), null);
  assert.equal(narrowTypes([]), null);
});
