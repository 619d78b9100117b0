import { AppError } from '../../kernel/app-error.js';
import type { Tx } from '../../db/database.js';
import type { AuditEventInput } from '../audit/index.js';
import type { IssuedSession, Issuer } from './session-issuer.js';
import { type AuthenticatedUser, createLoginPipeline, type Decision as LoginDecision, type LoginResult } from './login-pipeline.js';
import { SessionErrors } from './sessions.errors.js';
import type { PasswordLoginSsoPolicy, RequestMeta, SessionsDeps } from './sessions.ports.js';
import * as store from './sessions.store.js';
import { type Admission, createAttemptThrottle, type ThrottledKey } from './attempt-throttle.js';
import { ACCOUNT_POLICY, accountKey, IP_POLICY, ipKey } from './throttle-policy.js';
import { verifyToken } from './tokens.js';
import type { LoginAdmission } from './login-admission.js';

/** A wrong second-factor code: thrown to roll the unit of work back (the challenge stays unspent), then answered. */
class WrongCode extends Error {
  constructor(readonly email: string) {
    super('wrong code');
  }
}

/** A tenant id no tenant has (ids are UUIDv7; this is the nil UUID). */
const NO_TENANT = '00000000-0000-0000-0000-000000000000';

/** More candidate tenants than this for one email, without a tenant id: refused like a wrong password. */
const MAX_CANDIDATE_TENANTS = 3;

/**
 * The ways into the login pipeline (login-pipeline.ts) over HTTP today: the password as first factor
 * (identify + first_factor, with the throttle and the uniform failure), the TOTP / recovery-code second factor
 * for a challenge, the forced password change, and account selection with an identity token.
 */
export function createLogin(deps: SessionsDeps, issuer: Issuer, line: LoginAdmission) {
  const pipeline = createLoginPipeline(deps, issuer);
  const { actor, recordFailure, recordingNoAccounts, sign, complete } = pipeline;
  // The hasher bounds concurrent hashing below both the thread-pool size and the core count.
  const { db, clock, audit, mfa, passwords } = deps;

  const attempts = createAttemptThrottle({ db, clock });

  /** The per-address count of every attempt (throttle-policy.ts: IPv6 per /64); a success gives its attempt back. */
  const addressKey = (meta: RequestMeta): ThrottledKey => ({ key: ipKey(meta.ip), policy: IP_POLICY, onSuccess: 'refund' });

  /**
   * A refused (429) attempt, before any secret is checked. Its log line (the error's detail, written by the
   * error handler) is the operator's record; the tenant's record is `auth.login.throttled`, written once per
   * window by the reservation when the tenant is known.
   */
  function tooManyAttempts(refusal: Extract<Admission, { admitted: false }>, tenantKnown: boolean): AppError {
    return new AppError(SessionErrors['sessions.too_many_attempts'], {
      detail: { retryAfterSeconds: refusal.retryAfterSeconds, firstRefusal: refusal.firstRefusal, tenantKnown },
    });
  }

  /**
   * `auth.login.throttled` (the first refusal of a window, so a SIEM sees a brute force before the lock), in
   * the tenant the caller named, for its user of that email; a tenant id naming no such user records nothing.
   */
  function recordingThrottled(tenantId: string, email: string, meta: RequestMeta, stage: 'password' | 'mfa') {
    return async (tx: Tx): Promise<void> => {
      const user = await deps.users.findLoginUser(tx, tenantId, email);
      if (!user) return;
      await audit.record(tx, tenantId, {
        action: 'auth.login.throttled',
        actor: actor(user.id, user.email, meta),
        target: { type: 'user', id: user.id },
        outcome: 'failure',
        errorCode: SessionErrors['sessions.too_many_attempts'],
        details: { stage },
      });
    };
  }

  /**
   * The sso_policy step (docs/login-pipeline.md), for a password login of an email whose domain requires SSO
   * while an enabled connection serves it. Enumeration-safe (OWASP Authentication Cheat Sheet, "Authentication
   * and Error Messages"): the password was checked as usual (the reserved attempt counts), and the login goes on
   * only when the password is right AND the user is a break-glass user; an unknown email, a wrong password, an
   * inactive user and a right password of any other user all answer the same `sso_required`, after the same
   * reads and one audit write. A right password of a non-break-glass user keeps its attempt counted, so the
   * throttle does not tell it apart either. Returns true for a break-glass user (who must pass a second factor).
   */
  async function ssoPolicyStep(
    tenantId: string,
    email: string,
    policy: Extract<PasswordLoginSsoPolicy, { kind: 'enforced' }>,
    found: readonly { user: { id: string; email: string; active: boolean } }[],
    matched: readonly { user: { id: string } }[],
    locked: boolean,
    meta: RequestMeta,
  ): Promise<boolean> {
    const user = found[0]?.user;
    // The same read for an unknown email (the nil id names nobody).
    const breakGlass = await db.tenantWork(tenantId, (tx) => deps.ssoPolicy!.isBreakGlass(tx, tenantId, user?.id ?? NO_TENANT));
    if (matched.length === 1 && breakGlass) return true;
    const reason = !user ? 'unknown_user' : !user.active ? 'inactive' : matched.length === 0 ? 'password' : 'not_break_glass';
    const who = actor(user?.id ?? null, user?.email ?? email, meta);
    const events: AuditEventInput[] = [
      { action: 'sso.login.blocked_by_policy', actor: who, target: user ? { type: 'user', id: user.id } : null, outcome: 'failure', errorCode: SessionErrors.sso_required, details: { domain: policy.domain, connectionId: policy.continueWith.connection.id, reason } },
    ];
    // A wrong password is still a failed guess in the tenant's log (and may be the one that locks the email).
    if (user && reason === 'password') {
      events.push({ action: 'auth.login.failed', actor: who, target: { type: 'user', id: user.id }, outcome: 'failure', errorCode: SessionErrors['sessions.invalid_credentials'], details: { reason: 'password' } });
    }
    if (user && locked) events.push({ action: 'auth.login.locked', actor: who, target: { type: 'user', id: user.id }, outcome: 'failure', errorCode: SessionErrors['sessions.too_many_attempts'] });
    await recordFailure(tenantId, ...events);
    throw new AppError(SessionErrors.sso_required, { details: { ...policy.continueWith }, detail: { reason, domain: policy.domain, locked } });
  }

  return {
    async login(input: { email: string; password: string; tenantId?: string }, meta: RequestMeta): Promise<LoginResult> {
      const email = input.email.trim().toLowerCase();
      // Which tenant, first: the one the client names (a tenant-specific login page: the path to use), else
      // the one a verified domain of the email names (tenantForEmail, when the SSO feature provides it).
      const tenantId = input.tenantId ?? (await deps.tenantForEmail?.(email)) ?? undefined;
      const throttleKeys: ThrottledKey[] = [{ key: accountKey(email), policy: ACCOUNT_POLICY, onSuccess: 'clear' }, addressKey(meta)];
      // Step 0: a slot in the hashing line (login-admission.ts), or `sessions.login_busy` at once with nothing
      // done: no statement, no throttle count, no hash.
      const entry = line.enter(meta.ip);
      if (!entry.admitted) throw new AppError(SessionErrors['sessions.login_busy'], { detail: { retryAfterSeconds: entry.retryAfterSeconds, reason: entry.reason } });
      const { ticket } = entry;
      try {
        const found: { tenantId: string; user: NonNullable<Awaited<ReturnType<typeof deps.users.findLoginUser>>> }[] = [];
        // The tenant's Require-SSO policy for the email's domain, when the tenant is known: read in the same unit
        // of work as the user, and decided from the domain alone (never the user), so the same reads happen whether
        // or not the email exists.
        let ssoPolicy = { kind: 'none' } as PasswordLoginSsoPolicy;
        // Step 1: reserved before any password work, refused at once while a key is blocked. With the tenant
        // known, the user and the policy are read in the reservation's unit of work (one commit fewer); they are
        // used only once the reservation committed, and a refusal rolls them back unused.
        const readKnownTenant = async (tx: Tx) => {
          if (deps.ssoPolicy) ssoPolicy = await deps.ssoPolicy.passwordLoginPolicy(tx, tenantId!, email);
          const user = await deps.users.findLoginUser(tx, tenantId!, email);
          if (user) found.push({ tenantId: tenantId!, user });
        };
        const admission = await attempts.reserve(
          throttleKeys,
          tenantId === undefined ? {} : { tenantId, record: recordingThrottled(tenantId, email, meta, 'password') },
          tenantId === undefined ? undefined : { tenantId, work: readKnownTenant },
        );
        if (!admission.admitted) throw tooManyAttempts(admission, tenantId !== undefined);

        // Else the tenants where the email exists. The answer is never shown to a caller without the right
        // password: every path below costs one argon2 verification per candidate (a dummy one when there is
        // none) and ends in the same `sessions.invalid_credentials`.
        const candidates = tenantId !== undefined ? [tenantId] : await db.globalWork((tx) => deps.users.loginTenants(tx, email));
        if (tenantId === undefined && candidates.length <= MAX_CANDIDATE_TENANTS) {
          for (const candidate of candidates) {
            const user = await db.tenantWork(candidate, (tx) => deps.users.findLoginUser(tx, candidate, email));
            if (user) found.push({ tenantId: candidate, user });
          }
        }
        // An unknown email costs the same user read as a known one (it finds nothing, by construction).
        if (candidates.length === 0) await db.tenantWork(NO_TENANT, (tx) => deps.users.findLoginUser(tx, NO_TENANT, email));
        const matched: typeof found = [];
        const passwordMatched: typeof found = [];
        // Each verification waits for its turn in the CPU budget (login-admission.ts); the slot is given back
        // when the login ends (its cost, measured to there, sets the budget's spacing).
        if (found.length === 0) await ticket.hash(() => passwords.verifyDummy(input.password));
        for (const f of found) {
          const hashed = f.user.password_hash;
          const ok = await ticket.hash(() => (hashed ? passwords.verify(hashed, input.password) : passwords.verifyDummy(input.password)));
          if (ok) passwordMatched.push(f);
          if (ok && f.user.active) matched.push(f);
        }
        let breakGlass = false;
        if (ssoPolicy.kind === 'enforced' && tenantId !== undefined) {
          breakGlass = await ssoPolicyStep(tenantId, email, ssoPolicy, found, matched, admission.locksOnFailure, meta);
        }

        if (matched.length === 0) {
          // The reserved attempt is the failure's count; `locked` when it was the one that reached a lock.
          const locked = admission.locksOnFailure;
          // A tenant's log holds a failure only when the caller chose that tenant, or knew its user's password
          // (an inactive user): any tenant can create a user with a victim's email, and would otherwise read the
          // victim's tenant-less failures (IP, user agent). Those are the operator's: the refusal's log line.
          const audited = tenantId !== undefined ? found : passwordMatched;
          for (const f of audited) {
            const who = actor(f.user.id, f.user.email, meta);
            const failed: AuditEventInput = { action: 'auth.login.failed', actor: who, target: { type: 'user', id: f.user.id }, outcome: 'failure', errorCode: SessionErrors['sessions.invalid_credentials'], details: { reason: f.user.active ? 'password' : 'inactive' } };
            const lock: AuditEventInput = { action: 'auth.login.locked', actor: who, target: { type: 'user', id: f.user.id }, outcome: 'failure', errorCode: SessionErrors['sessions.too_many_attempts'] };
            await recordFailure(f.tenantId, failed, ...(locked ? [lock] : []));
          }
          // Same time whether or not an event was written: a failure with none gets an equivalent committed write.
          if (audited.length === 0) await db.globalWork((tx) => store.rewriteThrottle(tx, throttleKeys[0]!.key));
          throw new AppError(SessionErrors['sessions.invalid_credentials'], { detail: { candidates: candidates.length, locked, tenantKnown: tenantId !== undefined } });
        }
        if (matched.length > 1) {
          // The password was right (in two tenants): not a failed guess.
          await attempts.succeeded(throttleKeys);
          throw new AppError(SessionErrors['sessions.tenant_required']);
        }

        const { user } = matched[0]!;
        const matchedTenant = matched[0]!.tenantId;
        const key = await issuer.signingKey();
        // first_factor done (RFC 8176 `pwd`): the rest of the pipeline, as for every way in.
        const authenticated: AuthenticatedUser = { tenantId: matchedTenant, userId: user.id, email: user.email, stamp: user.security_stamp, amr: ['pwd'], ...(breakGlass ? { breakGlass } : {}) };
        const decision = await db
          .tenantWork(matchedTenant, async (tx) => {
            // The password was right: not a failed guess. Committed with the login's own writes (one unit of
            // work fewer per login); first, so that the throttle rows are locked before the audit head.
            await attempts.succeededIn(tx, throttleKeys);
            // Require SSO is on but no enabled connection serves the domain: password login works (a misconfigured
            // IdP must never lock the tenant out), and the tenant's log says so.
            if (ssoPolicy.kind === 'lifted') {
              await audit.record(tx, matchedTenant, { action: 'sso.login.policy_not_enforced', actor: actor(user.id, user.email, meta), target: { type: 'user', id: user.id }, outcome: 'success', details: { domain: ssoPolicy.domain, reason: 'no_enabled_connection' } });
            }
            return pipeline.afterFirstFactor(tx, authenticated, meta);
          })
          .catch(async (error: unknown) => {
            // The unit of work rolled back, the success with it; the password was still right.
            await attempts.succeeded(throttleKeys);
            if (error instanceof AppError && error.code === SessionErrors['sessions.break_glass_mfa_required']) {
              await recordFailure(matchedTenant, { action: 'sso.login.blocked_by_policy', actor: actor(user.id, user.email, meta), target: { type: 'user', id: user.id }, outcome: 'failure', errorCode: error.code, details: { reason: 'break_glass_without_mfa' } });
            }
            return recordingNoAccounts(matchedTenant, user.id, user.email, meta)(error);
          });
        return sign(key, decision);
      } finally {
        ticket.leave();
      }
    },

    /**
     * The first factor of an identity source other than the password (an SSO connection): `resolve` finds or
     * provisions the user in the tenant's unit of work and returns who was proven; the rest of the pipeline
     * follows in the same unit of work, as for a password (docs/login-pipeline.md "How an SSO identity source
     * plugs in"). A refusal thrown by `resolve` rolls its changes back.
     */
    async loginWithIdentitySource(tenantId: string, resolve: (tx: Tx) => Promise<AuthenticatedUser>, meta: RequestMeta): Promise<LoginResult> {
      const key = await issuer.signingKey();
      let proven: AuthenticatedUser | undefined;
      const decision = await db
        .tenantWork(tenantId, async (tx) => {
          proven = await resolve(tx);
          return pipeline.afterFirstFactor(tx, proven, meta);
        })
        .catch(async (error: unknown) => {
          if (proven) return recordingNoAccounts(tenantId, proven.userId, proven.email, meta)(error);
          throw error;
        });
      return sign(key, decision);
    },

    /** The second factor: a TOTP or recovery code for the challenge, or the first code of an enrollment. */
    async loginMfa(input: { challengeToken: string; code: string }, meta: RequestMeta): Promise<LoginResult> {
      const keys = await deps.keys.verificationKeys();
      const verified = verifyToken(input.challengeToken, 'mfa', keys, { issuer: deps.issuer }, issuer.nowSeconds());
      if (!verified.ok) throw new AppError(SessionErrors.invalid_token, { detail: { reason: verified.reason } });
      const { tid: tenantId, sub: userId } = verified.claims;
      const stage = verified.claims.amr?.includes('pending:enroll') ? 'enroll' : 'verify';
      // Per user (every challenge of the user shares it) and per address; reserved before the code is checked.
      const throttleKeys: ThrottledKey[] = [{ key: accountKey(`mfa:${tenantId}:${userId}`), policy: ACCOUNT_POLICY, onSuccess: 'clear' }, addressKey(meta)];
      const admission = await attempts.reserve(throttleKeys, {
        tenantId,
        record: (tx) =>
          audit.record(tx, tenantId, { action: 'auth.login.throttled', actor: actor(userId, null, meta), target: { type: 'user', id: userId }, outcome: 'failure', errorCode: SessionErrors['sessions.too_many_attempts'], details: { stage: 'mfa' } }),
      });
      if (!admission.admitted) throw tooManyAttempts(admission, true);
      const key = await issuer.signingKey();

      const outcome = await db.tenantWork(tenantId, async (tx): Promise<{ result: LoginDecision } | { failed: 'inactive' | 'code'; email: string | null }> => {
        const user = await deps.users.findLoginUserById(tx, tenantId, userId);
        if (!user?.active) return { failed: 'inactive' as const, email: user?.email ?? null };
        // Bound to the security stamp (a password reset or MFA reset since ends the challenge) and single use;
        // spent before the code is checked, and kept spent only when the code was right (a wrong one rolls back).
        await issuer.redeem(tx, verified.claims);
        let recoveryCodes: string[] | undefined;
        let factor: string;
        if (stage === 'enroll') {
          const done = await mfa.completeEnrollment(tx, tenantId, userId, input.code);
          if (!done) throw new WrongCode(user.email);
          recoveryCodes = done.recoveryCodes;
          factor = 'totp';
        } else {
          const used = await mfa.verifyLoginFactor(tx, tenantId, userId, input.code);
          if (!used) throw new WrongCode(user.email);
          factor = used;
        }
        const amr = ['pwd', factor === 'recovery_code' ? 'rc' : 'otp'];
        const result = await complete(tx, tenantId, userId, amr, meta, recoveryCodes, verified.claims.src ?? null);
        // Every break-glass login past Require SSO is recorded once it is complete, for every tenant
        // administrator to see (GET /api/v1/sso/break-glass/logins).
        if (verified.claims.amr?.includes('pending:break_glass')) {
          await audit.record(tx, tenantId, { action: 'sso.login.break_glass', actor: actor(userId, user.email, meta), target: { type: 'user', id: userId }, outcome: 'success', details: { amr, status: result.status } });
        }
        return { result };
      }).catch(async (error: unknown) => {
        if (error instanceof WrongCode) return { failed: 'code' as const, email: error.email };
        // Thrown, not answered: the code was right (sessions.no_accounts), or the challenge was spent or stale; not a guess.
        await attempts.refund(throttleKeys);
        return recordingNoAccounts(tenantId, userId, null, meta)(error);
      });
      if ('result' in outcome) {
        await attempts.succeeded(throttleKeys);
        return sign(key, outcome.result);
      }
      // The reserved attempt is the failure's count; `locked` when it was the one that reached a lock.
      const who = actor(userId, outcome.email, meta);
      const failed: AuditEventInput = { action: 'auth.mfa.failed', actor: who, target: { type: 'user', id: userId }, outcome: 'failure', errorCode: SessionErrors['sessions.invalid_mfa_code'], details: { stage, reason: outcome.failed } };
      const lock: AuditEventInput = { action: 'auth.login.locked', actor: who, target: { type: 'user', id: userId }, outcome: 'failure', errorCode: SessionErrors['sessions.too_many_attempts'] };
      await recordFailure(tenantId, failed, ...(admission.locksOnFailure ? [lock] : []));
      throw new AppError(outcome.failed === 'code' ? SessionErrors['sessions.invalid_mfa_code'] : SessionErrors.invalid_token);
    },

    /**
     * The forced password change (`password_change_required`): the new password replaces the one-time one
     * (policy-checked, audited, security stamp rotated, must-change cleared), then the login continues
     * exactly as after the last factor: the accounts, and with exactly one, the session.
     */
    async changePassword(input: { passwordChangeToken: string; newPassword: string }, meta: RequestMeta): Promise<LoginResult> {
      const keys = await deps.keys.verificationKeys();
      const verified = verifyToken(input.passwordChangeToken, 'password_change', keys, { issuer: deps.issuer }, issuer.nowSeconds());
      if (!verified.ok) throw new AppError(SessionErrors.invalid_token, { detail: { reason: verified.reason } });
      const { tid: tenantId, sub: userId } = verified.claims;
      const key = await issuer.signingKey();
      const decision = await db.tenantWork(tenantId, async (tx): Promise<LoginDecision> => {
        const user = await issuer.redeem(tx, verified.claims);
        if (!user.must_change_password) throw new AppError(SessionErrors.invalid_token, { detail: { reason: 'no change pending' } });
        await deps.identity.completeForcedPasswordChange(tx, tenantId, { type: 'user', id: userId, email: user.email, ip: meta.ip, userAgent: meta.userAgent }, input.newPassword);
        return complete(tx, tenantId, userId, verified.claims.amr ?? ['pwd'], meta, undefined, verified.claims.src ?? null);
      }).catch(recordingNoAccounts(tenantId, userId, null, meta));
      return sign(key, decision);
    },

    /** Step 2: a session for the chosen account, given the identity token. */
    async selectAccount(input: { identityToken: string; accountId: string }, meta: RequestMeta): Promise<IssuedSession> {
      const keys = await deps.keys.verificationKeys();
      const verified = verifyToken(input.identityToken, 'identity', keys, { issuer: deps.issuer }, issuer.nowSeconds());
      if (!verified.ok) throw new AppError(SessionErrors.invalid_token, { detail: { reason: verified.reason } });
      const { tid: tenantId, sub: userId } = verified.claims;
      const key = await issuer.signingKey();
      const pending = await db.tenantWork(tenantId, async (tx) => {
        // Bound to the security stamp and single use: one account is chosen per identity token. A refused
        // choice (no access to that account) rolls the spend back, so the user can still pick another.
        const user = await issuer.redeem(tx, verified.claims);
        const amr = verified.claims.amr ?? ['pwd'];
        const authTime = verified.claims.auth_time === undefined ? clock.now() : new Date(verified.claims.auth_time * 1000);
        return pipeline.sessionInAccount(tx, tenantId, { id: userId, email: user.email }, input.accountId, amr, authTime, meta, verified.claims.src ?? null);
      });
      return issuer.sign(key, pending);
    },
  };
}

export type Login = ReturnType<typeof createLogin>;
