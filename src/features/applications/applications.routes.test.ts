import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginAsPlainUser } from '../../../test/support/login.js';
import type { Application } from './applications.service.js';

type Created = Application & { clientSecret: string | null };

describe.each(engines())('applications over HTTP [%s]', (engine) => {
  let t: TestApp;
  let a: LoggedIn;
  let b: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    a = await loginAsAdmin(t, { tenantName: 'Acme' });
    b = await loginAsAdmin(t, { tenantName: 'Globex' });
  });
  afterAll(async () => {
    await t?.close();
  });

  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);
  const create = (who: LoggedIn, body: Record<string, unknown>) => api<Created>(who, 'POST', '/api/v1/applications', body);
  const rows = (tenantId: string) => t.app.db.ownerWork((tx) => tx.selectFrom('applications').select(['id', 'secret_hash', 'redirect_uris']).where('tenant_id', '=', tenantId).execute());
  const auditOf = (tenantId: string, action: string) =>
    t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'actor_id', 'target_id', 'details']).where('tenant_id', '=', tenantId).where('action', '=', action).orderBy('seq').execute());
  const clientCredentials = (clientId: string, secret: string) =>
    fetch(`${t.url}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` }, body: 'grant_type=client_credentials' });

  it('registers a web app: the client secret is shown once and only its hash is stored; audited', async () => {
    const res = await create(a, { name: 'Billing', type: 'web', redirectUris: ['https://billing.example/cb'] });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const app = res.body;
    expect(app).toMatchObject({ name: 'Billing', type: 'web', firstParty: true, tokenEndpointAuthMethod: 'client_secret_basic', accountId: a.accountId, scopes: ['openid', 'email', 'profile', 'offline_access'] });
    expect(app.clientId).toBe(`tc1.${a.tenantId}.${app.id}`);
    expect(app.clientSecret).toMatch(/^tcs1\.[A-Za-z0-9_-]{43}$/);
    const stored = (await rows(a.tenantId)).find((r) => r.id === app.id)!;
    expect(Buffer.from(stored.secret_hash!).length).toBe(32);
    expect(Buffer.from(stored.secret_hash!).toString('utf8')).not.toContain(app.clientSecret!.slice(5));
    const read = await api<Record<string, unknown>>(a, 'GET', `/api/v1/applications/${app.id}`);
    expect(read.status).toBe(200);
    expect(read.body).not.toHaveProperty('clientSecret');
    const [event] = await auditOf(a.tenantId, 'application.created');
    expect(event).toMatchObject({ actor_id: a.userId, target_id: app.id });
    expect(JSON.stringify(event!.details)).not.toContain(app.clientSecret!);
  });

  it('an SPA or native app is a public client: no secret, no authentication method of its own', async () => {
    const spa = await create(a, { name: 'SPA', type: 'spa', redirectUris: ['https://spa.example/cb'], allowedOrigins: ['https://spa.example'] });
    expect(spa.status).toBe(201);
    expect(spa.body).toMatchObject({ tokenEndpointAuthMethod: 'none', clientSecret: null, allowedOrigins: ['https://spa.example'] });
    const native = await create(a, { name: 'Desktop', type: 'native', redirectUris: ['com.example.desktop:/callback', 'http://127.0.0.1/callback'] });
    expect(native.status, JSON.stringify(native.body)).toBe(201);
    const refused = await create(a, { name: 'SPA', type: 'spa', redirectUris: ['https://spa.example/cb'], tokenEndpointAuthMethod: 'client_secret_basic' });
    expect(errorCode(refused)).toBe('applications.invalid_config');
  });

  it.each([
    ['a fragment', 'https://app.example/cb#x', 'applications.invalid_redirect_uri'],
    ['plain http off loopback', 'http://app.example/cb', 'applications.invalid_redirect_uri'],
    ['a relative URI', '/cb', 'applications.invalid_redirect_uri'],
    ['credentials in the URI', 'https://user:pass@app.example/cb', 'applications.invalid_redirect_uri'],
    ['a javascript: URI', 'javascript:alert(1)', 'applications.invalid_redirect_uri'],
    ['a private-use scheme on a web app', 'com.example.app:/cb', 'applications.invalid_redirect_uri'],
    ['whitespace', 'https://app.example/c b', 'applications.invalid_redirect_uri'],
    ['a wildcard host', 'https://*.app.example/cb', 'applications.invalid_redirect_uri'],
  ])('refuses a redirect URI with %s, and registers nothing', async (_label, uri, code) => {
    const before = (await rows(a.tenantId)).length;
    const res = await create(a, { name: 'Bad', type: 'web', redirectUris: [uri] });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe(code);
    expect((await rows(a.tenantId)).length).toBe(before);
  });

  it.each([['a path', 'https://spa.example/app'], ['plain http off loopback', 'http://spa.example'], ['a wildcard', 'https://*.example.com'], ['a trailing slash', 'https://spa.example/']])('refuses an allowed origin with %s', async (_label, origin) => {
    const res = await create(a, { name: 'Bad', type: 'spa', redirectUris: ['https://spa.example/cb'], allowedOrigins: [origin] });
    expect(errorCode(res)).toBe('applications.invalid_origin');
  });

  it.each([
    ['plain http', 'http://api.example/'],
    ['a fragment', 'https://api.example/#x'],
    ['a query', 'https://api.example/?v=1'],
    ['credentials', 'https://u:p@api.example/'],
    ['a relative URI', '/api'],
    ["Tessera's own namespace", 'urn:tessera:client:x'],
    ['a wildcard host', 'https://*.example.com/'],
  ])('refuses an API identifier (RFC 8707 resource) with %s, on create and on update, and changes nothing', async (_label, resource) => {
    const before = (await rows(a.tenantId)).length;
    expect(errorCode(await create(a, { name: 'Bad', type: 'web', redirectUris: ['https://w.example/cb'], resources: [resource] }))).toBe('applications.invalid_resource');
    expect((await rows(a.tenantId)).length).toBe(before);
    const ok = await create(a, { name: 'Good', type: 'machine', resources: ['https://api.example/', 'urn:example:reports'] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(ok.body.resources).toEqual(['https://api.example/', 'urn:example:reports']);
    const patched = await api(a, 'PATCH', `/api/v1/applications/${ok.body.id}`, { resources: ['https://api.example/', resource] });
    expect(errorCode(patched)).toBe('applications.invalid_resource');
    expect((await api<Created>(a, 'GET', `/api/v1/applications/${ok.body.id}`)).body.resources).toEqual(['https://api.example/', 'urn:example:reports']);
  });

  it('settings must fit the type: a machine app has no redirect URIs nor user scopes; private_key_jwt needs public keys only', async () => {
    expect(errorCode(await create(a, { name: 'M', type: 'machine', redirectUris: ['https://m.example/cb'] }))).toBe('applications.invalid_config');
    expect(errorCode(await create(a, { name: 'M', type: 'machine', scopes: ['openid'] }))).toBe('applications.invalid_config');
    expect(errorCode(await create(a, { name: 'W', type: 'web', redirectUris: [] }))).toBe('applications.invalid_config');
    expect(errorCode(await create(a, { name: 'W', type: 'web', redirectUris: ['https://w.example/cb'], scopes: ['email'] }))).toBe('applications.invalid_config');
    expect(errorCode(await create(a, { name: 'W', type: 'web', redirectUris: ['https://w.example/cb'], tokenEndpointAuthMethod: 'private_key_jwt' }))).toBe('applications.invalid_config');
    const privateKey = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'secret' };
    expect(errorCode(await create(a, { name: 'W', type: 'web', redirectUris: ['https://w.example/cb'], tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [privateKey] } }))).toBe('invalid_request');
    const pkj = await create(a, { name: 'W', type: 'web', redirectUris: ['https://w.example/cb'], tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] } });
    expect(pkj.status, JSON.stringify(pkj.body)).toBe(201);
    expect(pkj.body.clientSecret).toBeNull();
  });

  it('needs applications.manage in the account', async () => {
    const plain = await loginAsPlainUser(t, a);
    const res = await create(plain, { name: 'Nope', type: 'web', redirectUris: ['https://n.example/cb'] });
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('permission_denied');
    expect(errorCode(await api(plain, 'GET', '/api/v1/applications'))).toBe('permission_denied');
  });

  it("another tenant's administrator neither sees nor changes an application (applications.not_found)", async () => {
    const app = (await create(a, { name: 'Private', type: 'web', redirectUris: ['https://p.example/cb'] })).body;
    expect((await api<{ items: Application[] }>(b, 'GET', '/api/v1/applications')).body.items.map((x) => x.id)).not.toContain(app.id);
    for (const [method, path, body] of [
      ['GET', `/api/v1/applications/${app.id}`, undefined],
      ['PATCH', `/api/v1/applications/${app.id}`, { name: 'Taken' }],
      ['POST', `/api/v1/applications/${app.id}/secret`, undefined],
      ['DELETE', `/api/v1/applications/${app.id}`, undefined],
    ] as const) {
      const res = await api(b, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(errorCode(res)).toBe('applications.not_found');
    }
    expect((await api<Application>(a, 'GET', `/api/v1/applications/${app.id}`)).body.name).toBe('Private');
  });

  it('changes settings with the same rules (a refused change changes nothing); audited', async () => {
    const app = (await create(a, { name: 'Editable', type: 'web', redirectUris: ['https://e.example/cb'] })).body;
    const changed = await api<Application>(a, 'PATCH', `/api/v1/applications/${app.id}`, { name: 'Edited', redirectUris: ['https://e.example/cb', 'https://e.example/cb2'], firstParty: false });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body).toMatchObject({ name: 'Edited', firstParty: false, redirectUris: ['https://e.example/cb', 'https://e.example/cb2'] });
    const refused = await api(a, 'PATCH', `/api/v1/applications/${app.id}`, { name: 'Again', redirectUris: ['https://e.example/cb#frag'] });
    expect(errorCode(refused)).toBe('applications.invalid_redirect_uri');
    expect((await api<Application>(a, 'GET', `/api/v1/applications/${app.id}`)).body.name).toBe('Edited');
    expect((await auditOf(a.tenantId, 'application.updated')).at(-1)).toMatchObject({ target_id: app.id, details: { changed: ['firstParty', 'name', 'redirectUris'] } });
  });

  it('a new secret replaces the old one at once; a deleted application stops authenticating at once', async () => {
    const app = (await create(a, { name: 'Worker', type: 'machine' })).body;
    expect((await clientCredentials(app.clientId, app.clientSecret!)).status).toBe(200);
    const rotated = await api<Created>(a, 'POST', `/api/v1/applications/${app.id}/secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.clientSecret).not.toBe(app.clientSecret);
    expect((await clientCredentials(app.clientId, app.clientSecret!)).status).toBe(401);
    expect((await clientCredentials(app.clientId, rotated.body.clientSecret!)).status).toBe(200);
    expect((await auditOf(a.tenantId, 'application.secret_rotated')).map((e) => e.target_id)).toContain(app.id);
    expect((await api(a, 'DELETE', `/api/v1/applications/${app.id}`)).status).toBe(204);
    expect((await clientCredentials(app.clientId, rotated.body.clientSecret!)).status).toBe(401);
    expect((await auditOf(a.tenantId, 'application.deleted')).map((e) => e.target_id)).toContain(app.id);
    const spa = (await create(a, { name: 'SPA', type: 'spa', redirectUris: ['https://spa.example/cb'] })).body;
    expect(errorCode(await api(a, 'POST', `/api/v1/applications/${spa.id}/secret`))).toBe('applications.invalid_config');
  });

  it('a client id naming another tenant finds nothing there (the tenant comes from the client id, row-level security holds)', async () => {
    const app = (await create(a, { name: 'Mine', type: 'machine' })).body;
    const forged = app.clientId.replace(a.tenantId, b.tenantId);
    expect((await clientCredentials(forged, app.clientSecret!)).status).toBe(401);
    expect(await t.app.services.applications.findClient(forged)).toBeUndefined();
    expect((await t.app.services.applications.findClient(app.clientId))?.tenantId).toBe(a.tenantId);
  });
});
