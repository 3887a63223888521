/**
 * A ShotGrid-compatible simulated site over real HTTP: auth, EventLogEntry reads, entity
 * writes that log events as ShotGrid does, late and lost event ids, and fault injection.
 *
 * @example
 * ```ts
 * import { startSimulator } from "./mod.ts";
 * await using sim = await startSimulator({ preload: 10_000 });
 * sim.store.update("Shot", 1, { sg_status_list: "ip" });
 * ```
 *
 * @module
 */

export { type Simulator, type SimulatorOptions, startSimulator } from "./server.ts";
export {
  isoSeconds,
  type LinkInput,
  type SimRecord,
  SimStore,
  Transaction,
  type WriteOptions,
  type Writer,
} from "./store.ts";
export { type ErrorStatus, FaultController, type FaultSettings } from "./faults.ts";
export { type RouteKind, SimStats } from "./stats.ts";
export { SimRequestError } from "./errors.ts";
export {
  baseSchema,
  type EntityDef,
  entityDef,
  entityDefs,
  type FieldDef,
  type FieldType,
  SimSchema,
} from "./schema.ts";
export { loadSchemaFile, parseSchemaFile } from "./schema_file.ts";
