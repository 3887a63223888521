/**
 * A plugin Worker's permissions: with `permissions` configured, exactly those (`read`,
 * `write`, `env`, `run`, `net`; the rest denied), plus network access to the ShotGrid
 * site and proxy so `sg` works. Needs `--unstable-worker-options`. Without, it inherits.
 *
 * @module
 */
import type { PluginPermissions } from "../config/types.ts";

/** The `deno.permissions` of a Worker, or `"inherit"`. */
export type WorkerPermissions = "inherit" | {
  read: boolean | string[];
  write: boolean | string[];
  env: boolean | string[];
  run: boolean | string[];
  net: boolean | string[];
  ffi: false;
  sys: false;
};

/**
 * The Worker's permissions: exactly those configured, plus the ShotGrid site for `sg`.
 *
 * @param permissions The plugin's configured permissions; `null`/absent inherits.
 * @param site Where `sg` connects (its host, and the proxy's, are allowed on the network).
 * @returns What to pass as the Worker's `deno.permissions`.
 */
export function workerPermissions(
  permissions: PluginPermissions | null | undefined,
  site: { readonly url: string; readonly proxy: string | null },
): WorkerPermissions {
  if (!permissions) return "inherit";
  const list = (value: boolean | readonly string[] | undefined) =>
    typeof value === "boolean" ? value : value ? [...value] : false;
  let net = list(permissions.net);
  if (net !== true) {
    const hosts = [site.url, site.proxy ?? ""].flatMap((u) => {
      try {
        return u ? [new URL(u).host] : [];
      } catch {
        return [];
      }
    });
    if (hosts.length > 0) net = [...(net === false ? [] : net), ...hosts];
  }
  return {
    read: list(permissions.read),
    write: list(permissions.write),
    env: list(permissions.env),
    run: list(permissions.run),
    net,
    ffi: false,
    sys: false,
  };
}
