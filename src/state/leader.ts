/**
 * Leader election for daemons sharing one PostgreSQL state (same `daemon.name` and
 * `state_url`): a session advisory lock held on a dedicated connection. The daemon that
 * holds it leads (delivers); the others are standbys that try the lock every
 * `lease_timeout / 3` and take over when it frees (the server drops it the moment the
 * leader's session ends: process killed, connection cut, or `idle_session_timeout` after
 * a host vanished).
 *
 * Each takeover increments the daemon row's `epoch`: the fencing token every state write
 * is conditional on (postgres_backend.ts). The leader checks its lock session every
 * `lease_timeout / 3`; any failure, or a session that is not the one holding the lock,
 * aborts {@link LeaderLock.lost}, so a leader cut off stops delivering within
 * `lease_timeout`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Sleep, sleep as realSleep } from "../util/abort.ts";
import { connect, type Sql } from "./postgres_connection.ts";
import { StateFileError } from "./state_file.ts";
import { leaderLockClass, migrate } from "./postgres_schema.ts";

/** Options of {@link LeaderLock.acquire}. */
export interface LeaderLockOptions {
  /** `daemon.name`. */
  readonly name: string;
  /** `state_password_file`'s password, when not in the URL. */
  readonly password?: string | null;
  /** `daemon.lease_timeout` in ms. */
  readonly leaseTimeoutMs: number;
  /** Stops waiting (and the checks). */
  readonly signal: AbortSignal;
  /** Who this daemon is, shown to the others (default `pid <pid> on <host>`). */
  readonly member?: string;
  /** Called once when another daemon leads and this one waits as a standby. */
  readonly onStandby?: (leader: string | null) => void;
  readonly sleep?: Sleep;
}

/** The held leadership; release it with {@link LeaderLock.release}. */
export class LeaderLock implements AsyncDisposable {
  /** The epoch this daemon leads. */
  readonly epoch: number;
  /** Who this daemon is. */
  readonly member: string;
  readonly #sql: Sql;
  readonly #lost = new AbortController();
  readonly #stopChecks = new AbortController();
  #checks: Promise<void>;
  #released = false;

  private constructor(
    sql: Sql,
    epoch: number,
    member: string,
    check: { backendPid: number; name: string; intervalMs: number; sleep: Sleep },
  ) {
    this.#sql = sql;
    this.epoch = epoch;
    this.member = member;
    this.#checks = this.#check(check);
  }

  /**
   * Wait until this daemon leads, migrating the schema first.
   *
   * @param url The `state_url`.
   * @param options Name, lease, stop signal.
   * @returns The leadership, with a new epoch.
   * @throws {DOMException} AbortError when `signal` aborts first.
   */
  static async acquire(url: string, options: LeaderLockOptions): Promise<LeaderLock> {
    const logger = getLogger(["sgevents", "leader"]);
    const sleep = options.sleep ?? realSleep;
    const intervalMs = Math.max(1, Math.floor(options.leaseTimeoutMs / 3));
    const member = options.member ?? `pid ${Deno.pid} on ${Deno.hostname()}`;
    const name = options.name;
    let standby = false;
    let unreachable = false;
    for (;;) {
      options.signal.throwIfAborted();
      const sql = connect(url, {
        password: options.password ?? null,
        applicationName: `sgevents ${name}: ${member}`.slice(0, 63),
        connectTimeoutS: Math.max(1, Math.ceil(options.leaseTimeoutMs / 1000)),
      });
      try {
        await migrate(sql);
        // A leader whose host vanished leaves an idle session: the server ends it (and frees
        // the lock) after a lease; a live leader checks in more often than that.
        await sql.unsafe(`SET idle_session_timeout = ${Math.max(options.leaseTimeoutMs, 1000)}`)
          .catch(() => {}); // PostgreSQL before 14: host loss waits for TCP keepalives.
        for (;;) {
          options.signal.throwIfAborted();
          const [row] = await sql<{ ok: boolean; pid: number }[]>`SELECT
              pg_try_advisory_lock(${leaderLockClass}, hashtext(${name})) AS ok,
              pg_backend_pid() AS pid`;
          if (unreachable) logger.info("State database reachable again");
          unreachable = false;
          if (row?.ok) {
            const epoch = await takeOver(sql, name, member);
            logger.info("Leading daemon {name} (epoch {epoch})", { name, epoch });
            return new LeaderLock(sql, epoch, member, {
              backendPid: row.pid,
              name,
              intervalMs,
              sleep,
            });
          }
          if (!standby) {
            standby = true;
            const leader = await currentLeader(sql, name);
            logger.info("Standby for daemon {name}: {leader} leads", {
              name,
              leader: leader ?? "another daemon",
            });
            options.onStandby?.(leader);
          }
          await sleep(intervalMs, options.signal);
        }
      } catch (error) {
        await sql.end({ timeout: 0 }).catch(() => {});
        if (options.signal.aborted) throw options.signal.reason;
        // A schema newer than this build: waiting will not help.
        if (error instanceof StateFileError) throw error;
        if (!unreachable) {
          logger.error("Cannot reach the state database ({error}); retrying", {
            error: (error as Error).message,
          });
        }
        unreachable = true;
        await sleep(intervalMs, options.signal);
      }
    }
  }

  /** Aborts when leadership is lost (stop delivering at once). */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  async #check(
    options: { backendPid: number; name: string; intervalMs: number; sleep: Sleep },
  ): Promise<void> {
    const signal = this.#stopChecks.signal;
    const logger = getLogger(["sgevents", "leader"]);
    while (!signal.aborted) {
      try {
        await options.sleep(options.intervalMs, signal);
      } catch {
        return;
      }
      let reason: string | null = null;
      try {
        const timeout = options.sleep(options.intervalMs, signal).then(
          () => "timeout" as const,
          () => "stopped" as const,
        );
        const check = this.#sql<{ pid: number; held: boolean }[]>`SELECT
            pg_backend_pid() AS pid,
            EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
              AND pid = pg_backend_pid() AND classid = ${leaderLockClass}
              AND objid = hashtext(${options.name})::oid) AS held`;
        check.catch(() => {}); // Answered after the timeout: already decided.
        const result = await Promise.race([check, timeout]);
        if (result === "stopped") return;
        if (result === "timeout") reason = "the lock connection did not answer in time";
        else if (result[0]?.pid !== options.backendPid) reason = "the lock connection was lost";
        else if (!result[0]?.held) reason = "the lock is no longer held";
      } catch (error) {
        if (signal.aborted) return;
        reason = `the lock connection failed (${(error as Error).message})`;
      }
      if (reason !== null) {
        logger.error("Lost the lead of daemon {name}: {reason}; stopping delivery", {
          name: options.name,
          reason,
        });
        this.#lost.abort(new DOMException(`Lost the lead: ${reason}`, "AbortError"));
        return;
      }
    }
  }

  /**
   * The group's members now: the lock sessions of `daemon.name`, the leader first.
   *
   * @returns Each member's description and whether it leads.
   */
  members(name: string): Promise<GroupMember[]> {
    return groupMembers(this.#sql, name);
  }

  /** Give up the lead (idempotent): the lock's session ends, a standby takes over. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#stopChecks.abort();
    await this.#checks;
    await this.#sql.end({ timeout: 1 }).catch(() => {});
  }

  /** Same as {@link LeaderLock.release}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

/** Make the daemon row exist and start a new epoch under this leader. */
async function takeOver(sql: Sql, name: string, member: string): Promise<number> {
  const [row] = await sql.begin(async (tx) => {
    await tx`INSERT INTO sgevents_daemon (name) VALUES (${name}) ON CONFLICT DO NOTHING`;
    return await tx<{ epoch: string }[]>`UPDATE sgevents_daemon
      SET epoch = epoch + 1, leader = ${member}, leader_since = now()
      WHERE name = ${name} RETURNING epoch`;
  });
  return Number(row!.epoch);
}

/** The daemon that leads `name` according to its row, or null. */
async function currentLeader(sql: Sql, name: string): Promise<string | null> {
  const [row] = await sql<{ leader: string | null }[]>`SELECT leader FROM sgevents_daemon
    WHERE name = ${name}`;
  return row?.leader ?? null;
}

/** A daemon of a group, from its lock session. */
export interface GroupMember {
  /** `pid <pid> on <host>` (or what the daemon called itself). */
  readonly member: string;
  readonly leads: boolean;
}

/**
 * The daemons of a group: the sessions named `sgevents <name>: <member>` (the lock
 * connections), the one holding the lock leading.
 *
 * @param sql A connection.
 * @param name `daemon.name`.
 * @returns The members, the leader first, then by age.
 */
export async function groupMembers(sql: Sql, name: string): Promise<GroupMember[]> {
  const rows = await sql<GroupMember[]>`SELECT
      substr(a.application_name, ${`sgevents ${name}: `.length + 1}) AS member,
      EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory'
        AND l.granted AND l.classid = ${leaderLockClass}
        AND l.objid = hashtext(${name})::oid) AS leads
    FROM pg_stat_activity a
    WHERE a.application_name LIKE ${`sgevents ${name}: %`}
      AND a.application_name <> ${`sgevents ${name}: state`}
    ORDER BY a.backend_start`;
  return [...rows].sort((a, b) => Number(b.leads) - Number(a.leads));
}
