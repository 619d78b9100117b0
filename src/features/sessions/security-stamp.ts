import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../kernel/app-error.js';
import { SessionErrors } from './sessions.errors.js';

/**
 * The `sst` claim of login-phase tokens (identity, MFA challenge, password change): a hash of the user's
 * security stamp when the token was issued, so the stamp itself never leaves the database. Every use
 * re-reads the stamp; a password change or reset, deactivation, revoke-all or MFA change rotates it, and
 * every login-phase token issued before is refused (OWASP ASVS v4 §3.3.3 / §2.5.x: credential changes end
 * what the old credentials started).
 */
export function stampClaim(stamp: string): string {
  return createHash('sha256').update(`tessera-sst:${stamp}`).digest('base64url');
}

/** Constant-time comparison of a token's `sst` with the stamp read now. */
export function stampMatches(claim: string | undefined, stamp: string): boolean {
  if (typeof claim !== 'string') return false;
  const a = Buffer.from(claim);
  const b = Buffer.from(stampClaim(stamp));
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Step-up (OIDC Core §2 `auth_time`, NIST SP 800-63B §4.2.3 re-authentication): actions that change how the
 * user proves who they are, or end every session, need either the current password in the request or an
 * authentication no older than this.
 */
export const STEP_UP_MAX_AGE_SECONDS = 300;

/** Throws `sessions.step_up_required` unless the session's authentication is recent enough. */
export function requireRecentAuthentication(authTime: number | undefined, nowSeconds: number): void {
  if (authTime === undefined || nowSeconds - authTime > STEP_UP_MAX_AGE_SECONDS || authTime > nowSeconds + 30) {
    throw new AppError(SessionErrors['sessions.step_up_required']);
  }
}
