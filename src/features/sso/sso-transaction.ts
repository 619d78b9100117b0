import { hkdfSync } from 'node:crypto';
import { open, seal } from '../../crypto/envelope.js';
import type { MasterKeys } from '../../crypto/master-key.js';

/** The sign-in transaction lives 10 minutes (the product rule; OpenID Connect Core §3.1.2.1 leaves it to the RP). */
export const TRANSACTION_TTL_SECONDS = 600;
/** The one-time result cookie lives 2 minutes: the front-end reads it right after the redirect. */
export const RESULT_TTL_SECONDS = 120;
/** A "Test connection" outcome is kept 30 minutes, then purged (its start link lives as long). */
export const TEST_TTL_SECONDS = 1800;

/** What the browser carries between /auth/sso/start and the callback (RFC 6749 §10.12, RFC 7636, Core §15.5.2). */
export interface SsoTransaction {
  readonly tenantId: string;
  readonly connectionId: string;
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly returnTo: string | null;
  /** Seconds since the epoch. */
  readonly createdAt: number;
  /** A "Test connection" dry run: the test and the administrator who started it (nothing is created). */
  readonly test?: { readonly testId: string; readonly userId: string } | undefined;
}

/** The sealed `test` parameter of a test's start link: which test, of which administrator, until when. */
export interface SsoTestTicket {
  readonly tenantId: string;
  readonly connectionId: string;
  readonly testId: string;
  /** Who started it: a tenant administrator's user id, or a setup link's id (`by: 'setup_link'`). */
  readonly userId: string;
  readonly by?: 'setup_link';
  /** Seconds since the epoch. */
  readonly exp: number;
}

/**
 * Sealed cookies: AES-256-GCM (envelope.ts) under a key derived from the master key with HKDF (RFC 5869), one key
 * per purpose (the `info`), so the cookie can be neither read nor forged, and a transaction cookie never opens as a
 * result cookie. The previous master key still opens what the current one replaced (a rotation mid-sign-in).
 */
export function createCookieSealer(masterKeys: MasterKeys, purpose: 'transaction' | 'saml-transaction' | 'result' | 'test') {
  const derive = (key: Buffer) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `tessera sso ${purpose} cookie v1`, 32));
  const current = derive(masterKeys.current.key);
  const previous = masterKeys.previous ? derive(masterKeys.previous.key) : undefined;
  const aad = Buffer.from(`sso.${purpose}`);
  return {
    seal(value: unknown): string {
      return seal(current, Buffer.from(JSON.stringify(value)), aad).toString('base64url');
    },
    /** The value, or undefined when the cookie was altered or sealed by another key. */
    open<T>(cookie: string | undefined): T | undefined {
      if (!cookie || cookie.length > 8192) return undefined;
      const box = Buffer.from(cookie, 'base64url');
      const plain = open(current, box, aad) ?? (previous && open(previous, box, aad));
      if (!plain) return undefined;
      try {
        return JSON.parse(plain.toString('utf8')) as T;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * What the browser carries between /auth/sso/start and the SAML ACS: the AuthnRequest's ID, which the Response's
 * InResponseTo must equal (saml-profiles §4.1.4.2), sealed under its own key (never opens as an OIDC transaction).
 */
export interface SamlTransaction {
  readonly tenantId: string;
  readonly connectionId: string;
  readonly requestId: string;
  readonly returnTo: string | null;
  /** Seconds since the epoch. */
  readonly createdAt: number;
  readonly test?: { readonly testId: string; readonly userId: string } | undefined;
}
