import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode } from '../../../test/support/http.js';
import { newId } from '../../kernel/ids.js';
import { createPlainUser, loginAsAdmin, loginAsPlainUser, loginOverHttp } from '../../../test/support/login.js';

interface Tenant {
  id: string;
  name: string;
  slug: string;
}

// The tenant-specific sign-in URL `/t/<slug>/login` (README "Tenant-specific sign-in URL"): the slug's rules.
describe.each(engines())('tenant slugs over HTTP [%s]', (engine) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp(engine);
    // The holder of `taken-by-other`, for the duplicate case.
    await loginAsAdmin(t, { tenantName: 'Taken By Other' });
  });
  afterAll(() => t.close());

  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);
  const lookup = (slug: string) => api<{ tenantId: string; name: string }>(null, 'GET', `/auth/tenants/by-slug/${encodeURIComponent(slug)}`);

  it('gives a new tenant a slug from its name, unique with a suffix', async () => {
    const first = await loginAsAdmin(t, { tenantName: 'Slug Works, Ltd.' });
    const second = await loginAsAdmin(t, { tenantName: 'slug works ltd' });
    expect((await api<Tenant>(first, 'GET', '/api/v1/tenant')).body).toEqual({ id: first.tenantId, name: 'Slug Works, Ltd.', slug: 'slug-works-ltd' });
    expect((await api<Tenant>(second, 'GET', '/api/v1/tenant')).body.slug).toBe('slug-works-ltd-2');
    // A name that gives no usable slug (too short, or a reserved word) gives `tenant`.
    const reserved = await loginAsAdmin(t, { tenantName: 'Login' });
    expect((await api<Tenant>(reserved, 'GET', '/api/v1/tenant')).body.slug).toMatch(/^tenant(-\d+)?$/);
  });

  it('looks a slug up publicly: the tenant id and name, nothing else', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Lookup Co' });
    const res = await lookup('lookup-co');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tenantId: admin.tenantId, name: 'Lookup Co' });
    for (const unknown of ['no-such-tenant', 'Lookup-Co', 'a']) {
      const missing = await lookup(unknown);
      expect(missing.status, unknown).toBe(404);
      expect(errorCode(missing), unknown).toBe('tenants.slug_not_found');
    }
  });

  it('lets a tenant administrator change the slug: the old one stops resolving, the change is audited', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Renamed Co' });
    const res = await api<Tenant>(admin, 'PATCH', '/api/v1/tenant', { slug: 'renamed-eu-2' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: admin.tenantId, name: 'Renamed Co', slug: 'renamed-eu-2' });
    expect((await api<Tenant>(admin, 'GET', '/api/v1/tenant')).body.slug).toBe('renamed-eu-2');
    expect((await lookup('renamed-eu-2')).body.tenantId).toBe(admin.tenantId);
    expect(errorCode(await lookup('renamed-co'))).toBe('tenants.slug_not_found');
    const events = await t.app.db.ownerWork((tx) =>
      tx.selectFrom('audit_events').select(['action', 'details', 'actor_id']).where('tenant_id', '=', admin.tenantId).where('action', '=', 'tenant.slug.updated').execute(),
    );
    expect(events).toHaveLength(1);
    expect(events[0]!.details).toEqual({ changes: { slug: { from: 'renamed-co', to: 'renamed-eu-2' } } });
    // The same slug again changes nothing and records nothing.
    expect((await api<Tenant>(admin, 'PATCH', '/api/v1/tenant', { slug: 'renamed-eu-2' })).status).toBe(200);
    const again = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select('seq').where('tenant_id', '=', admin.tenantId).where('action', '=', 'tenant.slug.updated').execute());
    expect(again).toHaveLength(1);
  });

  it.each([
    ['one character', 'a', 'tenants.slug_invalid', 400],
    ['64 characters', 'a'.repeat(64), 'tenants.slug_invalid', 400],
    ['upper case', 'Acme', 'tenants.slug_invalid', 400],
    ['a leading hyphen', '-acme', 'tenants.slug_invalid', 400],
    ['a trailing hyphen', 'acme-', 'tenants.slug_invalid', 400],
    ['an underscore', 'ac_me', 'tenants.slug_invalid', 400],
    ['a dot', 'acme.eu', 'tenants.slug_invalid', 400],
    ...['api', 'auth', 'console', 'login', 'assets', 'scim', 't'].map((word) => [`the reserved word ${word}`, word, word === 't' ? 'tenants.slug_invalid' : 'tenants.slug_reserved', 400] as const),
    ['another tenant’s slug', 'taken-by-other', 'tenants.slug_taken', 409],
  ] as const)('refuses %s and changes nothing', async (_label, slug, code, status) => {
    const admin = await loginAsAdmin(t, { tenantName: `Refused ${slug.length}` });
    const before = (await api<Tenant>(admin, 'GET', '/api/v1/tenant')).body;
    const res = await api(admin, 'PATCH', '/api/v1/tenant', { slug });
    expect(res.status).toBe(status);
    expect(errorCode(res)).toBe(code);
    expect((await api<Tenant>(admin, 'GET', '/api/v1/tenant')).body).toEqual(before);
  });

  it('requires idp.view to read and a tenant administrator to change', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Guarded Slug' });
    const plain = await loginAsPlainUser(t, admin);
    expect(errorCode(await api(plain, 'GET', '/api/v1/tenant'))).toBe('permission_denied');
    expect(errorCode(await api(plain, 'PATCH', '/api/v1/tenant', { slug: 'hijacked' }))).toBe('permission_denied');
    expect((await api(null, 'PATCH', '/api/v1/tenant', { slug: 'hijacked' })).status).toBe(401);
    expect((await api<Tenant>(admin, 'GET', '/api/v1/tenant')).body.slug).toBe('guarded-slug');

    // idp.manage alone is not enough: the tenant-settings rule also wants a tenant administrator.
    const email = `manager-${newId().slice(-8)}@example.com`;
    const userId = await createPlainUser(t, admin, { email, password: 'slug manager pw 42', withRole: false });
    await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      const roleId = newId();
      await tx.insertInto('roles').values({ account_id: admin.accountId, id: roleId, name: `IdP managers ${roleId}`, permissions: ['idp.view', 'idp.manage'] }).execute();
      await tx.insertInto('role_assignments').values({ tenant_id: admin.tenantId, id: newId(), account_id: admin.accountId, role_id: roleId, user_id: userId }).execute();
    });
    const manager = await loginOverHttp(t, { email, password: 'slug manager pw 42', tenantId: admin.tenantId });
    expect((await api<Tenant>(manager, 'GET', '/api/v1/tenant')).status).toBe(200);
    const refused = await api(manager, 'PATCH', '/api/v1/tenant', { slug: 'hijacked-by-manager' });
    expect(refused.status).toBe(403);
    expect(errorCode(refused)).toBe('identity.tenant_admin_required');
    expect((await api<Tenant>(admin, 'GET', '/api/v1/tenant')).body.slug).toBe('guarded-slug');
  });

  // Two tenants claim one free slug at the same moment: the unique index decides, the loser gets 409 and keeps its slug.
  it.skipIf(engine !== 'postgres')('two tenants racing for one slug: exactly one wins, the other is refused with tenants.slug_taken', async () => {
    for (let round = 0; round < 3; round++) {
      const a = await loginAsAdmin(t, { tenantName: `Racer A ${round}` });
      const b = await loginAsAdmin(t, { tenantName: `Racer B ${round}` });
      const slug = `contested-${round}-${newId().slice(-6)}`;
      const answers = await Promise.all([a, b].map((who) => api(who, 'PATCH', '/api/v1/tenant', { slug })));
      expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
      expect(errorCode(answers.find((r) => r.status === 409)!)).toBe('tenants.slug_taken');
      const owner = (await lookup(slug)).body.tenantId;
      expect([a.tenantId, b.tenantId]).toContain(owner);
      const loser = owner === a.tenantId ? b : a;
      expect((await api<Tenant>(loser, 'GET', '/api/v1/tenant')).body.slug).not.toBe(slug);
    }
  });
});
