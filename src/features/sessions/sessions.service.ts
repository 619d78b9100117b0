import { createAuthenticator } from './authenticator.js';
import { createLogin } from './login.service.js';
import { createSessionLifecycle } from './session-lifecycle.service.js';
import { createIssuer, type SessionEvent } from './session-issuer.js';
import { createEventBus, type EventSource } from '../../kernel/events.js';
import { batchedStateSource, memoryStateSource } from './session-state.js';
import type { Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import { type LoginMethod, noTelemetry, type Telemetry } from '../../kernel/telemetry.js';
import type { LoginResult } from './login-pipeline.js';
import { SessionErrors } from './sessions.errors.js';
import type { SessionsDeps, UserEventPort } from './sessions.ports.js';
import { spendTokenId } from './sessions.store.js';
import './sessions.tables.js';

/**
 * The sessions feature: two-phase login, tokens, refresh rotation, switching, logout, revocation, and the
 * `Authenticator` every guarded route goes through.
 */
export function createSessions(deps: SessionsDeps) {
  // One process on the embedded database: session state is served from memory (DESIGN §3).
  const telemetry = deps.telemetry ?? noTelemetry;
  const states = deps.db.engine === 'pglite' ? memoryStateSource(deps.db) : batchedStateSource(deps.db, { onBatch: (size) => telemetry.sessionStateBatch(size) });
  const events = createEventBus<SessionEvent, Tx>();
  const issuer = createIssuer(deps, states, events);
  const login = counted(createLogin(deps, issuer), telemetry);
  const sessions = countedRefresh(createSessionLifecycle(deps, issuer), telemetry);
  const findKey = (kid: string) => deps.keys.publishedKey(kid);
  const authenticator = createAuthenticator({ clock: deps.clock, keys: deps.keys, settings: { issuer: deps.issuer, audience: deps.audience }, states, findKey });
  return {
    /** Sessions ended, in the transaction that ended them (session-issuer.ts `SessionEvent`). */
    events: events as EventSource<SessionEvent, Tx>,
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

/** How a login step ended, for the metrics: a refusal before any secret was checked is `throttled`. */
async function countLogin(telemetry: Telemetry, method: LoginMethod, attempt: Promise<LoginResult>): Promise<LoginResult> {
  try {
    const result = await attempt;
    telemetry.login(method, result.status === 'authenticated' ? 'success' : 'next_step');
    return result;
  } catch (error) {
    telemetry.login(method, error instanceof AppError && error.code === SessionErrors['sessions.too_many_attempts'] ? 'throttled' : 'failure');
    throw error;
  }
}

/** The password step and the second-factor step, counted by outcome (docs/metrics.md `tessera_logins_total`). */
function counted<L extends { login(...args: never[]): Promise<LoginResult>; loginMfa(...args: never[]): Promise<LoginResult> }>(login: L, telemetry: Telemetry): L {
  return {
    ...login,
    login: (...args: Parameters<L['login']>) => countLogin(telemetry, 'password', login.login(...args)),
    loginMfa: (...args: Parameters<L['loginMfa']>) => countLogin(telemetry, 'totp', login.loginMfa(...args)),
  };
}

/** Refresh-token rotations, counted by outcome (docs/metrics.md `tessera_refreshes_total`). */
function countedRefresh<S extends { refresh(...args: never[]): Promise<unknown> }>(sessions: S, telemetry: Telemetry): S {
  return {
    ...sessions,
    refresh: (...args: Parameters<S['refresh']>) =>
      sessions.refresh(...args).then(
        (issued) => {
          telemetry.refresh('success');
          return issued;
        },
        (error: unknown) => {
          telemetry.refresh('failure');
          throw error;
        },
      ),
  };
}
