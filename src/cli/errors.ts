/**
 * The one place where errors become exit codes: usage and configuration errors exit 2
 * with one clear line; known operational failures (a locked or corrupt state file, an
 * unreachable site) exit 1 with one line; anything unexpected exits 1 with its stack.
 *
 * @module
 */
import { CommanderError } from "commander";
import { ConfigError } from "../config/errors.ts";
import { redact } from "../log/redact.ts";
import { ShotGridError } from "../shotgrid/errors.ts";
import { StateLockedError } from "../state/lock.ts";
import { StateFileError } from "../state/state_file.ts";

/** A command used wrongly (bad argument combination, unknown plugin). */
export class UsageError extends Error {
  /**
   * @param message What is wrong and what is expected.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A command that ran and found a failure it has already reported (e.g. a failing plugin). */
export class ReportedFailure extends Error {
  /** The exit code (1 unless the command documents others, as `state show` does). */
  readonly exitCode: number;
  /**
   * @param message A short summary.
   * @param exitCode The exit code (default 1).
   */
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "ReportedFailure";
    this.exitCode = exitCode;
  }
}

/**
 * Map an error to an exit code and the text to print on standard error.
 *
 * @param error What the command threw.
 * @returns The exit code and the message (null when already printed).
 */
export function exitFor(error: unknown): { code: number; message: string | null } {
  if (error instanceof CommanderError) {
    // Commander has printed help, the version or its own one-line usage error.
    const ok = error.code === "commander.helpDisplayed" || error.code === "commander.version" ||
      error.code === "commander.help";
    return { code: ok ? 0 : error.exitCode === 0 ? 0 : 2, message: null };
  }
  if (error instanceof ConfigError || error instanceof UsageError) {
    return { code: 2, message: redact(error.message) };
  }
  if (error instanceof ReportedFailure) return { code: error.exitCode, message: null };
  if (
    error instanceof StateFileError || error instanceof StateLockedError ||
    error instanceof ShotGridError
  ) {
    return { code: 1, message: redact(error.message) };
  }
  const text = error instanceof Error ? error.stack ?? error.message : String(error);
  return { code: 1, message: redact(`Unexpected error: ${text}`) };
}
