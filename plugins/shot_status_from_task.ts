/**
 * Example plugin: when a Task's status changes, set its Shot's status to match, for the
 * statuses listed in `args.statuses` (e.g. a Task going "ip" puts its Shot "ip").
 *
 * Shows `sg` (a ShotGrid client with this callback's own script credentials), reading
 * the event's `meta`, and `ctx.signal` (abort on timeout or shutdown). With
 * `shotgrid.use_session_uuid` on, the update carries the event's session uuid, so the
 * web page where the user changed the Task refreshes.
 *
 * @module
 */
import type { Callback, Registrar } from "sgevents/plugin";
import { scriptKey, scriptName } from "./_credentials.ts";

/** Which Task statuses are copied to the Shot. */
interface StatusArgs {
  readonly statuses: ReadonlySet<string>;
}

/** Register one callback, for status changes of Tasks only. */
export function registerCallbacks(reg: Registrar): void {
  reg.registerCallback<StatusArgs>({
    scriptName,
    scriptKey,
    callback: copyStatusToShot,
    // One exact attribute name: only sg_status_list changes of Tasks.
    matchEvents: { Shotgun_Task_Change: ["sg_status_list"] },
    args: { statuses: new Set(["ip", "cmpt"]) },
    // A failure pauses this plugin at the event (the default) until it is fixed.
    stopOnError: true,
  });
}

const copyStatusToShot: Callback<StatusArgs> = async (sg, logger, event, args, ctx) => {
  const status = event.meta?.new_value;
  if (typeof status !== "string" || !args.statuses.has(status) || !event.entity) return;
  // The event names the Task; its Shot is the Task's `entity` field.
  const task = await sg.findById("Task", event.entity.id, ["entity"], { signal: ctx.signal });
  const link = task?.entity as { type: string; id: number } | null | undefined;
  if (!link || link.type !== "Shot") {
    logger.debug("Task {task} is not on a Shot: nothing to do", { task: event.entity.id });
    return;
  }
  await sg.update("Shot", link.id, { sg_status_list: status }, { signal: ctx.signal });
  logger.info("Shot {shot} is now {status} (Task {task})", {
    shot: link.id,
    status,
    task: event.entity.id,
  });
};
