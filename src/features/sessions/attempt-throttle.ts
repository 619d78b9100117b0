import type { Database, Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import * as store from './sessions.store.js';
import { blockSchedule, THROTTLE_WINDOW_MS, type ThrottlePolicy } from './throttle-policy.js';

/** One counter an attempt is charged to, and what a success does to it. */
export interface ThrottledKey {
  readonly key: Buffer;
  readonly policy: ThrottlePolicy;
  /** `clear`: a success forgets the count (an account, a user); `refund`: it gives back only its own attempt (an address). */
  readonly onSuccess: 'clear' | 'refund';
}

export type Admission =
  | {
      readonly admitted: true;
      /** Whether this attempt reached a key's lock: if it fails, it is the failure that locked. */
      readonly locksOnFailure: boolean;
    }
  | {
      readonly admitted: false;
      readonly retryAfterSeconds: number;
      /** Whether this was the first refusal of a blocked key's window (recorded once). */
      readonly firstRefusal: boolean;
    };

export interface RefusalRecording {
  /** The unit of work for the refusal's bookkeeping: the tenant's when the tenant is known, else a global one. */
  readonly tenantId?: string;
  /** Runs in that unit of work when this is a key's first refusal in its window (its audit event). */
  readonly record?: (tx: Tx) => Promise<void>;
}

/** Thrown inside the reservation's unit of work so that the keys already reserved are rolled back. */
class Refused extends Error {}

/**
 * Check-then-count lets N parallel guesses all pass the check before any is counted (OWASP Authentication
 * Cheat Sheet, "Protect against automated attacks"; CWE-367). So every attempt is reserved first: one
 * statement counts it on every key and refuses while a key is blocked (sessions.store reserveAttempts), in one
 * unit of work that a refusal rolls back, so a refusal on one key leaves the others unchanged. Then the secret is checked; a
 * failure is already counted (the reservation is the failure count), a success clears or refunds.
 * Keys are always taken in the caller's order with the address last, so two reservations never wait on
 * each other's rows in opposite orders.
 */
export function createAttemptThrottle({ db, clock }: { db: Database; clock: Clock }) {
  const schedules = new Map<ThrottlePolicy, number[]>();
  const scheduleOf = (policy: ThrottlePolicy) => {
    let schedule = schedules.get(policy);
    if (!schedule) schedules.set(policy, (schedule = blockSchedule(policy)));
    return schedule;
  };

  async function succeededIn(tx: Tx, keys: readonly ThrottledKey[]): Promise<void> {
    await store.settleAttempts(tx, keys.map((k) => ({ key: k.key, clear: k.onSuccess === 'clear', free: k.policy.free })));
  }

  return {
    /**
     * Reserves one attempt on every key, or refuses the attempt (nothing counted) while any key is blocked.
     * `then` runs after the reservations in the same unit of work, for `then.tenantId` (reads the attempt needs
     * next, saving a unit of work); it commits with them and is rolled back with a refusal.
     */
    async reserve(keys: readonly ThrottledKey[], refusal: RefusalRecording = {}, then?: { tenantId: string; work: (tx: Tx) => Promise<void> }): Promise<Admission> {
      const now = clock.now();
      const windowStart = new Date(now.getTime() - THROTTLE_WINDOW_MS);
      const reserveAll = async (tx: Tx) => {
        const counts = await store.reserveAttempts(tx, keys.map((k) => ({ key: k.key, schedule: scheduleOf(k.policy) })), now, windowStart);
        if (counts.includes(null)) throw new Refused();
        if (then) await then.work(tx);
        return counts;
      };
      try {
        const attempts = await (then ? db.tenantWork(then.tenantId, reserveAll) : db.globalWork(reserveAll));
        return { admitted: true, locksOnFailure: keys.some((k, i) => attempts[i] === k.policy.lockAt) };
      } catch (error) {
        if (!(error instanceof Refused)) throw error;
      }
      const refuse = async (tx: Tx): Promise<Admission> => {
        const rows = await store.readThrottles(tx, keys.map((k) => k.key));
        // Claimed in the caller's key order, the order reserveAttempts locks rows in: a refusal and a reservation
        // of the same keys then never wait on each other's rows in opposite orders (a deadlock PostgreSQL would end
        // by aborting one of them). The rows come back in index order, so they are put in the keys' order first.
        const blocked = keys
          .map((k) => rows.find((r) => Buffer.from(r.key).equals(k.key)))
          .filter((r): r is (typeof rows)[number] => r !== undefined && (r.blocked_until?.getTime() ?? 0) > now.getTime());
        let firstRefusal = false;
        for (const row of blocked) if (await store.claimFirstRefusal(tx, Buffer.from(row.key), now)) firstRefusal = true;
        if (firstRefusal && refusal.record) await refusal.record(tx);
        const until = Math.max(0, ...blocked.map((r) => r.blocked_until!.getTime()));
        return { admitted: false, retryAfterSeconds: Math.max(1, Math.ceil((until - now.getTime()) / 1000)), firstRefusal };
      };
      return refusal.tenantId === undefined ? db.globalWork(refuse) : db.tenantWork(refusal.tenantId, refuse);
    },

    /** The attempt was not a guess after all (it failed before or apart from the secret's check): not counted. */
    async refund(keys: readonly ThrottledKey[]): Promise<void> {
      await db.globalWork((tx) => store.settleAttempts(tx, keys.map((k) => ({ key: k.key, clear: false, free: k.policy.free }))));
    },

    /** The attempt succeeded: each key's count is cleared or its attempt refunded, as the key says. */
    async succeeded(keys: readonly ThrottledKey[]): Promise<void> {
      await db.globalWork((tx) => succeededIn(tx, keys));
    },

    /**
     * The same in the caller's unit of work (the table is global: any unit of work may write it), so that it
     * commits with what the success does. Call it before anything else in that unit of work: the keys' rows are
     * then always locked before a tenant's audit head, as the refusal's unit of work does (no lock cycle).
     */
    succeededIn,
  };
}

export type AttemptThrottle = ReturnType<typeof createAttemptThrottle>;
