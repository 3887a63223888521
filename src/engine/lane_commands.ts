/**
 * Changes to a running lane (skip, resume, reload...) are queued and applied between
 * batches, never under a delivery's feet: a command interrupts the lane's wait or asks
 * its plugin to stop after the event in flight, then runs before the next batch.
 *
 * @module
 */

/** What a command may be: a state change is applied even while the lane stops. */
export type CommandKind = "state" | "reload";

interface Command {
  readonly kind: CommandKind;
  readonly run: () => void | Promise<void>;
  readonly done: PromiseWithResolvers<void>;
}

/** A lane's queue of pending changes. */
export class CommandQueue {
  #commands: Command[] = [];

  /** Whether a command waits. */
  get pending(): boolean {
    return this.#commands.length > 0;
  }

  /**
   * Queue a change.
   *
   * @param kind `state` changes are applied even at stop; `reload` is not.
   * @param run The change.
   * @returns Resolves once it ran (rejects with what it threw, or when the lane stopped first).
   */
  add(kind: CommandKind, run: () => void | Promise<void>): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.#commands.push({ kind, run, done });
    return done.promise;
  }

  /**
   * Run every queued command of the given kinds, in order; refuse the others.
   *
   * @param kinds The kinds to run.
   * @throws What a command threw (the commands after it stay queued).
   */
  async run(kinds: ReadonlySet<CommandKind>): Promise<void> {
    while (this.#commands.length > 0) {
      const command = this.#commands.shift()!;
      if (!kinds.has(command.kind)) {
        command.done.reject(new DOMException("The plugin stopped first", "AbortError"));
        continue;
      }
      try {
        await command.run();
        command.done.resolve();
      } catch (error) {
        command.done.reject(error);
        throw error;
      }
    }
  }
}
