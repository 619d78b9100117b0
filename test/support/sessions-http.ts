import { TOTP } from 'otpauth';
import type { TestApp } from './app.js';
import { type RequestOptions, requestJson } from './http.js';
import { refreshCookieOf } from './login.js';

/** A session's tokens as login, account selection, switch and refresh answer them. */
export interface SessionTokens {
  readonly tokenType: string;
  readonly accessToken: string;
  readonly expiresIn: number;
  readonly accountId: string;
  readonly sessionId: string;
}

/** One row of `GET /api/v1/me/sessions`. */
export interface SessionRow {
  readonly id: string;
  readonly accountId: string;
  readonly accountName: string;
  readonly ip: string;
  readonly userAgent: string;
  readonly current: boolean;
  readonly lastSeenAt: string;
}

/**
 * The JSON fields the HTTP suites read, over the endpoints they call. Which fields an answer has depends on
 * the endpoint and the outcome; each test asserts the ones it expects, so they are typed as present here, once,
 * instead of the body being `any` in every test.
 */
export interface AnswerBody extends SessionTokens {
  readonly error: { readonly code: string; readonly message: string; readonly requestId: string };
  readonly status: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly accounts: readonly { readonly id: string; readonly name: string }[];
  readonly identityToken: string;
  readonly challengeToken: string;
  readonly passwordChangeToken: string;
  readonly session: SessionTokens;
  readonly recoveryCodes: readonly string[];
  readonly enrollment: { readonly secret: string; readonly otpauthUri: string; readonly qrCodeDataUrl: string };
  readonly otpauthUri: string;
  readonly sessions: readonly SessionRow[];
  readonly id: string;
  readonly generatedPassword: string;
  readonly mustChangePassword: boolean;
  /** The JWKS (RFC 7517 §5). */
  readonly keys: readonly { readonly kid: string }[];
}

/** What a JSON endpoint answered, for the session suites. */
export interface Answer<T = AnswerBody> {
  readonly status: number;
  readonly body: T;
  readonly response: Response;
  /** The refresh cookie the answer set, as `tessera_refresh=…`. */
  readonly refreshCookie: string | undefined;
}

export async function call<T = AnswerBody>(t: TestApp, method: string, path: string, options: RequestOptions = {}): Promise<Answer<T>> {
  const { status, body, response } = await requestJson<T>(t.url, method, path, options);
  return { status, body, response, refreshCookie: refreshCookieOf(response) };
}

/** The claims of an access token the suites read (RFC 9068 §2.2 and ours: tid, acc, sid). */
export interface AccessClaims {
  readonly iss: string;
  readonly sub: string;
  readonly tid: string;
  readonly acc: string;
  readonly sid: string;
  readonly jti: string;
  readonly exp: number;
  readonly iat: number;
}

/** One part of a compact JWS decoded, not verified (RFC 7515 §7.1): 0 the header, 1 the claims. */
export function jwtPart<T = Record<string, unknown>>(token: string, part: 0 | 1): T {
  return JSON.parse(Buffer.from(token.split('.')[part]!, 'base64url').toString()) as T;
}

/** The current TOTP code of `secret` at the test app's clock (RFC 6238, SHA-1, 30 s, 6 digits). */
export function totpCode(t: TestApp, secret: string): string {
  return new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: t.clock.now().getTime() });
}

/** Enrolls the user in TOTP directly through the MFA service; returns the secret and recovery codes. */
export async function enrollTotp(t: TestApp, tenantId: string, userId: string): Promise<{ secret: string; recoveryCodes: string[] }> {
  const mfa = t.app.services.mfa;
  const { secret } = await t.app.db.tenantWork(tenantId, (tx) => mfa.startEnrollment(tx, tenantId, userId, 'user'));
  const done = await t.app.db.tenantWork(tenantId, (tx) => mfa.completeEnrollment(tx, tenantId, userId, totpCode(t, secret)));
  if (!done) throw new Error('enrollment failed');
  // The enrollment code is spent; the next login needs the next time step.
  t.clock.advance(30_000);
  return { secret, recoveryCodes: done.recoveryCodes };
}

/** Sets fields of the tenant's security policy directly (the tenants feature owns the HTTP route). */
export async function setSecurityPolicy(t: TestApp, tenantId: string, patch: Record<string, unknown>): Promise<void> {
  await t.app.db.tenantWork(tenantId, async (tx) => {
    const row = await tx.selectFrom('tenants').select('settings').where('id', '=', tenantId).executeTakeFirstOrThrow();
    const settings = row.settings as { security?: Record<string, unknown> };
    const next = { ...settings, security: { ...settings.security, ...patch } };
    await tx.updateTable('tenants').set({ settings: JSON.stringify(next) }).where('id', '=', tenantId).execute();
  });
}

/** The audit actions recorded in a tenant, oldest first. */
export async function auditActions(t: TestApp, tenantId: string): Promise<{ action: string; outcome: string; error_code: string | null; target_id: string | null }[]> {
  return t.app.db.tenantWork(tenantId, (tx) =>
    tx.selectFrom('audit_events').select(['action', 'outcome', 'error_code', 'target_id']).where('tenant_id', '=', tenantId).orderBy('seq').execute(),
  );
}
