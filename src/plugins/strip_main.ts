/**
 * The type stripper's child process: one JSON request per stdin line (`{ file, code,
 * typescript }`), one JSON answer per stdout line, in order (`{ code, imports }` or
 * `{ error }`); it ends when stdin closes. Started by {@link TypeStripper} as
 * `sgevents __strip-types` (or `deno run main.ts __strip-types` from a checkout).
 *
 * @module
 */
import { createInterface } from "node:readline";
import { transformSync } from "amaro";
import { init as lexerReady, parse as lexImports } from "es-module-lexer";
import type { StripAnswer, StripRequest } from "./type_stripper.ts";

/** Strip one module's types (TypeScript only) and list its imports. */
export async function prepare(request: StripRequest): Promise<StripAnswer> {
  let code = request.code;
  if (request.typescript) {
    try {
      code = transformSync(code, { mode: "strip-only", filename: request.file }).code;
    } catch (error) {
      const details = error as { code?: string; message?: string; startLine?: number };
      return {
        error: {
          stage: "strip",
          message: details.message ?? String(error),
          unsupported: details.code === "UnsupportedSyntax",
          ...(typeof details.startLine === "number" ? { line: details.startLine } : {}),
        },
      };
    }
  }
  await lexerReady;
  try {
    const [imports] = lexImports(code, request.file);
    return {
      code,
      imports: imports.map((item) => ({
        type: item.type,
        ...(typeof item.specifier === "string" ? { specifier: item.specifier } : {}),
        start: item.start,
        end: item.end,
        glob: item.type === "dynamic" && item.glob,
      })),
    };
  } catch (error) {
    const index = (error as { idx?: number }).idx;
    return {
      error: {
        stage: "lex",
        message: error instanceof Error ? error.message : String(error),
        ...(typeof index === "number" ? { index } : {}),
      },
    };
  }
}

/** Answer requests from stdin until it closes. */
export async function serve(): Promise<void> {
  const encoder = new TextEncoder();
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line === "") continue;
    const answer = await prepare(JSON.parse(line) as StripRequest);
    await writeAll(encoder.encode(JSON.stringify(answer) + "\n"));
  }
}

async function writeAll(bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await Deno.stdout.write(bytes.subarray(at));
}
