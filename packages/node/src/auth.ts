import { PermissionError, TesseraError, TokenError } from './errors.js';
import { createIntrospector, type IntrospectionOptions, type Introspector } from './introspection.js';
import { type AccessTokenClaims, createVerifier, type Verifier, type VerifierOptions } from './verifier.js';

export interface TesseraAuthOptions extends VerifierOptions {
  /**
   * Strict mode: after the signature and claims check, every request also asks Tessera's introspection endpoint
   * (RFC 7662) whether the token is still active, with this application's client id and secret. A sign-out, a
   * revoked session or a deactivated user is then refused on the next request, and `permissions` are the current
   * ones, not those of the token's issue time. The price is one round trip to Tessera per request (see `cacheTtlMs`).
   * Without it, a verified token is accepted until its `exp` (Tessera's default: 5 minutes).
   */
  readonly introspection?: Omit<IntrospectionOptions, 'issuer' | 'fetch'>;
  /** The `realm` of the WWW-Authenticate challenge (RFC 6750 §3). */
  readonly realm?: string;
}

/** What the middleware puts on the request once the token is accepted. */
export interface TesseraAuthContext {
  readonly token: string;
  readonly claims: AccessTokenClaims;
  /** The permission keys checked: the introspected (current) ones in strict mode, else the token's. */
  readonly permissions: readonly string[];
  /** True when Tessera confirmed the token is active for this request (strict mode). */
  readonly introspected: boolean;
}

export interface TesseraAuth {
  readonly verifier: Verifier;
  readonly introspector?: Introspector;
  readonly realm: string;
  /** Verifies an `Authorization` header value (and, in strict mode, introspects): the context or a `TesseraError`. */
  authenticate(authorization: string | undefined): Promise<TesseraAuthContext>;
}

/** RFC 6750 §2.1: `Bearer` (case-insensitive), one space, a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

export function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization === '') throw new TokenError('token_missing', 'No bearer access token (Authorization: Bearer <token>).');
  const match = BEARER.exec(authorization);
  if (!match) throw new TokenError('token_malformed', 'The Authorization header is not a Bearer token.');
  return match[1]!;
}

export function createTesseraAuth(options: TesseraAuthOptions): TesseraAuth {
  const verifier = createVerifier(options);
  const introspector = options.introspection ? createIntrospector({ ...options.introspection, issuer: options.issuer, ...(options.fetch ? { fetch: options.fetch } : {}) }) : undefined;
  return {
    verifier,
    ...(introspector ? { introspector } : {}),
    realm: options.realm ?? verifier.issuer,
    async authenticate(authorization) {
      const token = bearerToken(authorization);
      const claims = await verifier.verifyAccessToken(token);
      if (!introspector) return { token, claims, permissions: claims.permissions ?? [], introspected: false };
      const state = await introspector.introspect(token);
      if (!state.active) throw new TokenError('token_inactive', 'The access token is no longer active (signed out, revoked or deactivated).');
      if (state.sub !== undefined && state.sub !== claims.sub) throw new TokenError('token_inactive', 'The introspected token names another subject.');
      const current = Array.isArray(state.permissions) ? state.permissions.filter((p): p is string => typeof p === 'string') : (claims.permissions ?? []);
      return { token, claims, permissions: current, introspected: true };
    },
  };
}

/** Throws a `PermissionError` unless the context holds every key (`all`) or at least one (`any`). */
export function checkPermissions(context: TesseraAuthContext, required: readonly string[], mode: 'all' | 'any'): void {
  const held = new Set(context.permissions);
  const ok = mode === 'all' ? required.every((k) => held.has(k)) : required.some((k) => held.has(k));
  if (!ok) throw new PermissionError(required, mode);
}

/** The HTTP answer for a refusal: status, headers and JSON body (RFC 6750 §3 challenges). */
export interface Refusal {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { error: { code: string; message: string; required?: readonly string[] } };
}

const quoted = (value: string) => `"${value.replace(/[\\"]/g, '\\$&').replace(/[^\x20-\x7e]/g, '')}"`;

export function refusalOf(error: unknown, realm: string): Refusal {
  if (error instanceof TokenError) {
    // RFC 6750 §3.1: a request with no credentials gets the bare challenge, without an error code.
    const challenge = error.code === 'token_missing' ? `Bearer realm=${quoted(realm)}` : `Bearer realm=${quoted(realm)}, error="invalid_token", error_description=${quoted(error.message)}`;
    return { status: 401, headers: { 'www-authenticate': challenge }, body: { error: { code: error.code, message: error.message } } };
  }
  if (error instanceof PermissionError) {
    return {
      status: 403,
      headers: { 'www-authenticate': `Bearer realm=${quoted(realm)}, error="insufficient_scope", error_description=${quoted(error.message)}` },
      body: { error: { code: error.code, message: error.message, required: error.required } },
    };
  }
  if (error instanceof TesseraError) return { status: 503, headers: { 'retry-after': '5' }, body: { error: { code: error.code, message: 'The access token cannot be checked right now.' } } };
  throw error;
}
