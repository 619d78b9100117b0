import { createRemoteJWKSet, customFetch, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import { createDiscovery, type FetchLike, normalizeIssuer, type ProviderMetadata } from './discovery.js';
import { TesseraError, TokenError } from './errors.js';

/**
 * The asymmetric JWS algorithms the SDK ever accepts. `none` and the HMAC family (HS256/384/512) are never allowed:
 * a verifier holding only public keys must not be talked into using one as an HMAC secret (RFC 8725 §2.1, §3.1).
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/** The claims of a Tessera access token (RFC 9068 §2.2, plus Tessera's `acc`, `sid`, `tid` and `permissions`). */
export interface AccessTokenClaims extends JWTPayload {
  readonly iss: string;
  readonly sub: string;
  readonly exp: number;
  readonly iat: number;
  readonly jti?: string;
  readonly client_id?: string;
  readonly scope?: string;
  /** The account the user works in. */
  readonly acc?: string;
  /** The Tessera session the token belongs to. */
  readonly sid?: string;
  /** The tenant (Tessera's own session tokens). */
  readonly tid?: string;
  /** The user's permission keys in the account (with scope `permissions`). */
  readonly permissions?: readonly string[];
}

export interface VerifierOptions {
  /** Tessera's `PUBLIC_URL` (the `iss` of its tokens). */
  readonly issuer: string;
  /** The identifier of this API; the token's `aud` must contain it (RFC 9068 §4). */
  readonly audience: string | readonly string[];
  /**
   * The algorithms accepted. Default: what the issuer's discovery names in `id_token_signing_alg_values_supported`,
   * restricted to the asymmetric ones. `none` and HS* are refused here (configuration_invalid).
   */
  readonly algorithms?: readonly string[];
  /** Allowed clock skew for `exp`, `nbf` and `iat`, in seconds (default 5, at most 60). */
  readonly clockToleranceSeconds?: number;
  /**
   * After a fetch of the JWKS, how long a token with an unknown `kid` is refused without fetching again (ms, default
   * 30 s): a key rotation is picked up on the first token signed with the new key, and a flood of made-up `kid`s
   * cannot turn into a flood of requests to Tessera.
   */
  readonly jwksCooldownMs?: number;
  /** How long a fetched JWKS is used before it is fetched again anyway (ms, default 10 min). */
  readonly jwksMaxAgeMs?: number;
  /** A fetch to use instead of the global one (proxies, tests). */
  readonly fetch?: FetchLike;
}

export interface Verifier {
  /** Verifies a bearer access token; resolves with its claims or rejects with a `TokenError` (or `TesseraError`). */
  verifyAccessToken(token: string): Promise<AccessTokenClaims>;
  /** The issuer's discovery document (fetched once). */
  metadata(): Promise<ProviderMetadata>;
  readonly issuer: string;
}

const NEVER = /^(none|HS\d+)$/i;

export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = normalizeIssuer(options.issuer);
  const audience = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  if (audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === '')) throw new TesseraError('configuration_invalid', 'audience is required.');
  const tolerance = options.clockToleranceSeconds ?? 5;
  if (!(tolerance >= 0 && tolerance <= 60)) throw new TesseraError('configuration_invalid', 'clockToleranceSeconds must be between 0 and 60.');
  if (options.algorithms) {
    const bad = options.algorithms.filter((a) => NEVER.test(a) || !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a));
    if (bad.length > 0 || options.algorithms.length === 0) throw new TesseraError('configuration_invalid', `algorithms must be asymmetric JWS algorithms (refused: ${bad.join(', ') || 'empty list'}).`);
  }
  const fetchImpl = options.fetch ?? fetch;
  const metadata = createDiscovery(issuer, fetchImpl);

  let keys: { jwks: ReturnType<typeof createRemoteJWKSet>; algorithms: string[] } | undefined;
  const resolveKeys = async () => {
    if (keys) return keys;
    const doc = await metadata();
    const advertised = doc.id_token_signing_alg_values_supported ?? [];
    const algorithms = options.algorithms ? [...options.algorithms] : advertised.filter((a) => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a));
    if (algorithms.length === 0) throw new TesseraError('discovery_failed', 'The issuer advertises no asymmetric signing algorithm; pass `algorithms`.');
    const jwks = createRemoteJWKSet(new URL(doc.jwks_uri), {
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: options.jwksMaxAgeMs ?? 600_000,
      timeoutDuration: 5_000,
      [customFetch]: (url, init) => fetchImpl(url, init),
    });
    keys = { jwks, algorithms };
    return keys;
  };

  return {
    issuer,
    metadata,
    async verifyAccessToken(token) {
      if (typeof token !== 'string' || token === '') throw new TokenError('token_missing', 'No access token.');
      if (token.length > 16_384 || token.split('.').length !== 3) throw new TokenError('token_malformed', 'The access token is not a signed JWT.');
      let alg: unknown;
      let typ: unknown;
      try {
        ({ alg, typ } = decodeProtectedHeader(token));
      } catch (cause) {
        throw new TokenError('token_malformed', 'The access token header cannot be read.', { cause });
      }
      const { jwks, algorithms } = await resolveKeys();
      // The algorithm is pinned by configuration, never chosen by the token (RFC 8725 §3.1).
      if (typeof alg !== 'string' || !algorithms.includes(alg)) throw new TokenError('token_algorithm_not_allowed', `Algorithm ${String(alg)} is not accepted.`);
      // Explicit typing (RFC 9068 §4, RFC 8725 §3.11): an ID token or a logout token is not an access token.
      if (typeof typ !== 'string' || !/^(application\/)?at\+jwt$/i.test(typ)) throw new TokenError('token_wrong_type', 'The token is not an access token (typ at+jwt).');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, { issuer, audience, algorithms, clockTolerance: tolerance, requiredClaims: ['exp', 'iat', 'sub'] }));
      } catch (error) {
        throw mapJoseError(error);
      }
      if (payload.permissions !== undefined && !(Array.isArray(payload.permissions) && payload.permissions.every((p) => typeof p === 'string'))) {
        throw new TokenError('token_claims_invalid', 'The permissions claim is not a list of strings.');
      }
      if (payload.iat! > Math.floor(Date.now() / 1000) + tolerance) throw new TokenError('token_not_yet_valid', 'The token was issued in the future.');
      return payload as AccessTokenClaims;
    },
  };
}

function mapJoseError(error: unknown): TesseraError {
  if (error instanceof errors.JWTExpired) return new TokenError('token_expired', 'The access token has expired.', { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return new TokenError('token_wrong_issuer', 'The access token was issued by another issuer.', { cause: error });
    if (error.claim === 'aud') return new TokenError('token_wrong_audience', 'The access token is not meant for this API.', { cause: error });
    if (error.claim === 'nbf' || (error.claim === 'iat' && error.reason === 'check_failed')) return new TokenError('token_not_yet_valid', 'The access token is not valid yet.', { cause: error });
    if (error.claim === 'typ') return new TokenError('token_wrong_type', 'The token is not an access token (typ at+jwt).', { cause: error });
    return new TokenError('token_claims_invalid', `The access token's ${error.claim} claim is invalid.`, { cause: error });
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return new TokenError('token_algorithm_not_allowed', 'The token algorithm is not accepted.', { cause: error });
  if (error instanceof errors.JWKSNoMatchingKey) return new TokenError('token_unknown_key', 'No published key of the issuer matches the token.', { cause: error });
  if (error instanceof errors.JWSSignatureVerificationFailed) return new TokenError('token_invalid_signature', 'The access token signature is invalid.', { cause: error });
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return new TokenError('token_malformed', 'The access token is malformed.', { cause: error });
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error instanceof TypeError || (error instanceof errors.JOSEError && error.code === 'ERR_JOSE_GENERIC')) {
    return new TesseraError('jwks_unavailable', "The issuer's JWKS could not be fetched.", { cause: error });
  }
  if (error instanceof TesseraError) return error;
  return new TesseraError('jwks_unavailable', 'The token could not be verified.', { cause: error });
}
