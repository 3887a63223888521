import assert from "node:assert/strict";
import { join } from "node:path";
import type { DiscoveryProblem, PluginFile } from "./discovery.ts";
import { tempDir, writeFiles } from "./test_helpers.ts";
import { watchPlugins, type WatchPluginsOptions } from "./watcher.ts";

const plugin = (tag: string) => `export function registerCallbacks() {} // ${tag}\n`;

/** Drives a watcher; `next()` fails the test instead of hanging when nothing comes. */
function watching(paths: string[], options: Partial<WatchPluginsOptions> = {}) {
  const controller = new AbortController();
  const iterator = watchPlugins(paths, {
    signal: controller.signal,
    debounceMs: 30,
    rescanIntervalMs: 60_000,
    ...options,
  });
  return {
    async next(): Promise<PluginFile[]> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const guard = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no new plugin list within 20 s")), 20_000);
      });
      try {
        const result = await Promise.race([iterator.next(), guard]);
        assert.equal(result.done, false);
        return result.value as PluginFile[];
      } finally {
        clearTimeout(timer);
      }
    },
    async [Symbol.asyncDispose]() {
      controller.abort();
      await iterator.return(undefined);
    },
  };
}

const byName = (list: PluginFile[]) => Object.fromEntries(list.map((p) => [p.name, p.hash]));

Deno.test("watchPlugins() yields the initial list, then each content change", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, {
    "a.ts": plugin("a1"),
    "b.ts": `import "./lib/helper.ts";\n${plugin("b")}`,
    "lib/helper.ts": "export const v = 1;\n",
  });
  await using watch = watching([dir.path]);
  const initial = byName(await watch.next());
  assert.deepEqual(Object.keys(initial), ["a", "b"]);

  await Deno.writeTextFile(join(dir.path, "a.ts"), plugin("a2"));
  const changed = byName(await watch.next());
  assert.notEqual(changed.a, initial.a);
  assert.equal(changed.b, initial.b);

  await Deno.writeTextFile(join(dir.path, "lib/helper.ts"), "export const v = 2;\n");
  const helperChanged = byName(await watch.next());
  assert.equal(helperChanged.a, changed.a);
  assert.notEqual(helperChanged.b, changed.b, "a helper in a subfolder changes its importer");

  await Deno.writeTextFile(join(dir.path, "c.ts"), plugin("c"));
  assert.deepEqual(Object.keys(byName(await watch.next())), ["a", "b", "c"]);

  await Deno.remove(join(dir.path, "a.ts"));
  assert.deepEqual(Object.keys(byName(await watch.next())), ["b", "c"]);
});

Deno.test("watchPlugins() reloads a file restored with an older mtime, not a touched one", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "a.ts": plugin("v1"), "b.ts": plugin("b") });
  await using watch = watching([dir.path]);
  const v1 = byName(await watch.next());

  await Deno.writeTextFile(join(dir.path, "a.ts"), plugin("v2"));
  const v2 = byName(await watch.next());
  assert.notEqual(v2.a, v1.a);

  // Restore v1 from a backup: its mtime is older than the file it replaces.
  await Deno.writeTextFile(join(dir.path, "a.ts"), plugin("v1"));
  const old = new Date(2001, 0, 1);
  await Deno.utime(join(dir.path, "a.ts"), old, old);
  const restored = byName(await watch.next());
  assert.equal(restored.a, v1.a);

  // A touch (same content, new mtime) yields nothing: the next list is the one with c.
  await Deno.writeTextFile(join(dir.path, "b.ts"), plugin("b"));
  await Deno.utime(join(dir.path, "b.ts"), new Date(), new Date());
  // Give the watcher time to rescan (and wrongly yield) before the real change.
  await new Promise((r) => setTimeout(r, 300));
  await Deno.writeTextFile(join(dir.path, "c.ts"), plugin("c"));
  const next = byName(await watch.next());
  assert.deepEqual(next, { ...restored, c: next.c });
});

Deno.test("watchPlugins() survives a folder removed and restored", async () => {
  await using dir = await tempDir();
  const share = join(dir.path, "share");
  const local = join(dir.path, "local");
  await writeFiles(share, { "remote.ts": plugin("r1") });
  await writeFiles(local, { "local.ts": plugin("l") });
  const problems: DiscoveryProblem[] = [];
  await using watch = watching([share, local], {
    rescanIntervalMs: 100,
    onProblem: (p) => problems.push(p),
  });
  assert.deepEqual(Object.keys(byName(await watch.next())), ["remote", "local"]);

  await Deno.rename(share, join(dir.path, "share_gone"));
  assert.deepEqual(Object.keys(byName(await watch.next())), ["local"]);
  assert.deepEqual(problems.map((p) => p.reason), [
    `Cannot read plugin folder "${share}" (plugins.paths[0]): it does not exist`,
  ]);

  await Deno.rename(join(dir.path, "share_gone"), share);
  assert.deepEqual(Object.keys(byName(await watch.next())), ["remote", "local"]);
  assert.equal(problems.length, 1, "a lasting problem is reported once");

  await Deno.writeTextFile(join(share, "remote.ts"), plugin("r2"));
  const changed = await watch.next();
  assert.equal(changed[0]?.name, "remote");
});

Deno.test("watchPlugins() ends when its signal aborts", async () => {
  await using dir = await tempDir();
  const controller = new AbortController();
  const seen: number[] = [];
  for await (const list of watchPlugins([dir.path], { signal: controller.signal })) {
    seen.push(list.length);
    controller.abort();
  }
  assert.deepEqual(seen, [0]);
});
