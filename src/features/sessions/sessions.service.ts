import { createAuthenticator } from './authenticator.js';
import { createLogin } from './login.service.js';
import { createSessionLifecycle } from './session-lifecycle.service.js';
import { createIssuer } from './session-issuer.js';
import { batchedStateSource, memoryStateSource } from './session-state.js';
import type { Tx } from '../../db/database.js';
import type { SessionsDeps, UserEventPort } from './sessions.ports.js';
import { spendTokenId } from './sessions.store.js';
import './sessions.tables.js';

/**
 * The sessions feature: two-phase login, tokens, refresh rotation, switching, logout, revocation, and the
 * `Authenticator` every guarded route goes through.
 */
export function createSessions(deps: SessionsDeps) {
  // One process on the embedded database: session state is served from memory (DESIGN §3).
  const states = deps.db.engine === 'pglite' ? memoryStateSource(deps.db) : batchedStateSource(deps.db);
  const issuer = createIssuer(deps, states);
  const login = createLogin(deps, issuer);
  const sessions = createSessionLifecycle(deps, issuer);
  const findKey = (kid: string) => deps.keys.publishedKey(kid);
  const authenticator = createAuthenticator({ clock: deps.clock, keys: deps.keys, settings: { issuer: deps.issuer, audience: deps.audience }, states, findKey });
  return {
    authenticator,
    ...login,
    ...sessions,
    /**
     * What sessions does when identity changes a user, in the transaction of the change:
     * - `user.changed`: the principal rides in the per-request session read, so the next request of each of
     *   the user's sessions reads it afresh (on PostgreSQL every request reads anyway; on the embedded
     *   database this forgets the state kept in memory);
     * - `user.deactivated`: every session of the user ends at once (DESIGN §3: de-provisioning applies to
     *   the very next request);
     * - `user.security_stamp_changed` by a new password: every session the old password started ends, except
     *   the one that made the change (OWASP ASVS v4 §3.3.3); other reasons end only login-phase tokens (the
     *   stamp itself does that), and a revoke-all has revoked its sessions already.
     */
    async onUserEvent(tx: Tx, event: UserEventPort): Promise<void> {
      if (event.type === 'user.changed') states.forgetUser(event.tenantId, event.userId);
      else if (event.type === 'user.deactivated') await sessions.revokeAllSessionsOfUser(tx, event.tenantId, event.userId, 'user_deactivated');
      else if (event.reason === 'password_changed' || event.reason === 'password_reset') {
        await sessions.revokeAllSessionsOfUser(tx, event.tenantId, event.userId, event.reason, event.sessionId);
      }
    },
    /**
     * Spends a one-time id of the tenant (RFC 7519 §4.1.7 `jti`) until `expiresAt`, in the table every instance
     * shares: true the first time, false on every later use. For one-time artefacts other features hand a
     * browser (the SSO sign-in result), so a replay is refused on every instance, not only the one that issued it.
     */
    spendOnce(tenantId: string, id: string, expiresAt: Date): Promise<boolean> {
      return deps.db.tenantWork(tenantId, (tx) => spendTokenId(tx, tenantId, id, expiresAt, deps.clock.now()));
    },
    /** The same, in the caller's unit of work (what it records commits with the spend, or neither does). */
    spendOnceIn(tx: Tx, tenantId: string, id: string, expiresAt: Date): Promise<boolean> {
      return spendTokenId(tx, tenantId, id, expiresAt, deps.clock.now());
    },
    /**
     * Ends the live sessions that came from these identity-source logins (SAML Single Logout from the IdP), in the
     * caller's unit of work; the very next request of each is refused, on every instance (DESIGN §3). The ids ended.
     */
    revokeSessionsFromSource(tx: Tx, tenantId: string, sourceIds: readonly string[], reason: string): Promise<string[]> {
      return issuer.revoke(tx, tenantId, { sourceIds }, reason);
    },
    /**
     * A session's state as the request hot path reads it (live, user active, account, principal), read now: for
     * protocols that act for a session outside a bearer request (the OpenID Provider's tokens, bound to the session).
     */
    sessionState(tenantId: string, sessionId: string) {
      return states.read(tenantId, sessionId);
    },
    /** Whether refresh cookies may drop `Secure`: only for a server reached at http://localhost. */
    secureCookies: !/^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(deps.issuer),
  };
}

export type SessionsService = ReturnType<typeof createSessions>;
