import { createAuthenticator } from './authenticator.js';
import { createLogin } from './login.service.js';
import { createSessionLifecycle } from './session-lifecycle.service.js';
import { createIssuer } from './session-issuer.js';
import { batchedStateSource, memoryStateSource } from './session-state.js';
import type { SessionsDeps } from './sessions.ports.js';
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
     * A user's record changed (profile, flags, password): the next authenticated request of each of the
     * user's sessions reads it afresh. Call right after the write, inside its unit of work. On PostgreSQL
     * every request reads anyway; on the embedded database this forgets the state kept in memory.
     */
    userChanged: (tenantId: string, userId: string): void => states.forgetUser(tenantId, userId),
    /** Whether refresh cookies may drop `Secure`: only for a server reached at http://localhost. */
    secureCookies: !/^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(deps.issuer),
  };
}

export type SessionsService = ReturnType<typeof createSessions>;
