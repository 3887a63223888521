/**
 * The PostgreSQL the tests use: `SGEVENTS_TEST_PG_URL`, set by `.ci/run` (and
 * scripts/test_postgres.sh) for a throwaway cluster. Without it the PostgreSQL tests are
 * ignored locally and fail in CI (`CI=true`), so CI never passes by skipping them.
 *
 * @module
 */

/** The test database URL, or null when none is configured. */
export const testPostgresUrl: string | null = Deno.env.get("SGEVENTS_TEST_PG_URL") ?? null;

/**
 * Options for a `Deno.test` that needs PostgreSQL.
 *
 * @returns `ignore` when there is none and not in CI.
 */
export function needsPostgres(): { ignore: boolean } {
  if (testPostgresUrl === null && Deno.env.get("CI") === "true") {
    throw new Error(
      "Cannot run the PostgreSQL tests: SGEVENTS_TEST_PG_URL is not set in CI; .ci/run starts a cluster",
    );
  }
  return { ignore: testPostgresUrl === null };
}

/** A daemon name no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}
