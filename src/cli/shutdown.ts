/**
 * SIGINT/SIGTERM/SIGHUP before the daemon is up. Loading the program takes a moment, and a
 * signal in that window would otherwise kill the process with the default action
 * (exit 143) instead of a clean stop. main.ts installs these listeners first, for the
 * `daemon` command only (other commands keep the default: a signal ends them at once),
 * and the daemon starts with this signal, stopping at once if it has already fired.
 *
 * @module
 */

const controller = new AbortController();

/** Aborted by SIGINT/SIGTERM/SIGHUP once {@link watchSignalsEarly} ran. */
export const earlySignal: AbortSignal = controller.signal;

/** Start turning SIGINT/SIGTERM/SIGHUP into {@link earlySignal}. */
export function watchSignalsEarly(): void {
  const names: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const name of names) {
    Deno.addSignalListener(name, () => {
      if (!controller.signal.aborted) {
        controller.abort(new DOMException(`Received ${name}`, "AbortError"));
      }
    });
  }
}
