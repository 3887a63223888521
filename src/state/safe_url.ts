/**
 * A PostgreSQL URL fit to show: apart from postgres_connection.ts so that showing one does
 * not load the driver.
 *
 * @module
 */

/**
 * The URL without its password, for messages and `state show`.
 *
 * @param url A `postgres://` URL.
 * @returns `postgres://user@host:port/database`.
 */
export function safeUrl(url: string): string {
  const parsed = new URL(url);
  parsed.password = "";
  parsed.search = "";
  return parsed.toString();
}
