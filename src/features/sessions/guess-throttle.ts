import type { Database, Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import * as store from './sessions.store.js';
import { ACCOUNT_POLICY, accountKey, blockAfter, THROTTLE_WINDOW_MS } from './throttle.js';

/**
 * Login's throttle (throttle.ts: the same counters, policy and lock) for other secrets a caller may guess
 * again and again, such as the current password a logged-in user must give to change it (DESIGN §4). Per
 * subject: the first 3 failures in 15 minutes are free, then each blocks the next attempt for 1 s, 2 s, 4 s…
 * (at most 60 s), and the 10th locks the subject for 15 minutes. Every call is its own small unit of work,
 * so a count survives the refusal that caused it (whose own unit of work rolls back); callers must not hold
 * a unit of work open meanwhile (the embedded database has one connection).
 */
export function createGuessThrottle({ db, clock }: { db: Database; clock: Clock }) {
  // Prefixed so that no subject shares a counter with a login (`account:<email>`) or an MFA challenge.
  const keyOf = (subject: string) => accountKey(`guess:${subject}`);

  return {
    /** Seconds until `subject` may guess again (0: now), and whether it has failures counted. */
    async state(subject: string): Promise<{ retryAfterSeconds: number; counted: boolean }> {
      const now = clock.now().getTime();
      const [row] = await db.globalWork((tx) => store.readThrottles(tx, [keyOf(subject)]));
      const until = row?.blocked_until?.getTime() ?? 0;
      return { retryAfterSeconds: until > now ? Math.ceil((until - now) / 1000) : 0, counted: row !== undefined };
    },

    /**
     * Counts a wrong guess, in a unit of work for `tenantId`; when this failure locks the subject, `onLock`
     * runs in that same unit of work (its audit event commits with the lock). Returns whether it locked.
     */
    async failed(tenantId: string, subject: string, onLock: (tx: Tx) => Promise<void>): Promise<boolean> {
      const now = clock.now();
      const key = keyOf(subject);
      return db.tenantWork(tenantId, async (tx) => {
        const failures = await store.countFailure(tx, key, now, new Date(now.getTime() - THROTTLE_WINDOW_MS));
        const block = blockAfter(failures, ACCOUNT_POLICY);
        if (block.ms > 0) await store.blockUntil(tx, key, new Date(now.getTime() + block.ms));
        const lockedNow = block.locked && failures === ACCOUNT_POLICY.lockAt;
        if (lockedNow) await onLock(tx);
        return lockedNow;
      });
    },

    /** A right guess clears the subject's count. */
    async succeeded(subject: string): Promise<void> {
      await db.globalWork((tx) => store.clearThrottle(tx, keyOf(subject)));
    },
  };
}

export type GuessThrottle = ReturnType<typeof createGuessThrottle>;
