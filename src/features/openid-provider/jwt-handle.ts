import { createHash } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';

/**
 * A JWT access token is looked up (userinfo, introspection, revocation) by this handle: the SHA-256 of the whole JWT.
 * Only who holds the token can compute it, and it is not JWT-shaped, so oidc-provider's refusal of structured tokens at
 * introspection and revocation (it cannot look up JWTs it did not store) does not apply once Tessera stores them.
 */
const JWT_HANDLE_PREFIX = 'tjwt1.';
export const jwtHandle = (jwt: string): string => `${JWT_HANDLE_PREFIX}${createHash('sha256').update(jwt).digest('base64url')}`;
/** Whether a presented token is a compact JWS (three base64url parts and a decodable header). */
export function isJwt(value: string): boolean {
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(value)) return false;
  try {
    return typeof decodeProtectedHeader(value).alg === 'string';
  } catch {
    return false;
  }
}
/** The payload field that carries a JWT access token's handle to the adapter (never stored itself). */
export const JWT_HANDLE_FIELD = 'tessera:jwt-handle';
