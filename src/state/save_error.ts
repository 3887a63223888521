/**
 * The error of a state file that could not be saved.
 *
 * @module
 */
import { StateFileError } from "./state_file.ts";

/**
 * Saving the state file failed. `retriable` when the disk may recover (an unwritable
 * folder, a full disk); not when another process replaced or removed the file, where
 * writing on would overwrite what that process saved.
 */
export class StateSaveError extends StateFileError {
  /** Whether saving again later may succeed. */
  readonly retriable: boolean;
  /**
   * @param file The state file.
   * @param message What failed, naming the file and the path.
   * @param options `retriable` and `cause`.
   */
  constructor(file: string, message: string, options: { retriable: boolean; cause?: unknown }) {
    super(file, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StateSaveError";
    this.retriable = options.retriable;
  }
}
