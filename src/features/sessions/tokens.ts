import { type KeyObject, randomUUID, sign as signData, verify as verifySignature } from 'node:crypto';
import type { SigningAlgorithm } from '../../config/config.schema.js';

/**
 * Our own tokens. Signed and verified synchronously with node:crypto (DESIGN §3 step 1): WebCrypto
 * runs on libuv's thread pool, where argon2 runs too, so a login flood would stall every request.
 *
 * Four kinds, told apart by the JOSE `typ` header (RFC 8725 §3.11, explicit typing), so no token of one
 * kind is ever accepted as another: the access token (RFC 9068 `at+jwt`), the identity token (after the
 * password, before an account is chosen), the MFA challenge token (between password and second factor) and
 * the password-change token (the password is right but must be changed before any session exists).
 */
export const TOKEN_TYPES = { access: 'at+jwt', identity: 'tessera-id+jwt', mfa: 'tessera-mfa+jwt', password_change: 'tessera-pwd+jwt' } as const;
export type TokenKind = keyof typeof TOKEN_TYPES;

export interface TokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly tid: string;
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
  readonly aud?: string | string[];
  readonly nbf?: number;
  readonly acc?: string;
  readonly sid?: string;
  readonly amr?: string[];
  /** When the user authenticated (OIDC Core §2, RFC 9068 §2.2.1), seconds since the epoch. */
  readonly auth_time?: number;
  /** A hash of the user's security stamp when the token was issued (login-phase tokens only). */
  readonly sst?: string;
  /** The identity-source login the session comes from (an SSO record id), carried by login-phase tokens. */
  readonly src?: string;
}

/** The claims a caller chooses; `iss`, `iat`, `exp` and `jti` are set by `issueToken`. */
export interface IssuedClaims {
  sub: string;
  tid: string;
  acc?: string;
  sid?: string;
  amr?: string[];
  auth_time?: number;
  sst?: string;
  src?: string;
}

export interface PublicKeyRef {
  readonly alg: SigningAlgorithm;
  readonly publicKey: KeyObject;
  /** End of a retired key's publication window (epoch ms); from then on it verifies nothing. */
  readonly notAfter?: number;
}

export interface TokenSettings {
  readonly issuer: string;
  readonly audience?: string;
}

/**
 * Signs with node:crypto, synchronously, on the calling thread (RFC 7515 §7.1 compact serialization): WebCrypto
 * (what jose's SignJWT uses) hops to libuv's thread pool for every signature, where it waits behind argon2 during
 * a login flood, and costs ~1.5× (RS256) to ~3× (ES256, EdDSA) the CPU of the signature itself (BENCHMARKS.md,
 * "Refresh and login profile"). The output is the same compact JWS.
 */
export async function issueToken(
  kind: TokenKind,
  key: { kid: string; alg: SigningAlgorithm; privateKey: KeyObject },
  settings: TokenSettings,
  claims: IssuedClaims,
  nowSeconds: number,
  ttlSeconds: number,
): Promise<{ token: string; jti: string; exp: number }> {
  const jti = randomUUID();
  const exp = nowSeconds + ttlSeconds;
  const { sub, ...rest } = claims;
  const payload: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(rest)) if (value !== undefined) payload[name] = value;
  payload.iss = settings.issuer;
  payload.sub = sub;
  payload.iat = nowSeconds;
  payload.exp = exp;
  payload.jti = jti;
  if (settings.audience) payload.aud = settings.audience;
  const input = `${encodedHeader(key.alg, key.kid, kind)}.${base64url(JSON.stringify(payload))}`;
  return Promise.resolve({ token: `${input}.${signCompact(key.alg, key.privateKey, Buffer.from(input, 'ascii')).toString('base64url')}`, jti, exp });
}

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/**
 * The encoded JOSE header (RFC 7515 §7.1: BASE64URL(UTF8(JWS Protected Header))) of a key and token kind: the same
 * for every token they sign, so it is encoded once. Keyed by algorithm, key id and kind: a handful of entries per
 * signing key the instance has used.
 */
const headers = new Map<string, string>();
function encodedHeader(alg: SigningAlgorithm, kid: string, kind: TokenKind): string {
  const id = `${alg} ${kind} ${kid}`;
  let header = headers.get(id);
  if (header === undefined) {
    header = base64url(JSON.stringify({ alg, kid, typ: TOKEN_TYPES[kind] }));
    headers.set(id, header);
  }
  return header;
}

/** The JWS signature of `data` with the key's pinned algorithm (RFC 7518 §3.3, §3.4; RFC 8037 §3.1). */
function signCompact(alg: SigningAlgorithm, key: KeyObject, data: Buffer): Buffer {
  switch (alg) {
    case 'RS256':
      return signData('sha256', data, key);
    case 'ES256':
      // JWS ES256 signatures are R ‖ S (RFC 7518 §3.4), not DER.
      return signData('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
      return signData(null, data, key);
  }
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Tolerated clock difference between instances for `iat` and `nbf` (RFC 7519 §4.1.5 "small leeway"). */
const SKEW_SECONDS = 30;
const HEADER_MEMBERS = new Set(['alg', 'kid', 'typ']);

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function signatureOk(alg: SigningAlgorithm, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    switch (alg) {
      case 'RS256':
        return key.asymmetricKeyType === 'rsa' && verifySignature('sha256', data, key, signature);
      case 'ES256':
        // JWS ES256 signatures are R ‖ S (RFC 7518 §3.4), not DER.
        return key.asymmetricKeyType === 'ec' && signature.length === 64 && verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'EdDSA':
        return key.asymmetricKeyType === 'ed25519' && verifySignature(null, data, key, signature);
    }
  } catch {
    return false;
  }
}

/**
 * Verifies one of our own compact JWS tokens synchronously. Returns the claims, or a reason it was refused
 * (for logs; callers answer `invalid_token` whatever the reason). RFC 8725 §3.1: the algorithm is the one
 * pinned to the key named by `kid`, never the one the token asks for, so `none` and HS256-with-the-public-
 * key are refused by construction.
 */
export function verifyToken(
  token: string,
  kind: TokenKind,
  keys: ReadonlyMap<string, PublicKeyRef>,
  settings: TokenSettings,
  nowSeconds: number,
): { ok: true; claims: TokenClaims } | { ok: false; reason: string } {
  if (token.length > 8192) return { ok: false, reason: 'too long' };
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return { ok: false, reason: 'not a compact JWS' };
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  if (!header) return { ok: false, reason: 'header' };
  if (Object.keys(header).some((k) => !HEADER_MEMBERS.has(k))) return { ok: false, reason: 'unexpected header member' };
  if (header.typ !== TOKEN_TYPES[kind]) return { ok: false, reason: 'typ' };
  const key = typeof header.kid === 'string' ? keys.get(header.kid) : undefined;
  if (!key) return { ok: false, reason: 'unknown kid' };
  if (header.alg !== key.alg) return { ok: false, reason: 'alg does not match the key' };
  if (!signatureOk(key.alg, key.publicKey, Buffer.from(`${h}.${p}`, 'ascii'), Buffer.from(s, 'base64url'))) return { ok: false, reason: 'signature' };

  const c = decodeJson(p);
  if (!c) return { ok: false, reason: 'payload' };
  if (c.iss !== settings.issuer) return { ok: false, reason: 'iss' };
  if (settings.audience !== undefined) {
    const aud = c.aud;
    if (!(aud === settings.audience || (Array.isArray(aud) && aud.includes(settings.audience)))) return { ok: false, reason: 'aud' };
  }
  if (typeof c.exp !== 'number' || c.exp <= nowSeconds) return { ok: false, reason: 'expired' };
  if (typeof c.iat !== 'number' || c.iat > nowSeconds + SKEW_SECONDS) return { ok: false, reason: 'iat in the future' };
  if (c.nbf !== undefined && (typeof c.nbf !== 'number' || c.nbf > nowSeconds + SKEW_SECONDS)) return { ok: false, reason: 'not yet valid' };
  if (typeof c.sub !== 'string' || !UUID.test(c.sub) || typeof c.tid !== 'string' || !UUID.test(c.tid) || typeof c.jti !== 'string') {
    return { ok: false, reason: 'claims' };
  }
  if (c.auth_time !== undefined && typeof c.auth_time !== 'number') return { ok: false, reason: 'auth_time' };
  // Login-phase tokens are bound to the user's security stamp: one without it is not ours to accept.
  if (kind !== 'access' && (typeof c.sst !== 'string' || !UUID.test(c.jti))) return { ok: false, reason: 'login-phase claims' };
  if (kind === 'access' && (typeof c.acc !== 'string' || !UUID.test(c.acc) || typeof c.sid !== 'string' || !UUID.test(c.sid))) {
    return { ok: false, reason: 'access claims' };
  }
  return { ok: true, claims: c as unknown as TokenClaims };
}

/** The `kid` a token's header names (unverified), if any. */
export function kidOf(token: string): string | undefined {
  const kid = decodeJson(token.split('.')[0] ?? '')?.kid;
  return typeof kid === 'string' && kid.length <= 200 ? kid : undefined;
}

/** Which kind a token claims to be (header only, unverified): to answer `sessions.account_context_required`. */
export function claimedKind(token: string): TokenKind | undefined {
  const header = decodeJson(token.split('.')[0] ?? '');
  const typ = header?.typ;
  return (Object.keys(TOKEN_TYPES) as TokenKind[]).find((k) => TOKEN_TYPES[k] === typ);
}
