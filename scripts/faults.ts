/**
 * `deno task faults`: the real daemon against the simulator under kills, a faulty site,
 * gaps in event ids and bad input; every plugin's deliveries are audited for missing and
 * repeated events. Prints each check, then `N passed, N failed` as the last line; exits 1
 * on any failure.
 *
 * Usage: deno task faults [--quick] [--only <scenario name part>]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { faultScenarios } from "./faults/suite.ts";
import { type Check, check } from "./faults/harness.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { quick: { type: "boolean", default: false }, only: { type: "string" } },
});
const started = Date.now();
let passed = 0;
let failed = 0;
for (const scenario of faultScenarios({ quick: values.quick ?? false })) {
  if (values.only && !scenario.name.includes(values.only)) continue;
  console.log(`\n== ${scenario.name}`);
  const at = Date.now();
  let checks: Check[];
  try {
    checks = await scenario.run();
  } catch (error) {
    checks = [check(`${scenario.name}: ran to the end`, false, String(error))];
  }
  for (const c of checks) {
    if (c.passed) passed++;
    else failed++;
    console.log(`${c.passed ? "PASS" : "FAIL"} ${c.name}${c.detail ? ` (${c.detail})` : ""}`);
  }
  console.log(`   ${((Date.now() - at) / 1000).toFixed(1)} s`);
}
console.log(`\nTotal ${((Date.now() - started) / 1000).toFixed(0)} s`);
console.log(`${passed} passed, ${failed} failed`);
if (failed > 0) Deno.exit(1);
