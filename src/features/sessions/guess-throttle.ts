import type { Database, Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import { createAttemptThrottle, type ThrottledKey } from './attempt-throttle.js';
import { ACCOUNT_POLICY, accountKey } from './throttle-policy.js';

/**
 * Login's throttle (throttle-policy.ts: the same reservation, policy and lock) for other secrets a caller may guess
 * again and again, such as the current password a logged-in user must give to change it (DESIGN §4). Per
 * subject: the first 3 attempts in 15 minutes are free, then each blocks the next attempt for 1 s, 2 s, 4 s…
 * (at most 60 s), and the 10th locks the subject for 15 minutes. Each guess is reserved before it is checked,
 * so parallel guesses cannot all pass (attempt-throttle.ts); a right guess clears the count. Every call is its
 * own small unit of work, so a count survives the refusal that caused it (whose own unit of work rolls back);
 * callers must not hold a unit of work open meanwhile (the embedded database has one connection).
 */
export function createGuessThrottle({ db, clock }: { db: Database; clock: Clock }) {
  const attempts = createAttemptThrottle({ db, clock });
  // Prefixed so that no subject shares a counter with a login (`account:<email>`) or an MFA challenge.
  const keysOf = (subject: string): ThrottledKey[] => [{ key: accountKey(`guess:${subject}`), policy: ACCOUNT_POLICY, onSuccess: 'clear' }];

  return {
    /**
     * Reserves one guess for `subject`, or refuses it while the subject is blocked (seconds to wait). The
     * first refusal of a window runs `onFirstRefusal` in a unit of work for `tenantId` (its audit event).
     */
    async reserve(
      tenantId: string,
      subject: string,
      onFirstRefusal: (tx: Tx) => Promise<void>,
    ): Promise<{ admitted: true; locksOnFailure: boolean } | { admitted: false; retryAfterSeconds: number }> {
      const admission = await attempts.reserve(keysOf(subject), { tenantId, record: onFirstRefusal });
      return admission.admitted ? admission : { admitted: false, retryAfterSeconds: admission.retryAfterSeconds };
    },

    /**
     * A reserved guess was wrong (it is already counted). When it was the one that locked the subject,
     * `onLock` runs in a unit of work for `tenantId` (its audit event).
     */
    async failed(tenantId: string, locksOnFailure: boolean, onLock: (tx: Tx) => Promise<void>): Promise<void> {
      if (locksOnFailure) await db.tenantWork(tenantId, onLock);
    },

    /** A reserved attempt ended before or apart from the check (another error): it is not counted. */
    async refund(subject: string): Promise<void> {
      await attempts.refund(keysOf(subject));
    },

    /** A right guess clears the subject's count. */
    async succeeded(subject: string): Promise<void> {
      await attempts.succeeded(keysOf(subject));
    },
  };
}

export type GuessThrottle = ReturnType<typeof createGuessThrottle>;
