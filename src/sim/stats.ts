/**
 * Request counters of the ShotGrid paths (the `/_sim/` control API is not counted).
 *
 * @module
 */

/** The kinds of ShotGrid request counted separately. */
export type RouteKind = "auth" | "search" | "read" | "write" | "other";

/** Request counters. */
export class SimStats {
  /** All ShotGrid requests received (including those a fault then failed). */
  requests = 0;
  /** Requests by kind: `search` is `_search` and list reads, `read` a single record. */
  readonly byRoute: Record<RouteKind, number> = { auth: 0, search: 0, read: 0, write: 0, other: 0 };

  /**
   * Count one request.
   *
   * @param kind Its route kind.
   */
  count(kind: RouteKind): void {
    this.requests++;
    this.byRoute[kind]++;
  }

  /** Set every counter back to zero. */
  reset(): void {
    this.requests = 0;
    for (const key of Object.keys(this.byRoute) as RouteKind[]) this.byRoute[key] = 0;
  }

  /**
   * The counters as plain JSON.
   *
   * @returns `{requests, byRoute}`.
   */
  toJSON(): { requests: number; byRoute: Record<RouteKind, number> } {
    return { requests: this.requests, byRoute: { ...this.byRoute } };
  }
}
