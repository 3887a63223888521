/**
 * A small in-memory ring of lag samples per plugin (the page's one-hour lag charts and
 * the events/s rate), taken on a timer by the HTTP server, never on the delivery path.
 *
 * @module
 */

/** One sample of one plugin. */
export interface LagSample {
  /** Epoch ms. */
  readonly at: number;
  readonly lagEvents: number;
  readonly lagSeconds: number;
  /** The plugin's delivered count then. */
  readonly processed: number;
}

/** Options of {@link LagHistory}. */
export interface LagHistoryOptions {
  /** Samples kept per plugin (default 360: one hour at one per 10 s). */
  readonly capacity?: number;
}

/** Lag samples per plugin, the most recent `capacity` of each. */
export class LagHistory {
  #samples = new Map<string, LagSample[]>();
  #capacity: number;

  /** @param options How many samples to keep per plugin. */
  constructor(options: LagHistoryOptions = {}) {
    this.#capacity = options.capacity ?? 360;
  }

  /**
   * Record a sample.
   *
   * @param plugin The plugin.
   * @param sample Its lag and count now.
   */
  add(plugin: string, sample: LagSample): void {
    let list = this.#samples.get(plugin);
    if (!list) this.#samples.set(plugin, list = []);
    list.push(sample);
    if (list.length > this.#capacity) list.splice(0, list.length - this.#capacity);
  }

  /**
   * Forget plugins no longer loaded.
   *
   * @param names The plugins to keep.
   */
  keepOnly(names: ReadonlySet<string>): void {
    for (const name of this.#samples.keys()) if (!names.has(name)) this.#samples.delete(name);
  }

  /**
   * A plugin's samples since `since`, oldest first.
   *
   * @param plugin The plugin.
   * @param since Epoch ms.
   * @returns The samples.
   */
  since(plugin: string, since: number): readonly LagSample[] {
    return (this.#samples.get(plugin) ?? []).filter((sample) => sample.at >= since);
  }

  /**
   * Events per second over the last `windowMs` of samples, up to `now`'s count.
   *
   * @param plugin The plugin.
   * @param now The current sample (not recorded).
   * @param windowMs How far back to look (default 60 s).
   * @returns Events/s, 0 without an older sample.
   */
  rate(plugin: string, now: LagSample, windowMs = 60_000): number {
    const list = this.#samples.get(plugin) ?? [];
    const older = list.find((sample) => sample.at >= now.at - windowMs && sample.at < now.at);
    if (!older) return 0;
    return Math.max(0, (now.processed - older.processed) / ((now.at - older.at) / 1000));
  }
}
