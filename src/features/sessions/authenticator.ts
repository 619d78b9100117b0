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
  // A verified token is remembered with the end of its key's publication window, re-checked on every hit,
  // and verified afresh after KEY_RECHECK_MS (its key may have been retired elsewhere since).
  const verified = new Map<string, { claims: TokenClaims; notAfter: number | undefined; checkedAt: number }>();
  // Keys found by kid after a rotation elsewhere, each trusted for KEY_RECHECK_MS and then looked up again,
  // so a key retired or removed on another instance stops verifying here too. Lookups of unknown kids are
  // capped (a few per second), so tokens with made-up kids cannot turn into a database query per request.
  const found = new Map<string, { key: PublicKeyRef; foundAt: number }>();
  const KEY_RECHECK_MS = 30_000;
  const LOOKUPS_PER_SECOND = 5;
  let lookupWindow = 0;
  let lookups = 0;

  /** A key verifies only inside its publication window (a retired key's window ends; RFC 7517 §5 key set hygiene). */
  function usable<K extends { notAfter?: number | undefined }>(key: K | undefined, nowMs: number): key is K {
    return key !== undefined && (key.notAfter === undefined || key.notAfter > nowMs);
  }

  /** The one key the token names, if it is ours and still inside its window: the whole key set verifyToken sees. */
  async function keySet(token: string, nowMs: number): Promise<ReadonlyMap<string, PublicKeyRef>> {
    const set = await keys.verificationKeys();
    const kid = kidOf(token);
    if (!kid) return new Map();
    let key: PublicKeyRef | undefined = set.get(kid);
    if (!key) {
      const entry = found.get(kid);
      if (entry && nowMs - entry.foundAt < KEY_RECHECK_MS) key = entry.key;
      else found.delete(kid);
    }
    const second = Math.floor(Date.now() / 1000);
    if (second !== lookupWindow) [lookupWindow, lookups] = [second, 0];
    if (!key && lookups < LOOKUPS_PER_SECOND) {
      lookups++;
      key = await findKey(kid);
      if (key) found.set(kid, { key, foundAt: nowMs });
    }
    return usable(key, nowMs) ? new Map([[kid, key]]) : new Map();
  }

  function refuse(reason: string): never {
    throw new AppError(SessionErrors.invalid_token, { detail: { reason } });
  }

  async function claimsOf(token: string, nowMs: number): Promise<TokenClaims> {
    const nowSeconds = Math.floor(nowMs / 1000);
    const hit = verified.get(token);
    if (hit) {
      if (hit.claims.exp <= nowSeconds) {
        verified.delete(token);
        refuse('expired');
      }
      if (usable(hit, nowMs) && nowMs - hit.checkedAt < KEY_RECHECK_MS) return hit.claims;
      verified.delete(token);
    }
    const known = await keySet(token, nowMs);
    const result = verifyToken(token, 'access', known, settings, nowSeconds);
    if (!result.ok) {
      // An identity token where a session is needed: the user has not chosen an account yet.
      if (claimedKind(token) === 'identity' && verifyToken(token, 'identity', known, settings, nowSeconds).ok) {
        throw new AppError(SessionErrors['sessions.account_context_required']);
      }
      refuse(result.reason);
    }
    if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
    verified.set(token, { claims: result.claims, notAfter: known.values().next().value?.notAfter, checkedAt: nowMs });
    return result.claims;
  }

  return {
    async authenticate(request: BearerRequest): Promise<SessionAuth> {
      const match = BEARER.exec(request.headers.authorization ?? '');
      if (!match) refuse('no bearer token');
      const now = clock.now();
      const claims = await claimsOf(match[1]!, now.getTime());
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
