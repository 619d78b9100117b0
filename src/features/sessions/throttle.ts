import { createHash } from 'node:crypto';

/**
 * Login throttling (DESIGN §4): per account (by email, whether or not it exists, so the answer reveals
 * nothing) and per source IP. Failures inside a 15-minute window first cost a growing wait, then lock
 * the key for 15 minutes. A success clears the account's counter, not the IP's.
 */
export const THROTTLE_WINDOW_MS = 15 * 60_000;
export const LOCK_MS = 15 * 60_000;

export interface ThrottlePolicy {
  /** Failures answered without any wait. */
  readonly free: number;
  /** From this many failures on, the key is locked for LOCK_MS. */
  readonly lockAt: number;
}

export const ACCOUNT_POLICY: ThrottlePolicy = { free: 3, lockAt: 10 };
export const IP_POLICY: ThrottlePolicy = { free: 20, lockAt: 100 };

export function accountKey(email: string): Buffer {
  return createHash('sha256').update(`account:${email.trim().toLowerCase()}`).digest();
}

export function ipKey(ip: string): Buffer {
  return createHash('sha256').update(`ip:${ip}`).digest();
}

/** How long a key is blocked after its `failures`-th failure: nothing, then 1 s doubling up to 60 s, then the lock. */
export function blockAfter(failures: number, policy: ThrottlePolicy): { ms: number; locked: boolean } {
  if (failures >= policy.lockAt) return { ms: LOCK_MS, locked: true };
  if (failures <= policy.free) return { ms: 0, locked: false };
  return { ms: Math.min(60_000, 1000 * 2 ** (failures - policy.free - 1)), locked: false };
}
