/**
 * The metrics of a group of daemons sharing a PostgreSQL state (`daemon.state_url`), on the
 * leader's `/metrics`.
 *
 * @module
 */
import { Gauge } from "prom-client";
import type { LeaderLock } from "../state/leader.ts";
import type { DaemonMetrics } from "./metrics.ts";

/**
 * The group's metrics on the leader's `/metrics`: `sgevents_leader_epoch` and
 * `sgevents_group_members{role}` (asked of the database at each scrape).
 */
export class GroupMetrics {
  #name: string;
  #lock: LeaderLock | null = null;
  #registered = false;

  /** @param name `daemon.name`. */
  constructor(name: string) {
    this.#name = name;
  }

  /**
   * Report this lead (registers the gauges on first use).
   *
   * @param metrics The daemon's metrics.
   * @param lock The lead now held.
   */
  lead(metrics: DaemonMetrics, lock: LeaderLock): void {
    this.#lock = lock;
    if (this.#registered) return;
    this.#registered = true;
    const name = this.#name;
    const current = () => this.#lock;
    new Gauge({
      name: "sgevents_leader_epoch",
      help: "The epoch this daemon leads (increments at each takeover)",
      labelNames: ["daemon", "member"],
      registers: [metrics.registry],
      collect() {
        this.reset();
        const held = current();
        if (held) this.set({ daemon: name, member: held.member }, held.epoch);
      },
    });
    new Gauge({
      name: "sgevents_group_members",
      help: "Daemons of this daemon.name connected to the state database, by role",
      labelNames: ["daemon", "role"],
      registers: [metrics.registry],
      async collect() {
        this.reset();
        const members = await current()?.members(name).catch(() => null);
        if (!members) return;
        const leaders = members.filter((m) => m.leads).length;
        this.set({ daemon: name, role: "leader" }, leaders);
        this.set({ daemon: name, role: "standby" }, members.length - leaders);
      },
    });
  }
}
