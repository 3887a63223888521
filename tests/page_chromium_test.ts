/**
 * The web page in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core) against a running daemon on the simulator: it shows the plugins and
 * their lags, a resume through the page un-pauses a paused plugin, and a screenshot is
 * written to `var/artifacts/page.png`.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startSimulator } from "../src/sim/mod.ts";
import { eventually, readIds, recorderPlugin, root, spawnSgevents, tempDir } from "./helpers.ts";
import { flaggedPlugin, listeningUrl, writeHttpConfig } from "./http_helpers.ts";

const chromiumPath = "/usr/bin/chromium";
const token = "page-test-token";

async function chromiumPresent(): Promise<boolean> {
  try {
    return (await Deno.stat(chromiumPath)).isFile;
  } catch {
    return false;
  }
}

Deno.test("the page shows plugins and lags from a running daemon, and its resume button un-pauses a plugin", async () => {
  // Not skipped when absent: a skipped browser test would hide a broken page.
  assert.ok(
    await chromiumPresent(),
    `Chromium is missing at ${chromiumPath}: install it with "apt-get install -y chromium" (.ci/run does)`,
  );
  await using dir = await tempDir();
  await using sim = await startSimulator({ port: 0, preload: 30, quiet: true });
  await Deno.mkdir(`${dir.path}/plugins`);
  for (const name of ["assets", "notify", "publish"]) {
    await Deno.writeTextFile(
      `${dir.path}/plugins/${name}.ts`,
      recorderPlugin(`${dir.path}/${name}.ids`),
    );
  }
  const flag = `${dir.path}/fail`;
  await Deno.writeTextFile(flag, "");
  await Deno.writeTextFile(
    `${dir.path}/plugins/versions.ts`,
    flaggedPlugin(`${dir.path}/versions.ids`, flag),
  );
  await Deno.writeTextFile(`${dir.path}/token`, token);
  const config = await writeHttpConfig({ url: sim.url, dir: dir.path }, {
    listen: "127.0.0.1:0",
    token_file: "./token",
  });
  await using daemon = spawnSgevents(["daemon", "-c", config]);
  await daemon.waitFor("HTTP listening on");
  const url = listeningUrl(daemon.output());
  await eventually(async () => (await readIds(`${dir.path}/assets.ids`)).length === 30);
  await daemon.waitFor("Plugin versions paused at event 1");

  const profile = await Deno.makeTempDir({ prefix: "sgevents-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 640 },
  });
  try {
    const page = await context.newPage();
    await page.goto(url + "/");
    const row = (name: string) => page.locator(`#plugins tr[data-plugin="${name}"]`);
    for (const name of ["assets", "notify", "publish", "versions"]) {
      assert.equal(await row(name).count(), 1, name);
    }
    assert.equal(await row("assets").locator(".state").textContent(), "running");
    assert.equal(await row("assets").locator(".lag-events").textContent(), "0");
    assert.equal(await row("versions").locator(".state").textContent(), "paused");
    assert.equal(await row("versions").locator(".lag-events").textContent(), "30");
    assert.notEqual(await row("versions").locator(".lag-seconds").textContent(), "0");
    assert.match(
      (await row("versions").locator(".error").textContent()) ?? "",
      /event 1: .*flagged plugin refuses event 1/,
    );

    await Deno.remove(flag);
    await page.fill("#token", token);
    await row("versions").locator('button[data-action="resume"]').click();
    await page.waitForSelector("#message:has-text('resume versions: applied')");
    // The page refreshes its table after the action.
    await row("versions").locator(".state", { hasText: /^running$/ }).waitFor();
    await eventually(async () => (await readIds(`${dir.path}/versions.ids`)).length === 30);
    // The live tail shows the deliveries that followed the resume.
    await page.waitForSelector("#tail li");
    assert.equal(
      await page.evaluate(() => sessionStorage.getItem("sgevents-token")),
      token,
      "the token is kept for the tab",
    );
    await Deno.mkdir(`${root}var/artifacts`, { recursive: true });
    await page.screenshot({ path: `${root}var/artifacts/page.png`, fullPage: true });
    assert.ok((await Deno.stat(`${root}var/artifacts/page.png`)).size > 0);
  } finally {
    await context.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
  daemon.kill("SIGTERM");
  assert.equal(await daemon.exited, 0);
});
