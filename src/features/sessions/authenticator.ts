import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import type { SessionStateSource } from './session-state.js';
import { SessionErrors } from './sessions.errors.js';
import type { SessionAuth, SigningKeys } from './sessions.ports.js';
import { claimedKind, kidOf, type PublicKeyRef, type TokenClaims, type TokenSettings, verifyToken } from './tokens.js';

/** The request as the authenticator reads it: only its headers (structurally a FastifyRequest). */
export interface BearerRequest {
  readonly headers: { readonly authorization?: string | undefined };
}

// RFC 6750 §2.1; the scheme name is case-insensitive (RFC 9110 §11.1).
const BEARER = /^Bearer ([A-Za-z0-9._-]+)$/i;

/**
 * The request hot path (DESIGN §3): (1) the access token is verified synchronously, or found in a bounded
 * cache of tokens already verified, keyed by the whole token, with `exp` rechecked on every hit; (2) one
 * read tells whether the session is live, the user active, and the account's authorization epoch. The
 * read happens on every request, cache hit or not, so a revocation applies to the very next request.
 */
export function createAuthenticator({
  clock,
  keys,
  settings,
  states,
  findKey,
  cacheSize = 10_000,
}: {
  clock: Clock;
  keys: SigningKeys;
  settings: TokenSettings;
  states: SessionStateSource;
  /** Reads one published key by kid from the database (a key rotated in after this instance loaded its set). */
  findKey: (kid: string) => Promise<PublicKeyRef | undefined>;
  cacheSize?: number;
}) {
  const verified = new Map<string, TokenClaims>();
  // Keys found by kid after a rotation elsewhere. Lookups of unknown kids are capped (a few per second), so
  // tokens with made-up kids cannot turn into a database query per request.
  const found = new Map<string, PublicKeyRef>();
  const LOOKUPS_PER_SECOND = 5;
  let lookupWindow = 0;
  let lookups = 0;

  async function keySet(token: string): Promise<ReadonlyMap<string, PublicKeyRef>> {
    const set = await keys.verificationKeys();
    const kid = kidOf(token);
    if (!kid || set.has(kid)) return set;
    let key = found.get(kid);
    const second = Math.floor(Date.now() / 1000);
    if (second !== lookupWindow) [lookupWindow, lookups] = [second, 0];
    if (!key && lookups < LOOKUPS_PER_SECOND) {
      lookups++;
      key = await findKey(kid);
      if (key) found.set(kid, key);
    }
    return key ? new Map([...set, [kid, key]]) : set;
  }

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
    const known = await keySet(token);
    const result = verifyToken(token, 'access', known, settings, nowSeconds);
    if (!result.ok) {
      // An identity token where a session is needed: the user has not chosen an account yet.
      if (claimedKind(token) === 'identity' && verifyToken(token, 'identity', known, settings, nowSeconds).ok) {
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
      return { tenantId: state.tenantId, userId: state.userId, accountId: state.accountId, sessionId: state.sessionId, authzEpoch: state.authzEpoch, authTime: claims.auth_time, user: state.user };
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
