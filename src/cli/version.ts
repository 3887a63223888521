/**
 * `sgevents version`: the build's version and runtime, for bug reports.
 *
 * @module
 */
import { Command } from "commander";
import denoJson from "../../deno.json" with { type: "json" };

/** The sgevents version, from deno.json. */
export const version: string = denoJson.version;

/**
 * The `version` command.
 *
 * @returns The commander command.
 */
export function versionCommand(): Command {
  return new Command("version")
    .description("Print the versions of sgevents, Deno, V8 and TypeScript")
    .option("--json", "print JSON")
    .action((options: { json?: boolean }) => {
      const info = { sgevents: version, ...Deno.version, os: Deno.build.os, arch: Deno.build.arch };
      if (options.json) console.log(JSON.stringify(info));
      else {
        console.log(
          `sgevents ${version} (deno ${info.deno}, v8 ${info.v8}, typescript ${info.typescript}, ${info.os}-${info.arch})`,
        );
      }
    });
}
