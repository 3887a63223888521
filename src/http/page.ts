/**
 * The web page at `/`: rendered on the server from the same views as the API (plugin
 * table with a one-hour lag chart per plugin, failed events), refreshed by a small
 * script that also shows the live tail and sends actions with the token. No build step:
 * the script and style are plain files embedded in the binary (`deno compile --include`).
 *
 * @module
 */
import type { LagSample } from "./history.ts";
import { failedViews, type PluginView, pluginViews, type ViewSources } from "./view.ts";

const assets = new URL("./assets/", import.meta.url);
let loaded: Promise<{ script: string; style: string }> | null = null;

/** The page's script and style (read once). */
function pageAssets(): Promise<{ script: string; style: string }> {
  loaded ??= Promise.all([
    Deno.readTextFile(new URL("page.js", assets)),
    Deno.readTextFile(new URL("page.css", assets)),
  ]).then(([script, style]) => ({ script, style }));
  return loaded;
}

/**
 * The whole page.
 *
 * @param sources Status, metrics, history, clock.
 * @param options Whether actions are on (a token is configured).
 * @returns HTML.
 */
export async function renderPage(
  sources: ViewSources,
  options: { readonly actions: boolean },
): Promise<string> {
  const { script, style } = await pageAssets();
  const actions = options.actions
    ? `<label>Token <input id="token" type="password" autocomplete="off" placeholder="http.token_file's token"></label>`
    : `<span class="muted">Actions are off: set http.token_file to allow them</span>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sgevents</title><style>${style}</style></head>
<body data-actions="${options.actions}">
<header><h1>sgevents</h1>${actions}
<label>Filter <input id="filter" type="search" placeholder="plugin name"></label>
<span id="message" role="status"></span></header>
<main id="main">${renderMain(sources)}</main>
<section><h2>Live tail</h2><ol id="tail" class="tail"></ol></section>
<script>${script}</script>
</body></html>`;
}

/**
 * The part of the page the script refreshes: plugin table and failed events.
 *
 * @param sources Status, metrics, history, clock.
 * @returns HTML.
 */
export function renderMain(sources: ViewSources): string {
  const now = sources.clock();
  const plugins = pluginViews(sources);
  const rows = plugins.map((plugin) =>
    row(plugin, sources.history.since(plugin.name, now - 3_600_000), now)
  ).join("\n");
  const failed = failedViews(sources).slice(0, 200).map((event) =>
    `<tr><td>${esc(event.plugin)}</td><td>${event.eventId}</td><td>${
      esc(event.callback)
    }</td><td class="error">${esc(event.error)}</td><td>${esc(event.at)}</td></tr>`
  ).join("\n");
  return `<p class="summary">Head event ${sources.metrics.headId} · ${plugins.length} plugin(s) · ${
    plugins.filter((p) => p.state !== "running").length
  } not running</p>
<table id="plugins"><thead><tr><th>Plugin</th><th>State</th><th>Cursor</th><th>Lag (events)</th><th>Lag (s)</th><th>Events/s</th><th>Backlog</th><th>Lag, last hour</th><th>Last error</th><th>Actions</th></tr></thead>
<tbody>${rows}</tbody></table>
<h2>Failed events</h2>
${
    failed === ""
      ? `<p class="muted">None</p>`
      : `<table id="failed"><thead><tr><th>Plugin</th><th>Event</th><th>Callback</th><th>Error</th><th>At</th></tr></thead><tbody>${failed}</tbody></table>`
  }`;
}

function row(plugin: PluginView, samples: readonly LagSample[], now: number): string {
  const error = plugin.lastError === null
    ? ""
    : `${plugin.lastErrorEvent === null ? "" : `event ${plugin.lastErrorEvent}: `}${
      esc(plugin.lastError)
    }`;
  const name = esc(plugin.name);
  const replay = plugin.replay
    ? ` <span class="replay">replaying ${plugin.replay.from}-${plugin.replay.to}, next ${plugin.replay.next}</span>`
    : "";
  return `<tr data-plugin="${name}" class="state-${plugin.state}"><td>${name}</td><td class="state">${plugin.state}${replay}</td><td>${
    plugin.cursor ?? "-"
  }</td><td class="lag-events">${plugin.lagEvents}</td><td class="lag-seconds">${plugin.lagSeconds}</td><td>${plugin.rate}</td><td>${plugin.backlog}</td><td>${
    sparkline(samples, now)
  }</td><td class="error">${error}</td><td class="actions">${
    ["pause", "resume", "skip", "replay"].map((action) =>
      `<button data-action="${action}" data-plugin="${name}">${action}</button>`
    ).join("")
  }</td></tr>`;
}

/** An inline SVG of lag in seconds over the last hour. */
function sparkline(samples: readonly LagSample[], now: number): string {
  const width = 120;
  const height = 24;
  if (samples.length === 0) return `<svg class="chart" width="${width}" height="${height}"></svg>`;
  const max = Math.max(1, ...samples.map((sample) => sample.lagSeconds));
  const points = samples.map((sample) => {
    const x = width - ((now - sample.at) / 3_600_000) * width;
    const y = height - 1 - (sample.lagSeconds / max) * (height - 2);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  }).join(" ");
  return `<svg class="chart" width="${width}" height="${height}" role="img"><title>max ${
    Math.round(max)
  } s</title><polyline fill="none" stroke="currentColor" points="${points}"/></svg>`;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
