import { createRemoteJWKSet, customFetch, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import { createDiscovery, type FetchLike, normalizeIssuer } from './discovery.js';
import { TesseraError, TokenError } from './errors.js';
import { ASYMMETRIC_ALGORITHMS } from './verifier.js';

/** OpenID Connect Back-Channel Logout 1.0 §2.4: the event member every logout token carries. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export interface LogoutTokenClaims extends JWTPayload {
  readonly iss: string;
  readonly sub?: string;
  readonly sid?: string;
  readonly jti: string;
  readonly events: Record<string, unknown>;
}

export interface LogoutTokenVerifierOptions {
  readonly issuer: string;
  /** The application's client id: the logout token's `aud`. */
  readonly clientId: string;
  readonly algorithms?: readonly string[];
  readonly clockToleranceSeconds?: number;
  readonly fetch?: FetchLike;
}

export interface LogoutTokenVerifier {
  /** Validates a logout token as Back-Channel Logout 1.0 §2.6 requires; a replayed `jti` is refused. */
  verifyLogoutToken(token: string): Promise<LogoutTokenClaims>;
}

export function createLogoutTokenVerifier(options: LogoutTokenVerifierOptions): LogoutTokenVerifier {
  const issuer = normalizeIssuer(options.issuer);
  const fetchImpl = options.fetch ?? fetch;
  const metadata = createDiscovery(issuer, fetchImpl);
  const tolerance = options.clockToleranceSeconds ?? 5;
  let keys: { jwks: ReturnType<typeof createRemoteJWKSet>; algorithms: string[] } | undefined;
  // §2.6 step 10 (optional): a logout token is accepted once; its jti is kept until it expires.
  const seen = new Map<string, number>();

  return {
    async verifyLogoutToken(token) {
      if (typeof token !== 'string' || token.split('.').length !== 3) throw new TokenError('token_malformed', 'The logout token is not a signed JWT.');
      if (!keys) {
        const doc = await metadata();
        const algorithms = (options.algorithms ?? doc.id_token_signing_alg_values_supported ?? []).filter((a) => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a));
        if (algorithms.length === 0) throw new TesseraError('discovery_failed', 'No asymmetric signing algorithm to accept.');
        keys = { jwks: createRemoteJWKSet(new URL(doc.jwks_uri), { [customFetch]: (url, init) => fetchImpl(url, init) }), algorithms };
      }
      let header;
      try {
        header = decodeProtectedHeader(token);
      } catch (cause) {
        throw new TokenError('token_malformed', 'The logout token header cannot be read.', { cause });
      }
      if (typeof header.alg !== 'string' || !keys.algorithms.includes(header.alg)) throw new TokenError('token_algorithm_not_allowed', `Algorithm ${String(header.alg)} is not accepted.`);
      // §2.4: explicit typing `logout+jwt` (when the provider sets a typ, it must be this one).
      if (header.typ !== undefined && !/^(application\/)?logout\+jwt$/i.test(header.typ)) throw new TokenError('token_wrong_type', 'The token is not a logout token (typ logout+jwt).');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys.jwks, { issuer, audience: options.clientId, algorithms: keys.algorithms, clockTolerance: tolerance, requiredClaims: ['iat', 'jti', 'events'] }));
      } catch (error) {
        if (error instanceof errors.JWTExpired) throw new TokenError('token_expired', 'The logout token has expired.', { cause: error });
        if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'iss') throw new TokenError('token_wrong_issuer', 'The logout token was issued by another issuer.', { cause: error });
        if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'aud') throw new TokenError('token_wrong_audience', 'The logout token is for another client.', { cause: error });
        if (error instanceof errors.JWKSNoMatchingKey) throw new TokenError('token_unknown_key', 'No published key matches the logout token.', { cause: error });
        if (error instanceof errors.JWSSignatureVerificationFailed) throw new TokenError('token_invalid_signature', 'The logout token signature is invalid.', { cause: error });
        throw new TokenError('token_claims_invalid', 'The logout token is invalid.', { cause: error });
      }
      const events = payload.events as Record<string, unknown> | undefined;
      // §2.6 steps 4–7: the event member is a JSON object, sub or sid is present, nonce is absent.
      const event = events && typeof events === 'object' ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
      if (!event || typeof event !== 'object') throw new TokenError('token_claims_invalid', 'The logout token carries no back-channel logout event.');
      if (typeof payload.sub !== 'string' && typeof payload.sid !== 'string') throw new TokenError('token_claims_invalid', 'The logout token names neither sub nor sid.');
      if (payload.nonce !== undefined) throw new TokenError('token_claims_invalid', 'A logout token must not carry a nonce.');
      const now = Date.now();
      for (const [jti, until] of seen) if (until <= now) seen.delete(jti);
      if (seen.has(payload.jti!)) throw new TokenError('token_claims_invalid', 'This logout token was already used.');
      seen.set(payload.jti!, (typeof payload.exp === 'number' ? payload.exp * 1000 : now + 10 * 60_000) + tolerance * 1000);
      return payload as LogoutTokenClaims;
    },
  };
}
