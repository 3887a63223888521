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
  } catch (error) {
    const { code, message } = exitFor(error);
    if (message) console.error(message);
    Deno.exit(code);
  }
}
