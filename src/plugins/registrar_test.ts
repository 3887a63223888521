import assert from "node:assert/strict";
import type { Callback, PluginLogger } from "./mod.ts";
import { createPluginLogger } from "./plugin_logger.ts";
import { PluginRegistrar } from "./registrar.ts";

const logger: PluginLogger = createPluginLogger(() => {});
const onEvent: Callback = () => {};

function throwsType(fn: () => void, part: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TypeError, String(error));
    assert.ok(error.message.includes(part), error.message);
    return true;
  });
}

Deno.test("PluginRegistrar.registerCallback() accepts the positional and options forms", () => {
  const reg = new PluginRegistrar("p", logger);
  const state = { count: 0 };
  reg.registerCallback(
    "script",
    "key",
    onEvent,
    { Shotgun_Task_Change: "sg_status_list" },
    state,
    false,
  );
  reg.registerCallback({
    scriptName: "script2",
    scriptKey: "key2",
    callback: (_sg, _log, _event, _args) => {},
    matchEvents: { "*": null },
    args: state,
    timeoutMs: 500,
  });
  reg.registerCallback("script", "key", onEvent);
  const [first, second, third] = reg.registrations;
  assert.equal(first?.name, "onEvent");
  assert.deepEqual(first?.matchEvents, { Shotgun_Task_Change: ["sg_status_list"] });
  assert.equal(first?.stopOnError, false);
  assert.equal(first?.args, state, "args is passed by reference (shared state)");
  assert.equal(second?.name, "callback#2", "anonymous callbacks are numbered");
  assert.equal(second?.timeoutMs, 500);
  assert.equal(second?.stopOnError, true, "stopOnError defaults to true");
  assert.equal(third?.name, "onEvent#2", "names stay unique");
  assert.equal(third?.timeoutMs, null);
});

Deno.test("PluginRegistrar.registerCallback() rejects invalid registrations", async (t) => {
  const cases: [string, unknown[], string][] = [
    ["empty script name", ["", "k", onEvent], "Invalid scriptName"],
    ["non-string key", ["s", 3, onEvent], 'Invalid scriptKey for script "s"'],
    ["empty key", ["s", "", onEvent], "Invalid scriptKey"],
    ["non-function callback", ["s", "k", "onEvent"], "expected a function, got string"],
    ["bad matchEvents", ["s", "k", onEvent, ["Shotgun_Task_Change"]], "Invalid matchEvents"],
    ["bad stopOnError", ["s", "k", onEvent, null, null, "yes"], "Invalid stopOnError"],
    ["too many arguments", ["s", "k", onEvent, null, null, true, 1], "at most 6 arguments"],
    [
      "unknown option",
      [{ scriptName: "s", scriptKey: "k", callback: onEvent, matchevents: {} }],
      'option "matchevents"',
    ],
    [
      "bad timeout",
      [{ scriptName: "s", scriptKey: "k", callback: onEvent, timeoutMs: -1 }],
      "Invalid timeoutMs -1",
    ],
  ];
  for (const [title, args, part] of cases) {
    await t.step(title, () => {
      const reg = new PluginRegistrar("p", logger);
      throwsType(() => (reg.registerCallback as (...a: unknown[]) => void)(...args), part);
      assert.equal(reg.registrations.length, 0);
    });
  }
});

Deno.test("PluginRegistrar.setEmails() takes addresses, false or true", () => {
  const reg = new PluginRegistrar("p", logger);
  assert.equal(reg.emails, true, "default: the configured recipients");
  reg.setEmails("a@b.com", "c@d.org");
  assert.deepEqual(reg.emails, ["a@b.com", "c@d.org"]);
  reg.setEmails(false);
  assert.equal(reg.emails, false);
  throwsType(() => reg.setEmails("not an address"), 'Invalid email address "not an address"');
  throwsType(() => reg.setEmails(), "expected addresses");
  assert.equal(reg.getLogger(), reg.logger);
});

Deno.test("PluginRegistrar.seal() refuses registrations after registerCallbacks returned", () => {
  const reg = new PluginRegistrar("late", logger);
  reg.seal();
  throwsType(
    () => reg.registerCallback("s", "k", onEvent),
    'for plugin "late" after registerCallbacks',
  );
  throwsType(() => reg.setEmails(false), "Cannot call setEmails");
});
