/**
 * Fault injection for the ShotGrid paths (never the `/_sim/` control API): random errors,
 * latency, dropped connections, outages, rate limiting and forced token expiry.
 *
 * @module
 */

/** A server error status the simulator can answer with. */
export type ErrorStatus = 500 | 502 | 503 | 504;

/** Fault settings; `set()` takes any subset. */
export interface FaultSettings {
  /** Fraction (0..1) of requests answered with `errorStatus`. */
  errorRate: number;
  /** Status of injected errors (default 500). */
  errorStatus: ErrorStatus;
  /** Added latency per request, ms. */
  latencyMs: number;
  /** Up to this much more latency, uniformly random, ms. */
  latencyJitterMs: number;
  /** Fraction (0..1) of requests whose connection is dropped without any HTTP answer. */
  resetRate: number;
  /** Every `every`-th request gets 429 with `Retry-After: retryAfterSeconds` (default 1). */
  rateLimit: { every: number; retryAfterSeconds?: number } | null;
  /** How an outage fails requests: `503` answers or dropped connections (default 503). */
  outageMode: "503" | "reset";
}

/** What to do with one request. */
export type FaultDecision =
  | { readonly kind: "pass"; readonly delayMs: number }
  | { readonly kind: "reset" }
  | {
    readonly kind: "status";
    readonly status: number;
    readonly delayMs: number;
    readonly retryAfterSeconds?: number;
  };

const defaults: FaultSettings = {
  errorRate: 0,
  errorStatus: 500,
  latencyMs: 0,
  latencyJitterMs: 0,
  resetRate: 0,
  rateLimit: null,
  outageMode: "503",
};

/** Options of {@link FaultController}. */
export interface FaultControllerOptions {
  /** Randomness in [0, 1). */
  readonly random: () => number;
  /** Wall clock for outages, epoch ms (real time even when the site's clock is injected). */
  readonly now?: () => number;
  /** Called by {@link FaultController.expireTokens}. */
  readonly onExpireTokens: () => void;
  /**
   * Latency of every request when no other is set, kept by `clear()` (a site's own speed,
   * `sim --latency`); default 0.
   */
  readonly baseLatencyMs?: number;
}

/** Controls the faults of one simulator. */
export class FaultController {
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #onExpireTokens: () => void;
  readonly #defaults: FaultSettings;
  #settings: FaultSettings;
  #outageUntil = 0;
  #counted = 0;
  /** Number of faults injected, by kind. */
  readonly injected: { error: number; reset: number; outage: number; rateLimit: number } = {
    error: 0,
    reset: 0,
    outage: 0,
    rateLimit: 0,
  };

  /**
   * @param options Randomness, wall clock and the token-expiry hook.
   */
  constructor(options: FaultControllerOptions) {
    this.#random = options.random;
    this.#now = options.now ?? Date.now;
    this.#onExpireTokens = options.onExpireTokens;
    const base = options.baseLatencyMs ?? 0;
    if (!(base >= 0 && Number.isFinite(base))) {
      throw new RangeError(`Cannot set the simulator's latency: ${base} ms is not >= 0`);
    }
    this.#defaults = { ...defaults, latencyMs: base };
    this.#settings = { ...this.#defaults };
  }

  /** The current settings. */
  get settings(): Readonly<FaultSettings> {
    return this.#settings;
  }

  /** Whether an outage is in progress. */
  get inOutage(): boolean {
    return this.#now() < this.#outageUntil;
  }

  /**
   * Change some settings.
   *
   * @param partial The settings to change.
   * @throws {RangeError} For a rate outside 0..1, a status not in 500/502/503/504, or a bad rate limit.
   */
  set(partial: Partial<FaultSettings>): void {
    const next = { ...this.#settings, ...partial };
    for (const key of ["errorRate", "resetRate"] as const) {
      const v = next[key];
      if (typeof v !== "number" || v < 0 || v > 1) {
        throw new RangeError(`Cannot set fault "${key}": ${v} is not in 0..1`);
      }
    }
    if (![500, 502, 503, 504].includes(next.errorStatus)) {
      throw new RangeError(
        `Cannot set fault "errorStatus": ${next.errorStatus} is not 500, 502, 503 or 504`,
      );
    }
    for (const key of ["latencyMs", "latencyJitterMs"] as const) {
      const v = next[key];
      if (typeof v !== "number" || !(v >= 0)) {
        throw new RangeError(`Cannot set fault "${key}": ${v} is not >= 0`);
      }
    }
    if (
      next.rateLimit !== null &&
      !(Number.isInteger(next.rateLimit.every) && next.rateLimit.every >= 1)
    ) {
      throw new RangeError(`Cannot set fault "rateLimit": "every" must be an integer >= 1`);
    }
    if (next.outageMode !== "503" && next.outageMode !== "reset") {
      throw new RangeError(
        `Cannot set fault "outageMode": "${next.outageMode}" is not "503" or "reset"`,
      );
    }
    if (partial.rateLimit !== undefined) this.#counted = 0;
    this.#settings = next;
  }

  /** Remove every fault, including an outage in progress (the base latency stays). */
  clear(): void {
    this.#settings = { ...this.#defaults };
    this.#outageUntil = 0;
    this.#counted = 0;
  }

  /**
   * Fail every request for `ms` milliseconds, as a site that is down.
   *
   * @param ms Duration.
   */
  outage(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`Cannot start an outage of ${ms} ms`);
    this.#outageUntil = this.#now() + ms;
  }

  /** Every current token answers `Token Expired` from now on. */
  expireTokens(): void {
    this.#onExpireTokens();
  }

  /**
   * Decide the fate of one ShotGrid request.
   *
   * @returns Pass (after a delay), drop the connection, or answer a status.
   */
  decide(): FaultDecision {
    const s = this.#settings;
    const delayMs = s.latencyMs + (s.latencyJitterMs > 0 ? this.#random() * s.latencyJitterMs : 0);
    if (this.inOutage) {
      this.injected.outage++;
      return s.outageMode === "reset"
        ? { kind: "reset" }
        : { kind: "status", status: 503, delayMs: 0 };
    }
    if (s.rateLimit && ++this.#counted % s.rateLimit.every === 0) {
      this.injected.rateLimit++;
      return {
        kind: "status",
        status: 429,
        delayMs,
        retryAfterSeconds: s.rateLimit.retryAfterSeconds ?? 1,
      };
    }
    if (s.resetRate > 0 && this.#random() < s.resetRate) {
      this.injected.reset++;
      return { kind: "reset" };
    }
    if (s.errorRate > 0 && this.#random() < s.errorRate) {
      this.injected.error++;
      return { kind: "status", status: s.errorStatus, delayMs };
    }
    return { kind: "pass", delayMs };
  }
}
