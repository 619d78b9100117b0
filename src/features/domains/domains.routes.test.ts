import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { startDnsServer, type TestDnsServer } from '../../../test/support/dns-server.js';
import { callApi, errorCode } from '../../../test/support/http.js';
import { createPlainUser, type LoggedIn, loginAsAdmin, loginAsPlainUser, loginOverHttp } from '../../../test/support/login.js';
import { newId } from '../../kernel/ids.js';
import type { DomainInfo } from './domains.service.js';

const HOUR = 3_600_000;
const CLI = { type: 'system', id: 'cli' } as const;

describe.each(engines())('verified domains over HTTP, with a local DNS server [%s]', (engine) => {
  let t: TestApp;
  let dns: TestDnsServer;
  let a: LoggedIn;
  let b: LoggedIn;

  beforeAll(async () => {
    dns = await startDnsServer();
    t = await startTestApp(engine, { env: { TESSERA_DNS_SERVERS: dns.server, TESSERA_DNS_TIMEOUT_MS: '1000', TESSERA_PUBLIC_MAILBOX_DOMAINS: 'mail.operator-listed.example' } });
    a = await loginAsAdmin(t, { tenantName: 'Acme' });
    b = await loginAsAdmin(t, { tenantName: 'Globex' });
  });
  afterAll(async () => {
    await t?.close();
    await dns?.close();
  });

  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);
  const add = (who: LoggedIn, domain: string) => api<DomainInfo>(who, 'POST', '/api/v1/domains', { domain });
  const verify = (who: LoggedIn, id: string) => api<DomainInfo>(who, 'POST', `/api/v1/domains/${id}/verify`);
  const publish = (d: DomainInfo) => dns.setTxt(d.verification.name, d.verification.value);
  const unique = (label: string) => `${label}-${newId().slice(-8)}.example`;

  async function auditOf(tenantId: string, action: string) {
    return t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'actor_type', 'actor_id', 'error_code', 'details']).where('tenant_id', '=', tenantId).where('action', '=', action).orderBy('seq').execute());
  }

  it('adds a domain as pending, normalised, with the TXT record to publish (domain.added)', async () => {
    const res = await add(a, '  Pending-Example.COM. ');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ domain: 'pending-example.com', status: 'pending', verifiedAt: null, verification: { type: 'TXT', name: '_tessera-verification.pending-example.com' } });
    expect(res.body.verification.value).toMatch(/^tessera-verification=[A-Za-z0-9_-]{43}$/);
    expect((await auditOf(a.tenantId, 'domain.added')).map((e) => e.details)).toContainEqual({ domain: 'pending-example.com' });
    const idn = await add(a, 'Bücher.example');
    expect(idn.body.domain).toBe('xn--bcher-kva.example');
    expect(errorCode(await add(a, 'pending-example.com'))).toBe('domain.exists');
  });

  it.each([['an IPv4 literal', '192.0.2.10'], ['an IPv6 literal', '[2001:db8::1]'], ['a wildcard', '*.example.com'], ['a single label', 'localhost'], ['a URL', 'https://example.com/x'], ['a bad label', 'a-.example.com'], ['a label over 63', `${'a'.repeat(64)}.example.com`]])(
    'refuses %s (domain.invalid)',
    async (_label, domain) => {
      const res = await add(a, domain);
      expect(res.status).toBe(422);
      expect(errorCode(res)).toBe('domain.invalid');
    },
  );

  it.each([['gmail.com'], ['Outlook.com'], ['fastmail.com'], ['proton.me'], ['mail.operator-listed.example']])('refuses the public mailbox domain %s (domain.public_mailbox)', async (domain) => {
    const res = await add(a, domain);
    expect(res.status).toBe(422);
    expect(errorCode(res)).toBe('domain.public_mailbox');
  });

  it('verifies when the TXT record is published (domain.verified), and not with a wrong token (domain.verification_failed)', async () => {
    const d = (await add(a, unique('acme'))).body;
    dns.setTxt(d.verification.name, 'tessera-verification=not-the-token', 'v=spf1 -all');
    const wrong = await verify(a, d.id);
    expect(wrong.status).toBe(422);
    expect(errorCode(wrong)).toBe('domain.verification_failed');
    expect((await api<DomainInfo>(a, 'GET', `/api/v1/domains/${d.id}`)).body.status).toBe('pending');
    expect((await auditOf(a.tenantId, 'domain.verification_failed')).at(-1)).toMatchObject({ error_code: 'domain.verification_failed', actor_type: 'user', actor_id: a.userId });

    publish(d);
    const ok = await verify(a, d.id);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body).toMatchObject({ status: 'verified', verifiedBy: 'dns' });
    expect((await auditOf(a.tenantId, 'domain.verified')).at(-1)?.details).toMatchObject({ domain: d.domain });
  });

  it('a domain verified by tenant A: tenant B may add it pending, never verify it (domain.taken), and sees nothing of A’s', async () => {
    const name = unique('held');
    const da = (await add(a, name)).body;
    publish(da);
    expect((await verify(a, da.id)).status).toBe(200);

    const db = await add(b, name);
    expect(db.status).toBe(201);
    expect(db.body.status).toBe('pending');
    // Both tokens published: B proves control of DNS too, and is still refused while A holds it.
    dns.setTxt(da.verification.name, da.verification.value, db.body.verification.value);
    const refused = await verify(b, db.body.id);
    expect(refused.status).toBe(409);
    expect(errorCode(refused)).toBe('domain.taken');
    expect((await auditOf(b.tenantId, 'domain.verification_failed')).at(-1)?.error_code).toBe('domain.taken');

    const listB = await api<{ items: DomainInfo[] }>(b, 'GET', '/api/v1/domains');
    expect(listB.body.items.map((d) => d.id)).toEqual([db.body.id]);
    expect(JSON.stringify(listB.body)).not.toContain(da.verification.value);
    expect((await api(b, 'GET', `/api/v1/domains/${da.id}`)).status).toBe(404);
    expect((await verify(b, da.id)).status).toBe(404);
    expect((await api(b, 'DELETE', `/api/v1/domains/${da.id}`)).status).toBe(404);

    // Once A removes it, B verifies it.
    expect((await api(a, 'DELETE', `/api/v1/domains/${da.id}`)).status).toBe(204);
    expect((await verify(b, db.body.id)).body.status).toBe('verified');
  });

  it('removing one domain keeps another verified (domain.removed)', async () => {
    const one = (await add(a, unique('one'))).body;
    const two = (await add(a, unique('two'))).body;
    for (const d of [one, two]) {
      publish(d);
      expect((await verify(a, d.id)).body.status).toBe('verified');
    }
    const three = (await add(a, unique('three'))).body;
    expect((await api(a, 'DELETE', `/api/v1/domains/${one.id}`)).status).toBe(204);
    const after = await api<DomainInfo>(a, 'GET', `/api/v1/domains/${two.id}`);
    expect(after.body.status).toBe('verified');
    expect(typeof after.body.verifiedAt).toBe('string');
    expect((await api<DomainInfo>(a, 'GET', `/api/v1/domains/${three.id}`)).body.status).toBe('pending');
    expect((await auditOf(a.tenantId, 'domain.removed')).at(-1)?.details).toMatchObject({ domain: one.domain, wasVerified: true });
  });

  it('the operator force-verifies a domain without DNS (domain.force_verified, actor cli), still one tenant per domain', async () => {
    const name = unique('forced');
    const forced = await t.app.services.domains.operatorVerify(a.tenantId, CLI, { domain: name, force: true });
    expect(forced).toMatchObject({ domain: name, status: 'verified', verifiedBy: 'operator' });
    expect((await auditOf(a.tenantId, 'domain.force_verified')).at(-1)).toMatchObject({ actor_type: 'system', actor_id: 'cli', details: { domain: name } });
    await expect(t.app.services.domains.operatorVerify(b.tenantId, CLI, { domain: name, force: true })).rejects.toMatchObject({ code: 'domain.taken' });
    await expect(t.app.services.domains.operatorVerify(a.tenantId, CLI, { domain: 'gmail.com', force: true })).rejects.toMatchObject({ code: 'domain.public_mailbox' });
  });

  it('needs domains.view to read and domains.manage plus tenant administrator to change (permission_denied, identity.tenant_admin_required)', async () => {
    const plain = await loginAsPlainUser(t, a);
    expect(errorCode(await api(plain, 'GET', '/api/v1/domains'))).toBe('permission_denied');
    expect(errorCode(await add(plain, unique('denied')))).toBe('permission_denied');

    const email = `manager-${newId().slice(-8)}@example.com`;
    const userId = await createPlainUser(t, a, { email, password: 'domain manager pw 42', withRole: false });
    await t.app.db.tenantWork(a.tenantId, async (tx) => {
      const roleId = newId();
      await tx.insertInto('roles').values({ account_id: a.accountId, id: roleId, name: `Domains ${roleId}`, permissions: ['domains.view', 'domains.manage'] }).execute();
      await tx.insertInto('role_assignments').values({ tenant_id: a.tenantId, id: newId(), account_id: a.accountId, role_id: roleId, user_id: userId }).execute();
    });
    const manager = { ...(await loginOverHttp(t, { email, password: 'domain manager pw 42', tenantId: a.tenantId })), email, password: '' };
    expect((await api(manager, 'GET', '/api/v1/domains')).status).toBe(200);
    const res = await add(manager, unique('not-admin'));
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('identity.tenant_admin_required');
  });

  it('a tenant-less login goes to the tenant that holds the email’s domain verified (tenantForEmail)', async () => {
    const name = unique('route');
    const email = `pat@${name}`;
    const password = 'same password in two tenants 42';
    await createPlainUser(t, a, { email, password });
    await createPlainUser(t, b, { email, password });
    // The same email and password in two tenants: without a verified domain the login must name the tenant.
    const ambiguous = await api(null, 'POST', '/auth/login', { email, password });
    expect(errorCode(ambiguous)).toBe('sessions.tenant_required');

    const d = (await add(a, name)).body;
    publish(d);
    expect((await verify(a, d.id)).body.status).toBe('verified');
    const routed = await api<{ status: string; tenantId: string }>(null, 'POST', '/auth/login', { email: email.toUpperCase(), password });
    expect(routed.status, JSON.stringify(routed.body)).toBe(200);
    expect(routed.body.tenantId).toBe(a.tenantId);
    expect(await t.app.services.domains.tenantForEmail('someone@gmail.com')).toBeUndefined();
  });

  // Last: it moves the clock past every access token's lifetime.
  it('the re-check job unverifies a domain after its record is gone three checks in a row (domain.unverified)', async () => {
    const keep = (await add(a, unique('kept'))).body;
    const lose = (await add(a, unique('lost'))).body;
    for (const d of [keep, lose]) {
      publish(d);
      expect((await verify(a, d.id)).body.status).toBe('verified');
    }
    // The clock moves a day: access tokens expire, so the rest reads through the service.
    const status = async (id: string) => (await t.app.services.domains.getDomain(a.tenantId, id)).status;
    dns.remove(lose.verification.name);
    t.clock.advance(24 * HOUR + 1);
    await t.app.services.domains.recheckDue();
    expect((await status(lose.id))).toBe('verified');
    for (let i = 0; i < 2; i++) {
      t.clock.advance(HOUR + 1);
      await t.app.services.domains.recheckDue();
    }
    expect((await status(lose.id))).toBe('pending');
    expect((await status(keep.id))).toBe('verified');
    const failures = (await auditOf(a.tenantId, 'domain.verification_failed')).filter((e) => (e.details as { domain?: string }).domain === lose.domain);
    expect(failures.map((e) => [e.actor_id, (e.details as { failures: number }).failures])).toEqual([['domain-verification', 1], ['domain-verification', 2], ['domain-verification', 3]]);
    expect((await auditOf(a.tenantId, 'domain.unverified')).at(-1)).toMatchObject({ actor_type: 'system', actor_id: 'domain-verification', details: { domain: lose.domain, failures: 3 } });

    // Published again: the job verifies the pending domain on its own.
    publish(lose);
    t.clock.advance(HOUR + 1);
    await t.app.services.domains.recheckDue();
    expect((await status(lose.id))).toBe('verified');
  });
});
