import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../../../test/support/login.js';
import { startOp, type TestOp } from '../../../test/support/oidc-provider.js';
import { newId } from '../../kernel/ids.js';

const PASSWORD = 'quartz meadow signal 42';
const fixture = (name: string) => readFileSync(new URL(`../../../test/fixtures/sso/${name}`, import.meta.url), 'utf8');

interface Connection {
  id: string;
  name: string;
  enabled: boolean;
  domains: string[];
  defaultRoleId: string | null;
  hasClientSecret: boolean;
  redirectUri: string | null;
  oidc: { issuer: string; clientId: string; scopes: string; caBundlePem: string | null; discovery: { fetchedAt: string; tokenEndpoint: string | null; jwksUri: string | null; issParameterSupported: boolean } | null } | null;
  [key: string]: unknown;
}

describe.each(engines())('SSO connections over HTTP [%s]', (engine) => {
  let t: TestApp;
  let op: TestOp;
  let tlsOp: TestOp;
  let admin: LoggedIn;
  let other: LoggedIn;
  let roleId: string;
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  beforeAll(async () => {
    t = await startTestApp(engine, { env: { TESSERA_SSO_ALLOW_LOOPBACK: 'true' } });
    op = await startOp();
    tlsOp = await startOp({ tls: { key: fixture('op.key'), cert: fixture('op.pem') } });
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    other = await loginAsAdmin(t, { tenantName: 'Globex' });
    const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'SSO users', permissions: ['idp.view'] });
    expect(role.status, JSON.stringify(role.body)).toBe(201);
    roleId = role.body.id;
  });
  afterAll(async () => {
    await op?.close();
    await tlsOp?.close();
    await t?.close();
  });

  const oidcBody = (overrides: Record<string, unknown> = {}, oidc: Record<string, unknown> = {}) => ({
    type: 'oidc',
    name: `Okta ${newId().slice(-8)}`,
    domains: ['Acme.TEST.', 'acme.test', 'bücher.example'],
    defaultRoleId: roleId,
    rules: [{ claim: 'groups', operator: 'regex', value: '^eng-.*$', roleId }],
    ...overrides,
    oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret, ...oidc },
  });

  async function create(overrides: Record<string, unknown> = {}, oidc: Record<string, unknown> = {}): Promise<Connection> {
    const res = await api<Connection>(admin, 'POST', '/api/v1/sso/connections', oidcBody(overrides, oidc));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  async function auditOf(tenantId: string, targetId: string) {
    return t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'details']).where('tenant_id', '=', tenantId).where('target_id', '=', targetId).orderBy('seq').execute());
  }

  async function userWith(permissions: string[], isTenantAdmin: boolean): Promise<LoggedIn> {
    const email = `s-${newId().slice(-10)}@example.com`;
    const user = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email, password: PASSWORD, isTenantAdmin });
    expect(user.status, JSON.stringify(user.body)).toBe(201);
    const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `Role ${newId().slice(-10)}`, permissions });
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: role.body.id, userId: user.body.id })).status).toBe(201);
    return { ...(await loginOverHttp(t, { email, password: PASSWORD, tenantId: admin.tenantId })), email, password: PASSWORD };
  }

  it('creates, reads, lists, updates, enables, disables and deletes, each change audited without the secret', async () => {
    const c = await create();
    expect(c).toMatchObject({ enabled: false, hasClientSecret: true, defaultRoleId: roleId, domains: ['acme.test', 'xn--bcher-kva.example'] });
    expect(c.oidc).toMatchObject({ issuer: op.issuer, clientId: op.clientId, scopes: 'openid email profile', caBundlePem: null });
    expect(c.oidc!.discovery).toMatchObject({ tokenEndpoint: `${op.issuer}/token`, jwksUri: `${op.issuer}/jwks`, issParameterSupported: true });
    expect(JSON.stringify(c)).not.toContain(op.clientSecret);
    // The redirect URI to register at the IdP, exactly (OpenID Connect Core §3.1.2.1): PUBLIC_URL's callback.
    expect(c.redirectUri).toBe(`${t.config.publicUrl}/auth/sso/oidc/callback`);

    expect((await api<Connection>(admin, 'GET', `/api/v1/sso/connections/${c.id}`)).body).toEqual(c);
    const list = await api<{ items: Connection[] }>(admin, 'GET', '/api/v1/sso/connections');
    expect(list.body.items.map((i) => i.id)).toContain(c.id);
    expect(JSON.stringify(list.body)).not.toContain(op.clientSecret);

    t.clock.advance(1000);
    const renamed = await api<Connection>(admin, 'PATCH', `/api/v1/sso/connections/${c.id}`, { name: 'Okta (prod)', domains: ['sub.acme.test'], oidc: { scopes: 'openid email profile groups' } });
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Okta (prod)', domains: ['sub.acme.test'], hasClientSecret: true });
    expect(renamed.body.oidc!.scopes).toBe('openid email profile groups');

    expect((await api<Connection>(admin, 'POST', `/api/v1/sso/connections/${c.id}/enable`)).body.enabled).toBe(true);
    expect((await api<Connection>(admin, 'POST', `/api/v1/sso/connections/${c.id}/disable`)).body.enabled).toBe(false);
    expect((await api(admin, 'DELETE', `/api/v1/sso/connections/${c.id}`)).status).toBe(204);
    expect(errorCode(await api(admin, 'GET', `/api/v1/sso/connections/${c.id}`))).toBe('sso.connection_not_found');

    const events = await auditOf(admin.tenantId, c.id);
    expect(events.map((e) => e.action)).toEqual(['sso.connection.created', 'sso.connection.updated', 'sso.connection.enabled', 'sso.connection.disabled', 'sso.connection.deleted']);
    const updated = events[1]!.details as { before: { name: string }; after: { name: string } };
    expect([updated.before.name, updated.after.name]).toEqual([c.name, 'Okta (prod)']);
    expect(JSON.stringify(events)).not.toContain(op.clientSecret);
  });

  it('stores the client secret encrypted with the tenant data key, and rotates it', async () => {
    const c = await create();
    const row = () => t.app.db.ownerWork((tx) => tx.selectFrom('sso_connections').select(['client_secret_enc']).where('id', '=', c.id).executeTakeFirstOrThrow());
    const before = Buffer.from((await row()).client_secret_enc!);
    expect(before.toString('latin1')).not.toContain(op.clientSecret);
    expect(await t.app.db.tenantWork(admin.tenantId, (tx) => t.app.services.sso.clientSecret(tx, admin.tenantId, { id: c.id, client_secret_enc: before }))).toBe(op.clientSecret);

    const rotated = await api<Connection>(admin, 'POST', `/api/v1/sso/connections/${c.id}/secret`, { clientSecret: 'the-new-secret-of-at-least-32-bytes!' });
    expect(rotated.status).toBe(200);
    expect(JSON.stringify(rotated.body)).not.toContain('the-new-secret');
    const after = Buffer.from((await row()).client_secret_enc!);
    expect(after.equals(before)).toBe(false);
    expect(await t.app.db.tenantWork(admin.tenantId, (tx) => t.app.services.sso.clientSecret(tx, admin.tenantId, { id: c.id, client_secret_enc: after }))).toBe('the-new-secret-of-at-least-32-bytes!');
    expect((await auditOf(admin.tenantId, c.id)).map((e) => e.action)).toContain('sso.connection.secret_rotated');
  });

  it('refreshes discovery, and refuses an issuer whose document names another issuer (sso_config)', async () => {
    const c = await create();
    t.clock.advance(60_000);
    const refreshed = await api<Connection>(admin, 'POST', `/api/v1/sso/connections/${c.id}/discovery/refresh`);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.oidc!.discovery!.fetchedAt).not.toBe(c.oidc!.discovery!.fetchedAt);
    // A refresh changes what sign-in trusts: audited with the discovery summary before and after.
    const audited = (await auditOf(admin.tenantId, c.id)).filter((e) => e.action === 'sso.connection.discovery_refreshed');
    expect(audited).toHaveLength(1);
    expect(audited[0]!.details).toMatchObject({ before: { fetchedAt: c.oidc!.discovery!.fetchedAt }, after: { fetchedAt: refreshed.body.oidc!.discovery!.fetchedAt, tokenEndpoint: `${op.issuer}/token` } });

    op.tamperNext('/.well-known/openid-configuration', (doc) => ({ ...doc, issuer: 'https://evil.example' }));
    const mismatch = await api<{ error: { message: string } }>(admin, 'POST', `/api/v1/sso/connections/${c.id}/discovery/refresh`);
    expect(errorCode(mismatch)).toBe('sso_config');
    expect(mismatch.body.error.message).toContain('issuer');
    // A refused refresh changes nothing and audits no refresh.
    expect((await api<Connection>(admin, 'GET', `/api/v1/sso/connections/${c.id}`)).body.oidc!.discovery!.fetchedAt).toBe(refreshed.body.oidc!.discovery!.fetchedAt);
    expect((await auditOf(admin.tenantId, c.id)).filter((e) => e.action === 'sso.connection.discovery_refreshed')).toHaveLength(1);

    // A trailing slash is another issuer: refused on create, and nothing is stored.
    const slash = await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({ name: 'Slash' }, { issuer: `${op.issuer}/` }));
    expect(errorCode(slash)).toBe('sso_config');
    const names = (await api<{ items: Connection[] }>(admin, 'GET', '/api/v1/sso/connections')).body.items.map((i) => i.name);
    expect(names).not.toContain('Slash');
  });

  it('reaches an https IdP through the connection CA bundle only', async () => {
    const without = await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({}, { issuer: tlsOp.issuer }));
    expect(errorCode(without)).toBe('sso_config');
    const c = await create({}, { issuer: tlsOp.issuer, caBundlePem: fixture('ca.pem') });
    expect(c.oidc!.discovery!.tokenEndpoint).toBe(`${tlsOp.issuer}/token`);
    expect(c.oidc!.caBundlePem).toContain('BEGIN CERTIFICATE');
    expect(errorCode(await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({}, { issuer: tlsOp.issuer, caBundlePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' })))).toBe('sso_config');
  });

  it('refuses unsafe settings: http issuer off loopback, private address, scopes without openid, Account Administrator, bad regex', async () => {
    expect(errorCode(await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({}, { issuer: 'http://idp.example.com' })))).toBe('sso_config');
    const privateIssuer = await api<{ error: { message: string } }>(admin, 'POST', '/api/v1/sso/connections', oidcBody({}, { issuer: 'https://10.1.2.3' }));
    expect(errorCode(privateIssuer)).toBe('sso_config');
    expect(privateIssuer.body.error.message).toContain('private or reserved');
    expect(errorCode(await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({}, { scopes: 'email profile' })))).toBe('sso_config');
    expect(errorCode(await api(admin, 'POST', '/api/v1/sso/connections', { ...oidcBody(), type: 'saml', oidc: undefined }))).toBe('invalid_request'); // a SAML connection needs its `saml` settings (saml-signin.test.ts)

    const accountAdmin = await t.app.db.ownerWork((tx) => tx.selectFrom('roles').select('id').where('account_id', '=', admin.accountId).where('system_key', '=', 'account_admin').executeTakeFirstOrThrow());
    expect(errorCode(await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({ defaultRoleId: accountAdmin.id })))).toBe('sso_role_forbidden');
    expect(errorCode(await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({ rules: [{ claim: 'groups', operator: 'equals', value: 'x', roleId: accountAdmin.id }] })))).toBe('sso_role_forbidden');
    const c = await create();
    expect(errorCode(await api(admin, 'PATCH', `/api/v1/sso/connections/${c.id}`, { defaultRoleId: accountAdmin.id }))).toBe('sso_role_forbidden');

    expect(errorCode(await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({ rules: [{ claim: 'groups', operator: 'regex', value: '(unclosed', roleId }] })))).toBe('sso.invalid_rule');
    // RE2 syntax (linear-time matching): JavaScript's backreferences and lookaround are refused.
    expect(errorCode(await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({ rules: [{ claim: 'groups', operator: 'regex', value: '(a)\\1', roleId }] })))).toBe('sso.invalid_rule');
    expect(errorCode(await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({ rules: [{ claim: 'groups', operator: 'regex', value: '^(?!guest).*$', roleId }] })))).toBe('sso.invalid_rule');
    expect(errorCode(await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({ rules: [{ claim: 'groups', operator: 'regex', value: 'a'.repeat(201), roleId }] })))).toBe('invalid_request');
    expect(errorCode(await api(admin, 'POST', '/api/v1/sso/connections', oidcBody({ defaultRoleId: newId() })))).toBe('sso.role_not_found');
  });

  it('needs sso.view to read, sso.manage and a tenant administrator to change', async () => {
    const c = await create();
    const nobody = await userWith(['idp.view'], true);
    expect(errorCode(await api(nobody, 'GET', '/api/v1/sso/connections'))).toBe('permission_denied');
    const viewer = await userWith(['sso.view'], false);
    expect((await api(viewer, 'GET', `/api/v1/sso/connections/${c.id}`)).status).toBe(200);
    expect(errorCode(await api(viewer, 'DELETE', `/api/v1/sso/connections/${c.id}`))).toBe('permission_denied');
    const manager = await userWith(['sso.view', 'sso.manage'], false);
    expect(errorCode(await api(manager, 'POST', `/api/v1/sso/connections/${c.id}/enable`))).toBe('identity.tenant_admin_required');
    expect(errorCode(await api(manager, 'POST', '/api/v1/sso/connections', oidcBody()))).toBe('identity.tenant_admin_required');
  });

  // The grant rule (rbac): a connection hands its roles to everyone who signs in through it, so whoever
  // configures it must hold those roles' permissions; the refusal changes nothing and is audited.
  it('refuses default and rule roles beyond the administrator’s own access (rbac.grant_exceeds_own_access)', async () => {
    const manager = await userWith(['sso.view', 'sso.manage'], true);
    const before = await api<{ items: unknown[] }>(admin, 'GET', '/api/v1/sso/connections');
    const refused = await api(manager, 'POST', '/api/v1/sso/connections', oidcBody({ name: 'Beyond', rules: [] }));
    expect(errorCode(refused)).toBe('rbac.grant_exceeds_own_access');
    const viaRule = await api(manager, 'POST', '/api/v1/sso/connections', oidcBody({ name: 'Beyond rule', defaultRoleId: null }));
    expect(errorCode(viaRule)).toBe('rbac.grant_exceeds_own_access');
    expect((await api<{ items: unknown[] }>(admin, 'GET', '/api/v1/sso/connections')).body.items).toHaveLength(before.body.items.length);
    const events = await t.app.db.ownerWork((tx) =>
      tx.selectFrom('audit_events').select(['action', 'details']).where('tenant_id', '=', admin.tenantId).where('action', '=', 'access.grant.refused').execute(),
    );
    expect(events.filter((e) => JSON.stringify(e.details).includes('sso.connection.roles'))).toHaveLength(2);
    // Control: holding the role's permissions, the same administrator may configure it.
    const holder = await userWith(['sso.view', 'sso.manage', 'idp.view'], true);
    const allowed = await api(holder, 'POST', '/api/v1/sso/connections', oidcBody({ name: 'Within' }));
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(201);
  });

  it("another tenant's connection is not found and stays unchanged", async () => {
    const c = await create();
    for (const [method, path, body] of [
      ['GET', `/api/v1/sso/connections/${c.id}`],
      ['PATCH', `/api/v1/sso/connections/${c.id}`, { name: 'Hijacked' }],
      ['POST', `/api/v1/sso/connections/${c.id}/enable`],
      ['POST', `/api/v1/sso/connections/${c.id}/secret`, { clientSecret: 'hijacked' }],
      ['POST', `/api/v1/sso/connections/${c.id}/discovery/refresh`],
      ['DELETE', `/api/v1/sso/connections/${c.id}`],
    ] as const) {
      const res = await api(other, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(errorCode(res)).toBe('sso.connection_not_found');
    }
    expect((await api<{ items: Connection[] }>(other, 'GET', '/api/v1/sso/connections')).body.items).toEqual([]);
    expect((await api<Connection>(admin, 'GET', `/api/v1/sso/connections/${c.id}`)).body).toEqual(c);
  });
});
