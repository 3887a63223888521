/**
 * Example plugin: counts events by type and logs a summary every `every` events.
 *
 * Shows the preferred way for callbacks to share state: one mutable object passed as
 * `args` to each of them (the same object on every call, for as long as the plugin is
 * loaded; it starts again from zero when the plugin file changes and is reloaded).
 *
 * @module
 */
import type { Callback, Registrar } from "sgevents/plugin";
import { scriptKey, scriptName } from "./_credentials.ts";

/** The state both callbacks share. */
interface Counts {
  readonly byType: Map<string, number>;
  total: number;
  readonly every: number;
}

/** Two callbacks, one shared `args` object. */
export function registerCallbacks(reg: Registrar): void {
  const counts: Counts = { byType: new Map(), total: 0, every: 100 };
  reg.registerCallback(scriptName, scriptKey, countEvent, { "*": null }, counts, false);
  // Runs after countEvent for the same event (registration order), so it sees the count.
  reg.registerCallback(scriptName, scriptKey, summarize, { "*": null }, counts, false);
}

const countEvent: Callback<Counts> = (_sg, _logger, event, counts) => {
  counts.byType.set(event.event_type, (counts.byType.get(event.event_type) ?? 0) + 1);
  counts.total++;
};

const summarize: Callback<Counts> = (_sg, logger, _event, counts) => {
  if (counts.total % counts.every !== 0) return;
  const top = [...counts.byType].sort((a, b) => b[1] - a[1]).slice(0, 5);
  logger.info("{total} events so far; most frequent: {top}", {
    total: counts.total,
    top: top.map(([type, n]) => `${type} ${n}`).join(", "),
  });
};
