/**
 * Snapshots of what users read (help and error text), so that a change to it shows up
 * as a visible diff in review. Update them with `deno test -A tests/ -- --update`.
 *
 * @module
 */
import assert from "node:assert/strict";

const update = Deno.args.includes("--update");

/**
 * Compare `actual` with the stored snapshot `name` (or store it with `--update`).
 *
 * @param name File name under tests/snapshots/.
 * @param actual The text.
 */
export async function assertSnapshot(name: string, actual: string): Promise<void> {
  const file = new URL(`./snapshots/${name}.txt`, import.meta.url);
  if (update) {
    await Deno.mkdir(new URL("./snapshots/", import.meta.url), { recursive: true });
    await Deno.writeTextFile(file, actual);
    return;
  }
  let expected: string;
  try {
    expected = await Deno.readTextFile(file);
  } catch {
    throw new Error(`No snapshot "${name}"; run: deno test -A tests/ -- --update`);
  }
  assert.equal(actual, expected, `snapshot "${name}" differs; if intended, run with -- --update`);
}
