import type { Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { AuditActor, AuditEventInput } from '../audit/index.js';
import type { IssuedSession, Issuer, PendingSession } from './session-issuer.js';
import { SessionErrors } from './sessions.errors.js';
import type { RequestMeta, SessionsDeps, SigningKeys } from './sessions.ports.js';

type SecurityPolicy = Awaited<ReturnType<SessionsDeps['securityPolicy']>>;

/**
 * Login as a pipeline of named steps (DESIGN §6 "Login is a pipeline"), in the manner of oidc-provider's
 * `lib/actions/authorization/index.js`: every way in runs the same steps in this order, and every path ends in
 * the same session issuance and the same audit events (`auth.login.succeeded`, `auth.login.failed`,
 * `auth.login.password_change_required`, `auth.session.created`). docs/login-pipeline.md describes each step
 * and how an identity source (OIDC, SAML) or a factor (passkeys) plugs in.
 *
 *   identify        which tenant and which user (the tenant named, a verified domain, or the email's tenants)
 *   first_factor    a FirstFactor proves the user: the password today (password-factor in login.service.ts),
 *                   an OIDC or SAML assertion next; it ends in `afterFirstFactor` with an AuthenticatedUser
 *   sso_policy      a password login of an email whose domain requires SSO (and an enabled connection serves it)
 *                   continues only for a break-glass user with the right password, who must pass a second
 *                   factor; every other case answers `sso_required` (ssoPolicyStep below)
 *   second_factor   a SecondFactor (TOTP and recovery codes, the mfa feature through its port) when the user
 *                   has one or the tenant requires it, unless the first factor's source already satisfied it
 *   password_change the forced change (a one-time or reset password): no session before it
 *   account_selection the accounts the user may enter (rbac); with exactly one, at once
 *   session         one session issuance (session-issuer.ts), signed after the unit of work commits
 *
 * The steps run over several requests; what carries the state between them is on the wire as it was: the MFA
 * challenge token, the password-change token and the identity token, each single use and bound to the
 * security stamp (session-issuer.ts `redeem`).
 */
export const LOGIN_STEPS = ['identify', 'first_factor', 'sso_policy', 'second_factor', 'password_change', 'account_selection', 'session'] as const;
export type LoginStep = (typeof LOGIN_STEPS)[number];

/** A user a first factor has proven, in the tenant it was proven for. */
export interface AuthenticatedUser {
  readonly tenantId: string;
  readonly userId: string;
  readonly email: string;
  /** The user's security stamp as read by the first factor: login-phase tokens are bound to it. */
  readonly stamp: string;
  /** RFC 8176 authentication method references of the first factor (`pwd`; an IdP's own for SSO). */
  readonly amr: string[];
  /** The source already proved a second factor (an IdP asserting MFA): the second_factor step is skipped. */
  readonly secondFactorSatisfied?: boolean;
  /** A break-glass password login past Require SSO: the second factor is mandatory and enrollment is not offered. */
  readonly breakGlass?: boolean;
  /**
   * The identity source's own record of this login (an SSO connection's: its NameID and SessionIndex), carried
   * through the login-phase tokens to the session, so that a logout at the source ends the session (SAML SLO).
   */
  readonly sourceId?: string;
}

/**
 * A way to prove who the user is first. The password is one; an SSO connection (OIDC, SAML) is another: it
 * arrives with an asserted identity, resolves the user (JIT or linked), and hands it to `afterFirstFactor`.
 */
export interface FirstFactor<Input> {
  readonly name: string;
  /** Runs identify and first_factor; throws the source's uniform failure, or returns what the pipeline answers. */
  authenticate(input: Input, meta: RequestMeta): Promise<LoginResult>;
}

/**
 * A second factor: TOTP and recovery codes today (the mfa feature, sessions.ports.ts MfaPort), passkeys next.
 * Every method runs in the pipeline's unit of work.
 */
export type { MfaPort as SecondFactor } from './sessions.ports.js';

export type LoginResult =
  | { readonly status: 'mfa_required'; readonly challengeToken: string; readonly expiresIn: number }
  /** Every factor passed, but the password must be changed first (POST /auth/password/change); no session yet. */
  | { readonly status: 'password_change_required'; readonly passwordChangeToken: string; readonly expiresIn: number }
  | {
      readonly status: 'mfa_enrollment_required';
      readonly challengeToken: string;
      readonly expiresIn: number;
      readonly enrollment: { secret: string; otpauthUri: string; qrCodeDataUrl: string };
    }
  | {
      readonly status: 'authenticated';
      /** Absent when `session` is present: the identity token only picks an account (`/auth/select-account`). */
      readonly identityToken?: string;
      /** The identity token's lifetime in seconds, with it. */
      readonly expiresIn?: number;
      readonly tenantId: string;
      readonly userId: string;
      readonly accounts: { id: string; name: string }[];
      readonly mustChangePassword: boolean;
      readonly recoveryCodes?: string[];
      /** Present when the user may enter exactly one account: the session was created at once. */
      readonly session?: IssuedSession;
    };

type SigningKey = Awaited<ReturnType<SigningKeys['currentSigningKey']>>;

/**
 * What a unit of work decided; tokens are signed after it commits (signing runs on the thread pool, and
 * the embedded database's single connection should not wait for it).
 */
export type Decision =
  | { readonly status: 'mfa_required'; readonly tenantId: string; readonly userId: string; readonly stamp: string; readonly breakGlass?: boolean; readonly sourceId?: string | null }
  | { readonly status: 'mfa_enrollment_required'; readonly tenantId: string; readonly userId: string; readonly stamp: string; readonly enrollment: { secret: string; otpauthUri: string; qrCodeDataUrl: string }; readonly sourceId?: string | null }
  | { readonly status: 'password_change_required'; readonly tenantId: string; readonly userId: string; readonly stamp: string; readonly amr: string[]; readonly sourceId?: string | null }
  | {
      readonly status: 'authenticated';
      readonly sourceId?: string | null;
      readonly tenantId: string;
      readonly userId: string;
      readonly stamp: string;
      readonly authTime: Date;
      readonly amr: string[];
      readonly accounts: { id: string; name: string }[];
      readonly mustChangePassword: boolean;
      readonly recoveryCodes?: string[];
      readonly session?: PendingSession;
    };

/** The steps after the first factor, shared by every way in. */
export function createLoginPipeline(deps: SessionsDeps, issuer: Issuer) {
  const { db, clock, audit, mfa } = deps;

  function actor(userId: string | null, email: string | null, meta: RequestMeta): AuditActor {
    return { type: 'user', id: userId, email, ip: meta.ip, userAgent: meta.userAgent };
  }

  /** Failure events change nothing else, so they are written in their own small unit of work (one commit). */
  async function recordFailure(tenantId: string, ...events: AuditEventInput[]): Promise<void> {
    await db.tenantWork(tenantId, async (tx) => {
      for (const event of events) await audit.record(tx, tenantId, event);
    });
  }

  /** `sessions.no_accounts` ends a login whose credentials were right: recorded too, in its own unit of work. */
  function recordingNoAccounts(tenantId: string, userId: string, email: string | null, meta: RequestMeta) {
    return async (error: unknown): Promise<never> => {
      if (error instanceof AppError && error.code === SessionErrors['sessions.no_accounts']) {
        await recordFailure(tenantId, { action: 'auth.login.failed', actor: actor(userId, email, meta), target: { type: 'user', id: userId }, outcome: 'failure', errorCode: SessionErrors['sessions.no_accounts'] });
      }
      throw error;
    };
  }

  async function sign(key: SigningKey, d: Decision): Promise<LoginResult> {
    if (d.status === 'password_change_required') {
      const change = await issuer.passwordChangeToken(key, d.tenantId, d.userId, d.amr, d.stamp, d.sourceId);
      return { status: d.status, passwordChangeToken: change.token, expiresIn: change.exp - issuer.nowSeconds() };
    }
    if (d.status !== 'authenticated') {
      const challenge = await issuer.challengeToken(key, d.tenantId, d.userId, d.status === 'mfa_required' ? 'verify' : 'enroll', d.stamp, d.status === 'mfa_required' && d.breakGlass === true, d.sourceId);
      const expiresIn = challenge.exp - issuer.nowSeconds();
      return d.status === 'mfa_required'
        ? { status: d.status, challengeToken: challenge.token, expiresIn }
        : { status: d.status, challengeToken: challenge.token, expiresIn, enrollment: d.enrollment };
    }
    const done = { status: 'authenticated' as const, tenantId: d.tenantId, userId: d.userId, accounts: d.accounts, mustChangePassword: d.mustChangePassword, ...(d.recoveryCodes ? { recoveryCodes: d.recoveryCodes } : {}) };
    // With the session created at once (one account) no step takes an identity token (another account is entered
    // with switch-account): one signature per login, the access token's. Else the identity token picks the account.
    if (d.session) return { ...done, session: await issuer.sign(key, d.session) };
    const identity = await issuer.identityToken(key, d.tenantId, d.userId, d.amr, d.stamp, d.authTime, d.sourceId);
    return { ...done, identityToken: identity.token, expiresIn: identity.exp - issuer.nowSeconds() };
  }

  /**
   * After the first factor (and the second, if any): a forced password change first when the user must
   * change it (no session and no identity token before); else the accounts and, with exactly one, the
   * session. The user's record is read here, in the unit of work, so the tokens carry the security stamp as
   * it stands after this login's own changes (an MFA enrollment rotates it).
   */
  async function complete(tx: Tx, tenantId: string, userId: string, amr: string[], meta: RequestMeta, recoveryCodes?: string[], sourceId: string | null = null, policy?: SecurityPolicy): Promise<Decision> {
    const user = await deps.users.findLoginUserById(tx, tenantId, userId);
    if (!user?.active) throw new AppError(SessionErrors.invalid_token, { detail: { reason: 'user inactive' } });
    if (user.must_change_password) {
      await audit.record(tx, tenantId, {
        action: 'auth.login.password_change_required',
        actor: actor(user.id, user.email, meta),
        target: { type: 'user', id: user.id },
        outcome: 'success',
        details: { amr },
      });
      return { status: 'password_change_required', tenantId, userId, stamp: user.security_stamp, amr, sourceId };
    }
    const authTime = clock.now();
    const accounts = await deps.enterableAccounts(tx, tenantId, user.id, authTime);
    if (accounts.length === 0) throw new AppError(SessionErrors['sessions.no_accounts']);
    const session = accounts.length === 1 ? await issuer.createSession(tx, tenantId, user.id, accounts[0]!.id, amr, authTime, meta, sourceId, policy) : undefined;
    await audit.record(tx, tenantId, {
      action: 'auth.login.succeeded',
      actor: actor(user.id, user.email, meta),
      target: { type: 'user', id: user.id },
      outcome: 'success',
      details: { amr, ...(session ? { sessionId: session.sessionId, accountId: session.accountId } : {}) },
    });
    return {
      status: 'authenticated',
      tenantId,
      userId: user.id,
      stamp: user.security_stamp,
      authTime,
      amr,
      sourceId,
      accounts: accounts.map((a) => ({ id: a.id, name: a.name })),
      mustChangePassword: false,
      ...(recoveryCodes ? { recoveryCodes } : {}),
      ...(session ? { session } : {}),
    };
  }

  return {
    actor,
    recordFailure,
    recordingNoAccounts,
    sign,
    complete,

    /**
     * The second_factor step, right after a first factor in its unit of work: a challenge when the user has a
     * second factor, an enrollment when the tenant requires one and the user has none, else the rest of the
     * pipeline. A source that already proved a second factor skips it.
     */
    async afterFirstFactor(tx: Tx, user: AuthenticatedUser, meta: RequestMeta): Promise<Decision> {
      const { tenantId, userId, stamp } = user;
      const sourceId = user.sourceId ?? null;
      const policy = await deps.securityPolicy(tx, tenantId);
      if (user.breakGlass) {
        // A break-glass login bypasses the tenant's SSO, so it must prove a factor enrolled before this login:
        // enrolling one now would let the password alone choose the second factor.
        if (!(await mfa.isEnrolled(tx, tenantId, userId))) throw new AppError(SessionErrors['sessions.break_glass_mfa_required']);
        return { status: 'mfa_required', tenantId, userId, stamp, breakGlass: true };
      }
      if (!user.secondFactorSatisfied) {
        if (await mfa.isEnrolled(tx, tenantId, userId)) return { status: 'mfa_required', tenantId, userId, stamp, sourceId };
        if (policy.mfaRequired) {
          const enrollment = await mfa.startEnrollment(tx, tenantId, userId, user.email);
          return { status: 'mfa_enrollment_required', tenantId, userId, stamp, enrollment, sourceId };
        }
      }
      // The tenant's policy as read above, in this unit of work: the session's lifetimes come from it.
      return complete(tx, tenantId, userId, user.amr, meta, undefined, sourceId, policy);
    },

    /**
     * The account_selection and session steps for a chosen account, in the caller's unit of work (the identity
     * token's redemption): refused with `sessions.no_account_access` when the user may not enter it.
     */
    async sessionInAccount(tx: Tx, tenantId: string, user: { id: string; email: string }, accountId: string, amr: string[], authTime: Date, meta: RequestMeta, sourceId: string | null = null): Promise<PendingSession> {
      const accounts = await deps.enterableAccounts(tx, tenantId, user.id, clock.now());
      if (!accounts.some((a) => a.id === accountId)) throw new AppError(SessionErrors['sessions.no_account_access']);
      const session = await issuer.createSession(tx, tenantId, user.id, accountId, amr, authTime, meta, sourceId);
      await audit.record(tx, tenantId, {
        action: 'auth.session.created',
        actor: actor(user.id, user.email, meta),
        target: { type: 'session', id: session.sessionId },
        outcome: 'success',
        details: { accountId },
      });
      return session;
    },
  };
}

export type LoginPipeline = ReturnType<typeof createLoginPipeline>;
