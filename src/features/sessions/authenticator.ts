import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import type { SessionStateSource } from './session-state.js';
import { SessionErrors } from './sessions.errors.js';
import type { SessionAuth, SigningKeys } from './sessions.ports.js';
import { claimedKind, type TokenClaims, type TokenSettings, verifyToken } from './tokens.js';

/** The request as the authenticator reads it: only its headers (structurally a FastifyRequest). */
export interface BearerRequest {
  readonly headers: { readonly authorization?: string | undefined };
}

const BEARER = /^Bearer ([A-Za-z0-9._-]+)$/;

/**
 * The request hot path (DESIGN §3): (1) the access token is verified synchronously, or found in a bounded
 * cache of tokens already verified, keyed by the whole token, with `exp` rechecked on every hit; (2) one
 * read tells whether the session is live, the user active, and the account's authorization epoch. The
 * read happens on every request, cache hit or not, so a revocation applies to the very next request.
 */
export function createAuthenticator(
  { clock, keys, settings, states, cacheSize = 10_000 }: { clock: Clock; keys: SigningKeys; settings: TokenSettings; states: SessionStateSource; cacheSize?: number },
) {
  const verified = new Map<string, TokenClaims>();

  function refuse(reason: string): never {
    throw new AppError(SessionErrors.invalid_token, { detail: { reason } });
  }

  async function claimsOf(token: string, nowSeconds: number): Promise<TokenClaims> {
    const hit = verified.get(token);
    if (hit) {
      if (hit.exp > nowSeconds) return hit;
      verified.delete(token);
      refuse('expired');
    }
    const keySet = await keys.verificationKeys();
    const result = verifyToken(token, 'access', keySet, settings, nowSeconds);
    if (!result.ok) {
      // An identity token where a session is needed: the user has not chosen an account yet.
      if (claimedKind(token) === 'identity' && verifyToken(token, 'identity', keySet, settings, nowSeconds).ok) {
        throw new AppError(SessionErrors.account_context_required);
      }
      refuse(result.reason);
    }
    if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
    verified.set(token, result.claims);
    return result.claims;
  }

  return {
    async authenticate(request: BearerRequest): Promise<SessionAuth> {
      const match = BEARER.exec(request.headers.authorization ?? '');
      if (!match) refuse('no bearer token');
      const now = clock.now();
      const claims = await claimsOf(match[1]!, Math.floor(now.getTime() / 1000));
      const state = await states.read(claims.tid, claims.sid!);
      if (!state) refuse('no such session');
      if (state.revoked) refuse('session revoked');
      if (state.expiresAt <= now) refuse('session expired');
      if (!state.userActive) refuse('user inactive');
      if (state.userId !== claims.sub || state.accountId !== claims.acc) refuse('session does not match the token');
      return { tenantId: state.tenantId, userId: state.userId, accountId: state.accountId, sessionId: state.sessionId, authzEpoch: state.authzEpoch };
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
