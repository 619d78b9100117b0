import type { Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import { KernelErrors } from '../../kernel/errors.js';
import type { AuditActor } from '../audit/index.js';
import { hashRefreshToken, newRefreshToken, openSuccessor, parseRefreshToken, sealSuccessor } from './refresh-token.js';
import type { IssuedSession, Issuer } from './session-issuer.js';
import { SessionErrors } from './sessions.errors.js';
import type { Caller, RequestMeta, SessionsDeps } from './sessions.ports.js';
import * as store from './sessions.store.js';
import { linkedAccountNames } from '../tenants/index.js';

/** Refresh rotation, account switching, logout, and the user's own session list (DESIGN §2 "Session"). */
export function createSessionLifecycle(deps: SessionsDeps, issuer: Issuer) {
  const { db, clock, audit } = deps;
  const graceMs = (deps.refreshGraceSeconds ?? 10) * 1000;

  function actor(auth: { userId: string }, meta: RequestMeta): AuditActor {
    return { type: 'user', id: auth.userId, ip: meta.ip, userAgent: meta.userAgent };
  }

  /** A spent token presented again, decided under its lock: the grace window's same successor, or reuse detection. */
  async function spentInTx(tx: Tx, tenantId: string, token: string, meta: RequestMeta) {
    const now = clock.now();
    const row = await store.lockRefreshChain(tx, tenantId, hashRefreshToken(token));
    if (!row) return { refused: 'unknown' as const };
    if (row.session_revoked_at || row.session_expires_at <= now) return { refused: 'session ended' as const };
    const user = await deps.users.findLoginUserById(tx, tenantId, row.user_id);
    if (!user?.active) return { refused: 'user inactive' as const };

    // Only a spent token comes here (tessera_refresh_rotate rotates a live one itself), and a rotation is never undone.
    if (!row.rotated_at) throw new Error('refresh: a token reported spent is not rotated');
    // RFC 9700 §4.14.2: a rotated refresh token presented again means it leaked, unless it is the
    // same client racing itself (two tabs) within the grace window, which gets the same successor. The
    // window (TESSERA_REFRESH_GRACE_SECONDS) is inclusive: exactly `grace` after the rotation still counts.
    const successor = row.successor_enc && now.getTime() - row.rotated_at.getTime() <= graceMs ? openSuccessor(token, row.successor_enc) : undefined;
    if (!successor) {
      await issuer.revoke(tx, tenantId, { sessionId: row.session_id }, 'refresh_token_reuse');
      await audit.record(tx, tenantId, {
        action: 'auth.refresh.reuse_detected',
        actor: { type: 'user', id: row.user_id, email: user.email, ip: meta.ip, userAgent: meta.userAgent },
        target: { type: 'session', id: row.session_id },
        outcome: 'failure',
        errorCode: SessionErrors['sessions.refresh_token_invalid'],
        details: { rotatedAt: row.rotated_at.toISOString() },
      });
      return { refused: 'reuse' as const };
    }
    const next = await store.lockRefreshToken(tx, tenantId, hashRefreshToken(successor));
    const successorExpiresAt = next?.expires_at ?? row.expires_at;
    // Signed after the unit of work commits: the embedded database's one connection is not held meanwhile.
    const grant = { userId: row.user_id, accountId: row.account_id, sessionId: row.session_id, amr: row.amr, authTime: row.auth_time, refreshToken: successor, refreshExpiresAt: successorExpiresAt };
    return { grant };
  }

  return {
    /** Rotates the refresh token: a new access token and a new refresh token; the old one is spent. */
    async refresh(token: string | undefined, meta: RequestMeta): Promise<IssuedSession> {
      const parsed = token ? parseRefreshToken(token) : undefined;
      if (!token || !parsed) throw new AppError(SessionErrors['sessions.refresh_token_invalid'], { detail: { reason: 'malformed' } });
      const key = await issuer.signingKey();
      // The common case in one statement (migration 0030): checks and rotation, or a refusal that writes nothing.
      const successor = newRefreshToken(parsed.tenantId);
      const once = await store.rotateRefreshToken(db, parsed.tenantId, { hash: hashRefreshToken(token), now: clock.now(), successorHash: hashRefreshToken(successor), successorEnc: sealSuccessor(token, successor) });
      let outcome: Awaited<ReturnType<typeof spentInTx>> | { refused: 'expired' };
      if (once.outcome === 'rotated') {
        outcome = { grant: { userId: once.user_id, accountId: once.account_id, sessionId: once.session_id, amr: once.amr, authTime: once.auth_time, refreshToken: successor, refreshExpiresAt: once.refresh_expires_at } };
      } else if (once.outcome === 'spent') {
        // Rotated already: the grace window or reuse detection, decided again under the token's lock in a unit of
        // work. The reuse path commits its revocation and audit event before the refusal is answered.
        outcome = await db.tenantWork(parsed.tenantId, (tx) => spentInTx(tx, parsed.tenantId, token, meta));
      } else {
        outcome = { refused: once.outcome };
      }
      if ('refused' in outcome) throw new AppError(SessionErrors['sessions.refresh_token_invalid'], { detail: { reason: outcome.refused } });
      const { grant } = outcome;
      const access = await issuer.accessToken(key, parsed.tenantId, grant.userId, grant.accountId, grant.sessionId, grant.amr, grant.authTime);
      return { sessionId: grant.sessionId, accountId: grant.accountId, accessToken: access.token, expiresIn: deps.accessTokenTtlSeconds, refreshToken: grant.refreshToken, refreshExpiresAt: grant.refreshExpiresAt };
    },

    /** A new session in another account the user may enter; the current one ends. */
    async switchAccount(auth: Caller, accountId: string, meta: RequestMeta): Promise<IssuedSession> {
      const key = await issuer.signingKey();
      const pending = await db.tenantWork(auth.tenantId, async (tx) => {
        const accounts = await deps.enterableAccounts(tx, auth.tenantId, auth.userId, clock.now());
        if (!accounts.some((a) => a.id === accountId)) throw new AppError(SessionErrors['sessions.no_account_access']);
        const current = await store.findSession(tx, auth.tenantId, auth.sessionId);
        // The new session comes from the same authentication: its `auth_time` is carried over, not renewed
        // (switching accounts is not a step-up).
        const authTime = current?.auth_time ?? new Date(0);
        // The source's logout (SAML SLO) must end the new session too: its source is carried over.
        const session = await issuer.createSession(tx, auth.tenantId, auth.userId, accountId, current?.amr ?? ['pwd'], authTime, meta, current?.source_id ?? null);
        await issuer.revoke(tx, auth.tenantId, { sessionId: auth.sessionId }, 'switched_account');
        await audit.record(tx, auth.tenantId, {
          action: 'auth.account.switched',
          actor: actor(auth, meta),
          target: { type: 'session', id: session.sessionId },
          outcome: 'success',
          details: { fromAccountId: auth.accountId, toAccountId: accountId, previousSessionId: auth.sessionId },
        });
        return session;
      });
      return issuer.sign(key, pending);
    },

    /** Ends the session; where its identity source has a logout of its own (SAML SLO), the URL to send the browser to. */
    async logout(auth: Caller, meta: RequestMeta): Promise<{ redirectTo: string | null }> {
      return db.tenantWork(auth.tenantId, async (tx) => {
        const session = await store.findSession(tx, auth.tenantId, auth.sessionId);
        await issuer.revoke(tx, auth.tenantId, { sessionId: auth.sessionId }, 'logout');
        await audit.record(tx, auth.tenantId, { action: 'auth.logout', actor: actor(auth, meta), target: { type: 'session', id: auth.sessionId }, outcome: 'success' });
        const sourceId = session?.source_id ?? null;
        return { redirectTo: sourceId && deps.sourceLogout ? await deps.sourceLogout(tx, auth.tenantId, sourceId, meta) : null };
      });
    },

    async listOwnSessions(auth: Caller) {
      const { rows, names } = await db.tenantWork(auth.tenantId, async (tx) => {
        const rows = await store.listLiveSessionsOfUser(tx, auth.tenantId, auth.userId, clock.now());
        return { rows, names: await linkedAccountNames(tx, auth.tenantId, [...new Set(rows.map((r) => r.account_id))]) };
      });
      // A session whose account is no longer visible to the tenant is not listed (as the join did before).
      return rows.filter((r) => names.has(r.account_id)).map((r) => ({
        id: r.id,
        accountId: r.account_id,
        accountName: names.get(r.account_id)!,
        current: r.id === auth.sessionId,
        userAgent: r.user_agent,
        ip: r.ip,
        createdAt: r.created_at.toISOString(),
        lastSeenAt: r.last_seen_at.toISOString(),
        expiresAt: r.expires_at.toISOString(),
      }));
    },

    /** Revokes one of the caller's own sessions (`not_found` for anyone else's). */
    async revokeOwnSession(auth: Caller, sessionId: string, meta: RequestMeta): Promise<void> {
      await db.tenantWork(auth.tenantId, async (tx) => {
        const session = await store.findSession(tx, auth.tenantId, sessionId);
        if (!session || session.user_id !== auth.userId || session.revoked_at) throw new AppError(KernelErrors.not_found, { message: 'No such session.' });
        await issuer.revoke(tx, auth.tenantId, { sessionId }, 'revoked_by_user');
        await audit.record(tx, auth.tenantId, { action: 'auth.session.revoked', actor: actor(auth, meta), target: { type: 'session', id: sessionId }, outcome: 'success', details: { by: 'self' } });
      });
    },

    /**
     * Revokes every session of the caller except the current one, and rotates the security stamp (login-phase
     * tokens in flight die too). A stolen access token alone must not be able to do it: step-up first (the
     * current password, or a login within the last 5 minutes).
     */
    async revokeOtherSessions(auth: Caller, proof: { currentPassword?: string | undefined }, meta: RequestMeta): Promise<number> {
      const who = { type: 'user' as const, id: auth.userId, ip: meta.ip, userAgent: meta.userAgent };
      const unit = <T>(work: (tx: Tx) => Promise<T>) => db.tenantWork(auth.tenantId, work);
      return deps.identity.guardStepUp(auth.tenantId, who, { authTime: auth.authTime, currentPassword: proof.currentPassword }, unit, async (tx) => {
        await deps.identity.rotateSecurityStamp(tx, auth.tenantId, auth.userId, 'sessions_revoked');
        const ids = await issuer.revoke(tx, auth.tenantId, { userId: auth.userId, exceptSessionId: auth.sessionId }, 'revoked_by_user');
        await audit.record(tx, auth.tenantId, { action: 'auth.session.revoked', actor: actor(auth, meta), target: { type: 'user', id: auth.userId }, outcome: 'success', details: { by: 'self', sessions: ids.length, others: true } });
        return ids.length;
      });
    },

    /**
     * A tenant administrator revokes every session of a user of the tenant (like every other `idp.manage`
     * write to users, `identity.tenant_admin_required` otherwise) and rotates the user's security stamp, so
     * no identity or challenge token issued before can open a new session either.
     */
    async revokeUserSessions(auth: Caller, userId: string, meta: RequestMeta): Promise<number> {
      return db.tenantWork(auth.tenantId, async (tx) => {
        await deps.identity.requireTenantAdmin(tx, auth.tenantId, auth.userId);
        if (!(await deps.users.findLoginUserById(tx, auth.tenantId, userId))) throw new AppError(KernelErrors.not_found, { message: 'No such user.' });
        await deps.identity.rotateSecurityStamp(tx, auth.tenantId, userId, 'sessions_revoked');
        const ids = await issuer.revoke(tx, auth.tenantId, { userId }, 'revoked_by_admin');
        await audit.record(tx, auth.tenantId, { action: 'auth.session.revoked', actor: actor(auth, meta), target: { type: 'user', id: userId }, outcome: 'success', details: { by: 'admin', sessions: ids.length } });
        return ids.length;
      });
    },

    /**
     * Revokes every session of a user inside the caller's unit of work (deactivation, password reset): the
     * next request of any of them is refused on every instance. `exceptSessionId` keeps the caller's own
     * session (a password change revokes the others). Returns how many were live.
     */
    async revokeAllSessionsOfUser(tx: Tx, tenantId: string, userId: string, reason: string, exceptSessionId?: string): Promise<number> {
      return (await issuer.revoke(tx, tenantId, { userId, ...(exceptSessionId ? { exceptSessionId } : {}) }, reason)).length;
    },
  };
}

export type SessionLifecycle = ReturnType<typeof createSessionLifecycle>;
