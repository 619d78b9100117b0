import type { FixedClock } from '../../src/kernel/clock.js';
import type { Engine } from '../../src/db/database.js';
import { startTestApp, type TestApp } from './app.js';
import { startOp, type TestOp } from './oidc-provider.js';
import { freePort } from './user-agent.js';
import { newId } from '../../src/kernel/ids.js';

/**
 * A server whose PUBLIC_URL is its own loopback address (SSO's outbound network policy (net/outbound-network.ts) allows loopback IdPs only when
 * TESSERA_SSO_ALLOW_LOOPBACK is set) and a real OpenID Provider whose redirect URI is the server's callback.
 */
export async function startSsoTestApp(engine: Engine, opOptions: Omit<Parameters<typeof startOp>[0] & object, 'redirectUri'> = {}, appOptions: { consoleDir?: string; clock?: FixedClock; env?: Record<string, string> } = {}): Promise<{ t: TestApp; op: TestOp }> {
  const port = await freePort();
  const t = await startTestApp(engine, { ...appOptions, port, env: { TESSERA_SSO_ALLOW_LOOPBACK: 'true', PUBLIC_URL: `http://127.0.0.1:${port}`, ...appOptions.env } });
  try {
    return { t, op: await startOp({ ...opOptions, redirectUri: `${t.url}/auth/sso/oidc/callback` }) };
  } catch (err) {
    await t.close();
    throw err;
  }
}

/** Marks a domain verified for a tenant as the operator would (the domains feature's own tests cover the DNS check). */
export async function markDomainVerified(t: TestApp, tenantId: string, domain: string): Promise<void> {
  await t.app.db.tenantWork(tenantId, (tx) =>
    tx.insertInto('domains').values({ tenant_id: tenantId, id: newId(), domain, token: `tessera-verification-${newId()}`, status: 'verified', verified_at: new Date(), verified_by: 'operator', created_at: new Date() }).execute(),
  );
}

/** How many sign-ins through SSO the tenant's audit log records as refused with `code` (`sso.login.failed`). */
export async function ssoLoginFailures(t: TestApp, tenantId: string, code: string): Promise<number> {
  const rows = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select('seq').where('tenant_id', '=', tenantId).where('action', '=', 'sso.login.failed').where('error_code', '=', code).execute());
  return rows.length;
}
