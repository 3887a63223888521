/**
 * The `sgevents` executable: `deno task sgevents ...`, or `dist/sgevents` once compiled.
 *
 * @module
 */
import { watchSignalsEarly } from "./src/cli/shutdown.ts";

if (import.meta.main && Deno.args[0] === "__strip-types") {
  // The plugin loader's type stripper (src/plugins/type_stripper.ts), a child of the daemon.
  const { serve } = await import("./src/plugins/strip_main.ts");
  await serve();
} else if (import.meta.main) {
  // Before the rest of the program loads: a SIGTERM while the daemon starts is a clean stop.
  if (Deno.args[0] === "daemon") watchSignalsEarly();
  const { createProgram } = await import("./src/cli/app.ts");
  const { exitFor } = await import("./src/cli/errors.ts");
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
