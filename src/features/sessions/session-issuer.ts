import type { Tx } from '../../db/database.js';
import type { EventBus } from '../../kernel/events.js';
import { AppError } from '../../kernel/app-error.js';
import { newId } from '../../kernel/ids.js';
import { hashRefreshToken, newRefreshToken } from './refresh-token.js';
import type { SessionState, SessionStateSource } from './session-state.js';
import type { RequestMeta, SessionsDeps, SigningKeys } from './sessions.ports.js';

type SigningKey = Awaited<ReturnType<SigningKeys['currentSigningKey']>>;
import { stampClaim, stampMatches } from './security-stamp.js';
import { SessionErrors } from './sessions.errors.js';
import * as store from './sessions.store.js';
import { issueToken, type TokenClaims } from './tokens.js';

/** Spent token ids are kept this much past `exp`: an instance whose clock lags still finds them. */
const SPENT_ID_MARGIN_MS = 60_000;

/** A session written in a unit of work, its access token not yet signed (signing waits for the commit). */
export interface PendingSession {
  readonly tenantId: string;
  readonly userId: string;
  readonly sessionId: string;
  readonly accountId: string;
  readonly amr: string[];
  readonly authTime: Date;
  readonly refreshToken: string;
  readonly refreshExpiresAt: Date;
}

export interface IssuedSession {
  readonly sessionId: string;
  readonly accountId: string;
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly refreshToken: string;
  readonly refreshExpiresAt: Date;
}

/** Creating sessions and tokens: shared by login, account selection, switching and refresh. */
/**
 * What sessions tell other features: sessions ended (for any reason: logout, revocation, de-provisioning, a password
 * reset, refresh-token reuse, SAML SLO), emitted inside the transaction that ended them, by the one path that ends
 * sessions (`revoke`): no caller can forget it. Subscribers act in the same transaction (src/kernel/events.ts).
 */
export type SessionEvent = { readonly type: 'sessions.ended'; readonly tenantId: string; readonly sessions: readonly { readonly id: string; readonly userId: string }[]; readonly reason: string };

export function createIssuer(deps: SessionsDeps, states: SessionStateSource, events?: EventBus<SessionEvent, Tx>) {
  const settings = { issuer: deps.issuer, audience: deps.audience };
  const nowSeconds = () => Math.floor(deps.clock.now().getTime() / 1000);

  const seconds = (at: Date) => Math.floor(at.getTime() / 1000);

  async function accessToken(key: SigningKey, tenantId: string, userId: string, accountId: string, sessionId: string, amr: string[], authTime: Date | null) {
    return issueToken(
      'access',
      key,
      settings,
      { sub: userId, tid: tenantId, acc: accountId, sid: sessionId, amr, ...(authTime ? { auth_time: seconds(authTime) } : {}) },
      nowSeconds(),
      deps.accessTokenTtlSeconds,
    );
  }

  return {
    nowSeconds,

    /**
     * The signing key, fetched before a unit of work opens: loading it may query the database, which on
     * the embedded engine (one connection) must not happen inside a transaction.
     */
    signingKey: (): Promise<SigningKey> => deps.keys.currentSigningKey(),

    /** After every factor: lets the user pick an account once (`/auth/select-account`). */
    async identityToken(key: SigningKey, tenantId: string, userId: string, amr: string[], stamp: string, authTime: Date, sourceId?: string | null) {
      return issueToken('identity', key, settings, { sub: userId, tid: tenantId, amr, auth_time: seconds(authTime), sst: stampClaim(stamp), ...(sourceId ? { src: sourceId } : {}) }, nowSeconds(), IDENTITY_TTL_SECONDS);
    },

    async challengeToken(key: SigningKey, tenantId: string, userId: string, stage: 'verify' | 'enroll', stamp: string, breakGlass = false, sourceId?: string | null) {
      // The stage rides in `amr`: the password is done, the second factor is pending (verify or enroll); a
      // break-glass login past Require SSO says so, so that its completion is audited `sso.login.break_glass`.
      const amr = ['pwd', `pending:${stage}`, ...(breakGlass ? ['pending:break_glass'] : [])];
      return issueToken('mfa', key, settings, { sub: userId, tid: tenantId, amr, sst: stampClaim(stamp), ...(sourceId ? { src: sourceId } : {}) }, nowSeconds(), CHALLENGE_TTL_SECONDS);
    },

    /** Every factor passed, but the password must be changed first: only `/auth/password/change` takes it. */
    async passwordChangeToken(key: SigningKey, tenantId: string, userId: string, amr: string[], stamp: string, sourceId?: string | null) {
      return issueToken('password_change', key, settings, { sub: userId, tid: tenantId, amr, sst: stampClaim(stamp), ...(sourceId ? { src: sourceId } : {}) }, nowSeconds(), PASSWORD_CHANGE_TTL_SECONDS);
    },

    /**
     * Redeems a verified login-phase token in the caller's unit of work: the user must still be active, the
     * security stamp unchanged since the token was issued, and the token unspent; it is then spent (single
     * use, RFC 7519 §4.1.7). The spend rolls back with the unit of work, so a refused step (a wrong account,
     * a password the policy refuses) leaves the token usable; only a completed step spends it.
     */
    async redeem(tx: Tx, claims: TokenClaims) {
      const user = await deps.users.findLoginUserById(tx, claims.tid, claims.sub);
      if (!user?.active) throw new AppError(SessionErrors.invalid_token, { detail: { reason: 'user inactive' } });
      if (!stampMatches(claims.sst, user.security_stamp)) throw new AppError(SessionErrors.invalid_token, { detail: { reason: 'security stamp changed' } });
      const spent = await store.spendTokenId(tx, claims.tid, claims.jti, new Date(claims.exp * 1000 + SPENT_ID_MARGIN_MS), deps.clock.now());
      if (!spent) throw new AppError(SessionErrors.invalid_token, { detail: { reason: 'token already used' } });
      return user;
    },

    accessToken,

    /**
     * A new session for the account, with its first refresh token, in the caller's unit of work. Its access
     * token is signed by `sign` after the commit: signing runs on the thread pool, and the embedded
     * database's single connection should not wait for it.
     */
    async createSession(
      tx: Tx,
      tenantId: string,
      userId: string,
      accountId: string,
      amr: string[],
      authTime: Date,
      meta: RequestMeta,
      sourceId: string | null = null,
      /** The tenant's policy when the caller read it in this unit of work already (no second read). */
      knownPolicy?: Awaited<ReturnType<SessionsDeps['securityPolicy']>>,
    ): Promise<PendingSession> {
      const now = deps.clock.now();
      const policy = knownPolicy ?? (await deps.securityPolicy(tx, tenantId));
      const sessionId = newId(now.getTime());
      const expiresAt = new Date(now.getTime() + policy.sessionLifetimeSeconds * 1000);
      const refreshToken = newRefreshToken(tenantId);
      const refreshExpiresAt = new Date(Math.min(expiresAt.getTime(), now.getTime() + policy.refreshLifetimeSeconds * 1000));
      await store.insertSession(
        tx,
        tenantId,
        { id: sessionId, userId, accountId, amr, userAgent: meta.userAgent?.slice(0, 500) ?? null, ip: meta.ip.slice(0, 100), createdAt: now, expiresAt, authTime, sourceId },
        { tokenHash: hashRefreshToken(refreshToken), expiresAt: refreshExpiresAt },
      );
      return { tenantId, userId, sessionId, accountId, amr, authTime, refreshToken, refreshExpiresAt };
    },

    async sign(key: SigningKey, pending: PendingSession): Promise<IssuedSession> {
      const access = await accessToken(key, pending.tenantId, pending.userId, pending.accountId, pending.sessionId, pending.amr, pending.authTime);
      return { sessionId: pending.sessionId, accountId: pending.accountId, accessToken: access.token, expiresIn: deps.accessTokenTtlSeconds, refreshToken: pending.refreshToken, refreshExpiresAt: pending.refreshExpiresAt };
    },

    /** Revokes sessions and makes the revocation visible to the very next request (DESIGN §3). */
    async revoke(tx: Tx, tenantId: string, filter: { sessionId?: string; userId?: string; exceptSessionId?: string; sourceIds?: readonly string[] }, reason: string): Promise<string[]> {
      const ended = await store.revokeSessionsOfUsers(tx, tenantId, filter, deps.clock.now(), reason);
      const ids = ended.map((s) => s.id);
      if (ids.length > 0) deps.telemetry?.sessionsRevoked(reason, ids.length);
      if (filter.userId) states.forgetUser(tenantId, filter.userId);
      for (const id of ids) states.forgetSession(tenantId, id);
      if (ended.length > 0) await events?.emit(tx, { type: 'sessions.ended', tenantId, sessions: ended, reason });
      return ids;
    },
  };
}

export type Issuer = ReturnType<typeof createIssuer>;
export type { SessionState };

export const IDENTITY_TTL_SECONDS = 300;
export const CHALLENGE_TTL_SECONDS = 300;
export const PASSWORD_CHANGE_TTL_SECONDS = 600;
