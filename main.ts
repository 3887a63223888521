/**
 * The `sgevents` executable: `deno task sgevents ...`, or `dist/sgevents` once compiled.
 *
 * @module
 */
import { createProgram } from "./src/cli/app.ts";
import { exitFor } from "./src/cli/errors.ts";

if (import.meta.main) {
  try {
    await createProgram().parseAsync(Deno.args, { from: "user" });
    // Explicit: a plugin Worker stuck in a CPU loop survives terminate() in Deno, and
    // would otherwise keep the process alive after a clean stop.
    Deno.exit(0);
  } catch (error) {
    const { code, message } = exitFor(error);
    if (message) console.error(message);
    Deno.exit(code);
  }
}
