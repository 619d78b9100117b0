import { TOTP } from 'otpauth';
import type { TestApp } from './app.js';
import { type RequestOptions, requestJson } from './http.js';
import { refreshCookieOf } from './login.js';

/** What a JSON endpoint answered, for the session suites. */
export interface Answer {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever JSON came back
  readonly body: any;
  readonly response: Response;
  /** The refresh cookie the answer set, as `tessera_refresh=…`. */
  readonly refreshCookie: string | undefined;
}

export async function call(t: TestApp, method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const { status, body, response } = await requestJson(t.url, method, path, options);
  return { status, body, response, refreshCookie: refreshCookieOf(response) };
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
