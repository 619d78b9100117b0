import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, requestJson } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin } from '../../../test/support/login.js';
import { startOp, type TestOp } from '../../../test/support/oidc-provider.js';
import { createUserAgent, freePort } from '../../../test/support/user-agent.js';
import { newId } from '../../kernel/ids.js';

/**
 * A directory linked to an SSO connection: a user the IdP provisioned over SCIM signs in through the connection
 * as that same user (JIT finds it by email and links the subject, never a second user), and a SCIM
 * deactivation refuses the next SSO sign-in. The IdP is the real `oidc-provider`.
 */
describe.each(engines())('SCIM-provisioned users signing in through the linked SSO connection [%s]', (engine) => {
  let t: TestApp;
  let op: TestOp;
  let admin: LoggedIn;
  let connectionId: string;
  let directory: { id: string };
  let token: string;
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  beforeAll(async () => {
    const port = await freePort();
    t = await startTestApp(engine, { port, env: { TESSERA_SSO_ALLOW_LOOPBACK: 'true', PUBLIC_URL: `http://127.0.0.1:${port}` } });
    op = await startOp({ redirectUri: `${t.url}/auth/sso/oidc/callback` });
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    await t.app.db.tenantWork(admin.tenantId, (tx) =>
      tx.insertInto('domains').values({ tenant_id: admin.tenantId, id: newId(), domain: 'acme.test', token: 'tessera-verification-token-1', status: 'verified', verified_at: new Date(), verified_by: 'operator', created_at: new Date() }).execute(),
    );
    const connection = await api<{ id: string }>(admin, 'POST', '/api/v1/sso/connections', {
      type: 'oidc', name: 'Okta', enabled: true, domains: ['acme.test'], rules: [], oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret },
    });
    expect(connection.status, JSON.stringify(connection.body)).toBe(201);
    connectionId = connection.body.id;
    const d = await api<{ id: string; ssoConnectionId: string }>(admin, 'POST', '/api/v1/scim/directories', { name: 'Okta', ssoConnectionId: connectionId });
    expect(d.body.ssoConnectionId).toBe(connectionId);
    directory = d.body;
    token = (await api<{ token: string }>(admin, 'POST', `/api/v1/scim/directories/${directory.id}/tokens`)).body.token;
  });
  afterAll(async () => {
    await op?.close();
    await t?.close();
  });

  async function signIn(sub: string) {
    t.clock.set(new Date());
    const ua = createUserAgent();
    op.queueLogin(sub, {});
    const { chain } = await ua.navigate(`${t.url}/auth/sso/start?connection=${connectionId}&returnTo=${encodeURIComponent(`${t.url}/app`)}`);
    const error = new URL(chain.at(-1)!).searchParams.get('error');
    if (error) return { error, body: null };
    const res = await ua.request(`${t.url}/auth/sso/result`, { method: 'POST' });
    return { error: null, body: (await res.json()) as { userId: string; status: string } };
  }

  it('JIT links the provisioned user, never a duplicate; a SCIM deactivation refuses the next sign-in', async () => {
    const scim = (method: string, path: string, body?: unknown) => requestJson<{ id: string }>(t.url, method, `/scim/v2/${directory.id}${path}`, { token, ...(body === undefined ? {} : { body }) });
    const created = await scim('POST', '/Users', { userName: 'bob@acme.test', name: { givenName: 'Bob', familyName: 'Builder' }, emails: [{ value: 'Bob@acme.test', primary: true }] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'Members', permissions: ['idp.view'] });
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: role.body.id, userId: created.body.id })).status).toBe(201);

    op.addAccount('u-bob', { email: 'bob@acme.test', email_verified: true, name: 'Bob B' });
    const first = await signIn('u-bob');
    expect(first.error).toBeNull();
    expect(first.body).toMatchObject({ status: 'authenticated', userId: created.body.id });
    const sameEmail = await t.app.db.ownerWork((tx) => tx.selectFrom('users').select('id').where('tenant_id', '=', admin.tenantId).where((eb) => eb(eb.fn('lower', ['email']), '=', 'bob@acme.test')).execute());
    expect(sameEmail.map((u) => u.id)).toEqual([created.body.id]);

    expect((await scim('PATCH', `/Users/${created.body.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] })).status).toBe(200);
    // De-provisioned by SCIM: the IdP still signs Bob in, Tessera refuses him (sso_user_inactive).
    const refused = await signIn('u-bob');
    expect(refused).toEqual({ error: 'sso_user_inactive', body: null });
  });
});
