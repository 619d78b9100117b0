import type { Tx } from '../../db/database.js';
import { newId } from '../../kernel/ids.js';
import { hashRefreshToken, newRefreshToken } from './refresh-token.js';
import type { SessionState, SessionStateSource } from './session-state.js';
import type { RequestMeta, SessionsDeps, SigningKeys } from './sessions.ports.js';

type SigningKey = Awaited<ReturnType<SigningKeys['currentSigningKey']>>;
import * as store from './sessions.store.js';
import { issueToken } from './tokens.js';

/** A session written in a unit of work, its access token not yet signed (signing waits for the commit). */
export interface PendingSession {
  readonly tenantId: string;
  readonly userId: string;
  readonly sessionId: string;
  readonly accountId: string;
  readonly amr: string[];
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
export function createIssuer(deps: SessionsDeps, states: SessionStateSource) {
  const settings = { issuer: deps.issuer, audience: deps.audience };
  const nowSeconds = () => Math.floor(deps.clock.now().getTime() / 1000);

  async function accessToken(key: SigningKey, tenantId: string, userId: string, accountId: string, sessionId: string, amr: string[]) {
    return issueToken('access', key, settings, { sub: userId, tid: tenantId, acc: accountId, sid: sessionId, amr }, nowSeconds(), deps.accessTokenTtlSeconds);
  }

  return {
    nowSeconds,

    /**
     * The signing key, fetched before a unit of work opens: loading it may query the database, which on
     * the embedded engine (one connection) must not happen inside a transaction.
     */
    signingKey: (): Promise<SigningKey> => deps.keys.currentSigningKey(),

    async identityToken(key: SigningKey, tenantId: string, userId: string, amr: string[]) {
      return issueToken('identity', key, settings, { sub: userId, tid: tenantId, amr }, nowSeconds(), IDENTITY_TTL_SECONDS);
    },

    async challengeToken(key: SigningKey, tenantId: string, userId: string, stage: 'verify' | 'enroll') {
      // The stage rides in `amr`: the password is done, the second factor is pending (verify or enroll).
      return issueToken('mfa', key, settings, { sub: userId, tid: tenantId, amr: ['pwd', `pending:${stage}`] }, nowSeconds(), CHALLENGE_TTL_SECONDS);
    },

    accessToken,

    /**
     * A new session for the account, with its first refresh token, in the caller's unit of work. Its access
     * token is signed by `sign` after the commit: signing runs on the thread pool, and the embedded
     * database's single connection should not wait for it.
     */
    async createSession(tx: Tx, tenantId: string, userId: string, accountId: string, amr: string[], meta: RequestMeta): Promise<PendingSession> {
      const now = deps.clock.now();
      const policy = await deps.securityPolicy(tx, tenantId);
      const sessionId = newId(now.getTime());
      const expiresAt = new Date(now.getTime() + policy.sessionLifetimeSeconds * 1000);
      await store.insertSession(tx, tenantId, {
        id: sessionId,
        userId,
        accountId,
        amr,
        userAgent: meta.userAgent?.slice(0, 500) ?? null,
        ip: meta.ip.slice(0, 100),
        createdAt: now,
        expiresAt,
      });
      const refreshToken = newRefreshToken(tenantId);
      const refreshExpiresAt = new Date(Math.min(expiresAt.getTime(), now.getTime() + policy.refreshLifetimeSeconds * 1000));
      await store.insertRefreshToken(tx, tenantId, { tokenHash: hashRefreshToken(refreshToken), sessionId, createdAt: now, expiresAt: refreshExpiresAt });
      return { tenantId, userId, sessionId, accountId, amr, refreshToken, refreshExpiresAt };
    },

    async sign(key: SigningKey, pending: PendingSession): Promise<IssuedSession> {
      const access = await accessToken(key, pending.tenantId, pending.userId, pending.accountId, pending.sessionId, pending.amr);
      return { sessionId: pending.sessionId, accountId: pending.accountId, accessToken: access.token, expiresIn: deps.accessTokenTtlSeconds, refreshToken: pending.refreshToken, refreshExpiresAt: pending.refreshExpiresAt };
    },

    /** Revokes sessions and makes the revocation visible to the very next request (DESIGN §3). */
    async revoke(tx: Tx, tenantId: string, filter: { sessionId?: string; userId?: string; exceptSessionId?: string }, reason: string): Promise<string[]> {
      const ids = await store.revokeSessions(tx, tenantId, filter, deps.clock.now(), reason);
      if (filter.userId) states.forgetUser(tenantId, filter.userId);
      for (const id of ids) states.forgetSession(tenantId, id);
      return ids;
    },
  };
}

export type Issuer = ReturnType<typeof createIssuer>;
export type { SessionState };

export const IDENTITY_TTL_SECONDS = 300;
export const CHALLENGE_TTL_SECONDS = 300;
