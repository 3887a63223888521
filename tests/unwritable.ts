/**
 * A folder made unwritable for a test, also when the tests run as root (who ignores
 * permission bits): `chmod 0500` for other users, the immutable attribute (`chattr +i`)
 * for root.
 *
 * @module
 */

/**
 * Make `dir` unwritable until the returned handle is disposed.
 *
 * @param dir The folder.
 * @returns Restores the folder on dispose.
 * @throws {Error} When the folder cannot be made unwritable here (root without chattr).
 */
export async function unwritable(dir: string): Promise<AsyncDisposable> {
  if (Deno.uid() !== 0) {
    await Deno.chmod(dir, 0o500);
    return { [Symbol.asyncDispose]: () => Deno.chmod(dir, 0o700) };
  }
  await chattr("+i", dir);
  return { [Symbol.asyncDispose]: () => chattr("-i", dir) };
}

async function chattr(flag: string, dir: string): Promise<void> {
  const { success, stderr } = await new Deno.Command("chattr", {
    args: [flag, dir],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(
      `Cannot make "${dir}" unwritable as root: chattr ${flag} failed: ${
        new TextDecoder().decode(stderr).trim()
      }`,
    );
  }
}
