/**
 * Example plugin ported from shotgunEvents' `statusFlipDownstreamTasks.py`, with no change
 * beyond syntax (the README's "Porting plugins from shotgunEvents" shows both side by side):
 * when a Task goes 'fin' (Final), each downstream Task still 'wtg' (Waiting To Start) whose
 * upstream Tasks are now all 'fin' goes 'rdy' (Ready To Start).
 *
 * Python to TypeScript: `sg` calls are awaited, `event['meta']['new_value']` is
 * `event.meta?.new_value`, `len(x)` is `x.length`, keyword `data=` is positional, and the
 * logger's `%d`/`%s` formatting is the same. The original's second `sg.find` names an undefined
 * `filters`; the port uses the `usFilters` it built just before.
 *
 * @module
 */
import type { Callback, Filter, Registrar } from "sgevents/plugin";
import { scriptKey, scriptName } from "./_credentials.ts";

export function registerCallbacks(reg: Registrar): void {
  const matchEvents = {
    Shotgun_Task_Change: ["sg_status_list"],
  };

  reg.registerCallback(scriptName, scriptKey, flipDownstreamTasks, matchEvents, null);
}

/** Flip downstream Tasks to 'rdy' if all of their upstream Tasks are 'fin'. */
const flipDownstreamTasks: Callback = async (sg, logger, event, _args) => {
  // Only a Task going final matters.
  if (!event.meta || !("new_value" in event.meta) || event.meta.new_value !== "fin") {
    return;
  }

  // The Tasks after this one that still wait to start.
  const dsFilters: Filter[] = [
    ["upstream_tasks", "is", event.entity],
    ["sg_status_list", "is", "wtg"],
  ];
  const fields = ["upstream_tasks"];

  for (const dsTask of await sg.find("Task", dsFilters, fields)) {
    let changeStatus = true;
    // With several Tasks before it, every one of them must be final.
    if ((dsTask.upstream_tasks as unknown[]).length > 1) {
      logger.debug("Task #%d has multiple upstream Tasks", event.entity!.id);
      const usFilters: Filter[] = [
        ["downstream_tasks", "is", dsTask],
        ["sg_status_list", "is_not", "fin"],
      ];
      if ((await sg.find("Task", usFilters)).length > 0) {
        changeStatus = false;
      }
    }

    if (changeStatus) {
      await sg.update("Task", dsTask.id, { sg_status_list: "rdy" });
      logger.info("Set Task #%s to 'rdy'", dsTask.id);
    }
  }
};
