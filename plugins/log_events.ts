/**
 * Example plugin: logs every event it matches, with the args it was registered with.
 *
 * A starting point for your own plugins, and a way to see what a site's events look
 * like: `sgevents dispatch plugins/log_events.ts --event event.json`.
 *
 * @module
 */
import type { Callback, Registrar } from "sgevents/plugin";
import { scriptKey, scriptName } from "./_credentials.ts";

/** What this plugin passes to its callback through `args`. */
interface LogArgs {
  readonly label: string;
}

/** Called by the daemon once, when the plugin is loaded (and again after each change). */
export function registerCallbacks(reg: Registrar): void {
  // Positional form, as in the Python daemon: name, key, callback, matchEvents, args.
  // `null` matchEvents (or `{}`) means every event.
  reg.registerCallback<LogArgs>(scriptName, scriptKey, logEvent, null, { label: "all events" });
  // Nobody is mailed about this plugin's errors.
  reg.setEmails(false);
}

/** Logs the event; LogTape placeholders (`{id}`) are filled from the properties. */
const logEvent: Callback<LogArgs> = (_sg, logger, event, args) => {
  logger.info("{label}: event {id} {type} on {entity} by {user}", {
    label: args.label,
    id: event.id,
    type: event.event_type,
    entity: event.entity ? `${event.entity.type} ${event.entity.id}` : "nothing",
    user: event.user?.name ?? "nobody",
    attribute: event.attribute_name,
  });
};
