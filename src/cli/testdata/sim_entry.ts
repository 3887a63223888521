// Runs `sgevents sim` alone, for the CLI test to spawn.
import { simCommand } from "../sim.ts";

await simCommand().parseAsync(Deno.args, { from: "user" });
