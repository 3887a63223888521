/**
 * The fault suite, scaled down (`deno task faults --quick`): every check is a test step.
 */
import assert from "node:assert/strict";
import { faultScenarios } from "../scripts/faults/suite.ts";

for (const scenario of faultScenarios({ quick: true })) {
  Deno.test(`faultScenarios() ${scenario.name}: nothing lost, nothing repeated`, {
    sanitizeResources: false,
    sanitizeOps: false,
  }, async (t) => {
    const checks = await scenario.run();
    assert.ok(checks.length > 0, "the scenario made no checks");
    for (const c of checks) {
      await t.step(c.name, () => assert.ok(c.passed, c.detail));
    }
  });
}
