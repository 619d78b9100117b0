import { createHash } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * Login throttling (DESIGN §4): per account (by email, whether or not it exists, so the answer reveals
 * nothing) and per source address. Attempts inside a 15-minute window first cost a growing wait, then lock
 * the key for 15 minutes. Every attempt is reserved before its secret is checked (attempt-throttle.ts), so
 * parallel requests cannot all pass one check; a success clears the account's count and gives the
 * address its attempt back.
 */
export const THROTTLE_WINDOW_MS = 15 * 60_000;
export const LOCK_MS = 15 * 60_000;

export interface ThrottlePolicy {
  /** Attempts answered without any wait. */
  readonly free: number;
  /** From this many attempts on, the key is locked for LOCK_MS. */
  readonly lockAt: number;
}

export const ACCOUNT_POLICY: ThrottlePolicy = { free: 3, lockAt: 10 };
export const IP_POLICY: ThrottlePolicy = { free: 20, lockAt: 100 };

export function accountKey(email: string): Buffer {
  return createHash('sha256').update(`account:${email.trim().toLowerCase()}`).digest();
}

export function ipKey(ip: string): Buffer {
  return createHash('sha256').update(`ip:${ipSubject(ip)}`).digest();
}

/**
 * The address a per-IP count is kept for. An IPv6 end site is normally given a whole /64 (RFC 6177,
 * RFC 7421), so one client can change the low 64 bits at will: IPv6 is counted per /64. An IPv4-mapped
 * IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) is the IPv4 address it maps. Anything that is not an
 * address (a Unix socket) is counted as given.
 */
export function ipSubject(ip: string): string {
  const zone = ip.indexOf('%');
  const address = zone >= 0 ? ip.slice(0, zone) : ip;
  const version = isIP(address);
  if (version === 4) return address;
  if (version !== 6) return ip;
  const groups = ipv6Groups(address);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/**
 * The eight 16-bit groups of a valid IPv6 address. The WHATWG URL parser (RFC 5952 serialization) writes it
 * in one canonical form, embedded IPv4 included, so only `::` is left to expand.
 */
function ipv6Groups(address: string): number[] {
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head = '', tail] = canonical.split('::');
  const part = (s: string | undefined) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const before = part(head);
  const after = part(tail);
  return [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
}

/** How long a key is blocked after its `attempts`-th counted attempt: nothing, then 1 s doubling up to 60 s, then the lock. */
export function blockAfter(attempts: number, policy: ThrottlePolicy): { ms: number; locked: boolean } {
  if (attempts >= policy.lockAt) return { ms: LOCK_MS, locked: true };
  if (attempts <= policy.free) return { ms: 0, locked: false };
  return { ms: Math.min(60_000, 1000 * 2 ** (attempts - policy.free - 1)), locked: false };
}

/** blockAfter for the 1st … lockAt-th attempt, in milliseconds: the table the reservation statement reads. */
export function blockSchedule(policy: ThrottlePolicy): number[] {
  return Array.from({ length: policy.lockAt }, (_, i) => blockAfter(i + 1, policy).ms);
}
