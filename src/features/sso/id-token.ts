import * as jose from 'jose';
import type { Clock } from '../../kernel/clock.js';

/** Seconds of clock difference tolerated on `exp`, `nbf` and `iat` (OpenID Connect Core §3.1.3.7 steps 9–10). */
export const ID_TOKEN_SKEW_SECONDS = 60;
/** An id_token issued longer ago than this is refused (Core §3.1.3.7 step 10: "too far away from the current time"). */
export const ID_TOKEN_MAX_AGE_SECONDS = 600;
/** At most one refetch on an unknown `kid` per this interval and issuer (RFC 7517 §4.5; junk kids cannot make us hammer the IdP). */
export const JWKS_MISS_REFETCH_MS = 5_000;
/** A cached JWKS is refreshed after this long even without a miss. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/** JWKS caches one instance keeps (one per recently used connection); the least recently used beyond it is dropped. */
export const JWKS_CACHE_LIMIT = 500;

/** Why an id_token was refused, as the sign-in error code. */
export class IdTokenRefused extends Error {
  constructor(
    readonly code: 'sso_signature' | 'sso_audience' | 'sso_replay' | 'sso_expired' | 'sso_config',
    message: string,
  ) {
    super(message);
  }
}

type Fetch = (url: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

/**
 * One issuer's JWKS, cached: refreshed after `JWKS_MAX_AGE_MS`, and refetched ONCE on an unknown `kid`, at most
 * once per `JWKS_MISS_REFETCH_MS` (a login right after the IdP rotates its keys works; neither jose's
 * createRemoteJWKSet, 30 s cooldown, nor openid-client, 60 s, allows it). Single-flight: concurrent misses share
 * one request.
 */
export function createJwksCache(jwksUri: string, fetchImpl: Fetch, clock: Clock) {
  let local: ReturnType<typeof jose.createLocalJWKSet> | null = null;
  let fetchedAt = 0;
  let lastMissRefetch = -Infinity;
  let inflight: Promise<void> | null = null;
  let fetches = 0;
  const now = () => clock.now().getTime();

  async function fetchJwks(): Promise<void> {
    const res = await fetchImpl(jwksUri, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new IdTokenRefused('sso_config', `The IdP's JWKS answered HTTP ${res.status}.`);
    local = jose.createLocalJWKSet((await res.json()) as jose.JSONWebKeySet);
    fetchedAt = now();
    fetches++;
  }
  // Written with .finally so that a fetch that throws at once cannot wedge the single-flight.
  const load = () => (inflight ??= fetchJwks().finally(() => (inflight = null)));

  async function getKey(header: jose.JWSHeaderParameters, token: jose.FlattenedJWSInput) {
    if (!local || now() - fetchedAt > JWKS_MAX_AGE_MS) await load();
    try {
      return await local!(header, token);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || now() - lastMissRefetch < JWKS_MISS_REFETCH_MS) throw err;
      lastMissRefetch = now();
      await load();
      return local!(header, token);
    }
  }
  return {
    getKey,
    get fetches() {
      return fetches;
    },
  };
}

export type JwksCache = ReturnType<typeof createJwksCache>;

export interface IdTokenExpectations {
  readonly issuer: string;
  readonly clientId: string;
  /** The connection's pinned algorithm (OpenID Connect Registration §2 `id_token_signed_response_alg`). */
  readonly alg: string;
  readonly nonce: string;
  /** Only for a connection pinned to HS256: the client secret is the key (Core §10.1). */
  readonly clientSecret: string | null;
}

/**
 * Our own id_token validation (OpenID Connect Core §3.1.3.7), run on every login: openid-client 6 does not
 * verify the signature in the code flow. The signature against the issuer's JWKS only, `alg` pinned to the
 * connection's (`none` never; HMAC only when the connection is pinned to HS256, keyed with its client secret),
 * `iss` exactly, `aud` contains the client id, `azp` equals it when there are several audiences or it is
 * present (step 4–5), `exp`, `iat` within the skew and not too old, `nonce` equals the transaction's (step 11).
 */
export async function verifyIdToken(idToken: string, expected: IdTokenExpectations, jwks: JwksCache, clock: Clock): Promise<jose.JWTPayload> {
  let header: jose.ProtectedHeaderParameters;
  try {
    header = jose.decodeProtectedHeader(idToken);
  } catch {
    throw new IdTokenRefused('sso_signature', 'The id_token is not a JWS.');
  }
  // RFC 8725 §3.1: the algorithm is the connection's, never the token's choice.
  if (header.alg !== expected.alg || header.alg === 'none') throw new IdTokenRefused('sso_signature', `The id_token's alg ${String(header.alg)} is not the connection's ${expected.alg}.`);
  const hmac = expected.alg.startsWith('HS');
  if (hmac && (expected.alg !== 'HS256' || !expected.clientSecret)) throw new IdTokenRefused('sso_config', 'HMAC id_tokens need the connection pinned to HS256 with a client secret.');
  const currentDate = clock.now();
  const options: jose.JWTVerifyOptions = { algorithms: [expected.alg], currentDate, clockTolerance: ID_TOKEN_SKEW_SECONDS, requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'] };
  let payload: jose.JWTPayload;
  try {
    payload = hmac
      ? (await jose.jwtVerify(idToken, new TextEncoder().encode(expected.clientSecret!), options)).payload
      : (await jose.jwtVerify(idToken, jwks.getKey, options)).payload;
  } catch (err) {
    if (err instanceof IdTokenRefused) throw err;
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_JWT_EXPIRED') throw new IdTokenRefused('sso_expired', 'The id_token has expired.');
    throw new IdTokenRefused('sso_signature', `The id_token was refused (${typeof code === 'string' ? code : (err as Error).message}).`);
  }
  // Core §3.1.3.7 step 2: the issuer compared as a string, exactly.
  if (payload.iss !== expected.issuer) throw new IdTokenRefused('sso_signature', 'The id_token was not issued by the connection\'s issuer.');
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!audiences.includes(expected.clientId)) throw new IdTokenRefused('sso_audience', 'The id_token is not meant for this client.');
  if ((audiences.length > 1 || payload.azp !== undefined) && payload.azp !== expected.clientId) throw new IdTokenRefused('sso_audience', 'The id_token\'s azp is not this client.');
  const nowSeconds = Math.floor(currentDate.getTime() / 1000);
  const iat = payload.iat!;
  if (iat > nowSeconds + ID_TOKEN_SKEW_SECONDS) throw new IdTokenRefused('sso_signature', 'The id_token was issued in the future.');
  if (iat < nowSeconds - ID_TOKEN_MAX_AGE_SECONDS - ID_TOKEN_SKEW_SECONDS) throw new IdTokenRefused('sso_expired', 'The id_token was issued too long ago.');
  if (typeof payload.nonce !== 'string' || payload.nonce !== expected.nonce) throw new IdTokenRefused('sso_replay', 'The id_token\'s nonce is not this sign-in\'s.');
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new IdTokenRefused('sso_signature', 'The id_token has no subject.');
  return payload;
}

/**
 * The JWKS caches of many connections: one per connection, for its current settings (jwks_uri, CA bundle). A
 * connection whose settings changed gets a new cache and the old one is closed (its HTTP agent and sockets), and
 * beyond `limit` connections the least recently used is dropped and closed: edits and deleted connections never
 * accumulate caches or open sockets in a long-running instance.
 */
export function createJwksCacheSet<T>(limit: number) {
  const held = new Map<string, { settings: string; value: T; close: () => Promise<void> }>();
  const drop = (entry: { close: () => Promise<void> }) => void entry.close().catch(() => undefined);
  return {
    get(connectionId: string, settings: string, open: () => { value: T; close: () => Promise<void> }): T {
      const entry = held.get(connectionId);
      held.delete(connectionId);
      if (entry?.settings === settings) {
        held.set(connectionId, entry); // a Map iterates in insertion order: most recently used last
        return entry.value;
      }
      if (entry) drop(entry);
      const fresh = { settings, ...open() };
      held.set(connectionId, fresh);
      for (const [id, oldest] of held) {
        if (held.size <= limit) break;
        held.delete(id);
        drop(oldest);
      }
      return fresh.value;
    },
    get size(): number {
      return held.size;
    },
  };
}
