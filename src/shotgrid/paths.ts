/**
 * REST URL paths for entity types and records.
 *
 * The REST API accepts the CamelCase entity type in paths (`/entity/EventLogEntry`)
 * as well as the snake_case plural it uses in returned links (`event_log_entries`).
 * The client sends the CamelCase name unchanged: it is exact, where building a
 * plural (`Status` -> `statuses`, `CustomEntity01` -> ?) would be a guess.
 *
 * @module
 */

const entityTypePattern = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * The path of an entity type's collection.
 *
 * @param entityType `EventLogEntry`, `Shot`, `CustomEntity01`...
 * @returns `/api/v1/entity/EventLogEntry`.
 * @throws {TypeError} When the name is not an entity type name.
 */
export function entityPath(entityType: string): string {
  if (typeof entityType !== "string" || !entityTypePattern.test(entityType)) {
    throw new TypeError(`Invalid entity type ${JSON.stringify(entityType)}`);
  }
  return `/api/v1/entity/${entityType}`;
}

/**
 * The path of one record.
 *
 * @param entityType The entity type.
 * @param id A positive integer id.
 * @returns `/api/v1/entity/Shot/12`.
 * @throws {TypeError} When the type or id is invalid.
 */
export function recordPath(entityType: string, id: number): string {
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new TypeError(
      `Invalid ${entityType} id ${JSON.stringify(id)}: expected a positive integer`,
    );
  }
  return `${entityPath(entityType)}/${id}`;
}

/** Path of the token endpoint. */
export const accessTokenPath = "/api/v1/auth/access_token";
