import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { startDnsServer, type TestDnsServer } from '../../../test/support/dns-server.js';
import { callApi, errorCode, requestJson } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../../../test/support/login.js';
import { startOp, type TestOp } from '../../../test/support/oidc-provider.js';
import { IDP_SSO_URL, idpMetadata, readAuthnRequest, signedResponse } from '../../../test/support/saml-idp.js';
import { createUserAgent, freePort } from '../../../test/support/user-agent.js';
import { newId } from '../../kernel/ids.js';

type Body = Record<string, unknown>;
interface Created { link: { id: string; state: string; intent: string }; url: string }
interface Domain { id: string; domain: string; status: string; verification: { name: string; value: string } }
const PASSWORD = 'granite lantern orbit 42';

/**
 * Setup links over real HTTP (README "Setup links"): a tenant administrator creates a link; a person holding only
 * the link connects a real IdP (the `oidc-provider` OP, the samlify SAML IdP) for SSO and SCIM, tests the sign-in,
 * and finishes; a user then signs in through the connection. Every attack is answered with its stable code and
 * changes nothing: an expired, revoked or completed link; the link's token on the general API; another tenant's
 * ids; intent escalation; a second browser; a replayed step; roles beyond the creator's grants.
 */
describe.each(engines())('setup links [%s]', (engine) => {
  let t: TestApp;
  let op: TestOp;
  let dns: TestDnsServer;
  let a: LoggedIn;
  let b: LoggedIn;
  const api = <T = Body>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  beforeAll(async () => {
    dns = await startDnsServer();
    const port = await freePort();
    t = await startTestApp(engine, { port, env: { TESSERA_SSO_ALLOW_LOOPBACK: 'true', PUBLIC_URL: `http://127.0.0.1:${port}`, TESSERA_DNS_SERVERS: dns.server, TESSERA_DNS_TIMEOUT_MS: '1000', TESSERA_ACCESS_TOKEN_TTL: '3600' } });
    op = await startOp({ redirectUri: `${t.url}/auth/sso/oidc/callback` });
    a = await loginAsAdmin(t, { tenantName: 'Acme' });
    b = await loginAsAdmin(t, { tenantName: 'Globex' });
  });
  afterAll(async () => {
    await op?.close();
    await t?.close();
    await dns?.close();
  });

  const unique = (label: string) => `${label}-${newId().slice(-8)}.example`;

  async function createLink(who: { accessToken: string }, body: Body = {}): Promise<{ id: string; token: string; url: string }> {
    const res = await api<Created>(who, 'POST', '/api/v1/setup-links', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const url = new URL(res.body.url);
    expect(url.pathname).toBe('/setup');
    return { id: res.body.link.id, token: url.hash.slice(1), url: res.body.url };
  }

  /** The IT admin's browser: the link's token on every request, and the claim cookie the first answer sets. */
  function holder(token: string) {
    const ua = createUserAgent();
    return {
      ua,
      async call<T = Body>(method: string, path: string, body?: unknown) {
        const res = await ua.request(`${t.url}/api/v1/setup${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
      },
    };
  }
  const code = (r: { body: unknown }) => (r.body as { error?: { code?: string } } | null)?.error?.code;

  async function audit(tenantId: string, action: string) {
    return t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['actor_type', 'actor_id', 'actor_ip', 'target_id', 'details', 'outcome']).where('tenant_id', '=', tenantId).where('action', '=', action).orderBy('seq').execute());
  }
  async function linkRow(tenantId: string, id: string) {
    return t.app.db.ownerWork((tx) => tx.selectFrom('setup_links').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirstOrThrow());
  }
  async function connectionCount(tenantId: string) {
    return (await t.app.db.ownerWork((tx) => tx.selectFrom('sso_connections').select('id').where('tenant_id', '=', tenantId).execute())).length;
  }

  /** Adds and verifies a domain through the link (its TXT record published on the test DNS server). */
  async function verifiedDomain(h: ReturnType<typeof holder>): Promise<Domain> {
    const added = await h.call<Domain>('POST', '/domains', { domain: unique('corp') });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    dns.setTxt(added.body.verification.name, added.body.verification.value);
    const verified = await h.call<Domain>('POST', `/domains/${added.body.id}/verify`);
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    expect(verified.body.status).toBe('verified');
    return verified.body;
  }

  /** The test sign-in: the IT admin opens the start URL and signs in at the OP; the test's outcome. */
  async function oidcTest(h: ReturnType<typeof holder>, sub: string) {
    const started = await h.call<{ url: string; testId: string }>('POST', '/sso/tests', { returnTo: `${t.url}/setup` });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    op.queueLogin(sub, {});
    const { chain } = await createUserAgent().navigate(started.body.url);
    expect(new URL(chain.at(-1)!).searchParams.get('ssoTest')).toBe(started.body.testId);
    return h.call<Body>('GET', `/sso/tests/${started.body.testId}`);
  }

  it('a tenant administrator creates a link; a person with only the link connects OIDC SSO and SCIM, tests, finishes; a user signs in', async () => {
    t.clock.set(new Date());
    const role = await api<{ id: string }>(a, 'POST', '/api/v1/roles', { name: `Engineers ${newId().slice(-6)}`, permissions: ['idp.view'] });
    const link = await createLink(a, { intent: 'all', note: 'Okta admin at Acme' });
    expect((await audit(a.tenantId, 'setup_link.created')).map((e) => e.target_id)).toContain(link.id);

    const it = holder(link.token);
    const state = await it.call<Body & { sso: { values: Body } }>('GET', '');
    expect(state.status, JSON.stringify(state.body)).toBe(200);
    expect(state.headers.get('set-cookie')).toMatch(/tessera_setup_claim=.*HttpOnly.*SameSite=Strict/i);
    expect(state.body).toMatchObject({ tenantName: 'Acme', intent: 'all', note: 'Okta admin at Acme', allowed: { domains: true, sso: true, scim: true }, domains: [], scim: { directory: null, tokenIssued: false } });
    expect(state.body.sso.values).toMatchObject({ oidcRedirectUri: `${t.url}/auth/sso/oidc/callback` });
    const reserved = (state.body.sso.values as { samlEntityId: string }).samlEntityId;

    const domain = await verifiedDomain(it);
    const connection = await it.call<{ id: string; enabled: boolean }>('POST', '/sso/connection', {
      type: 'oidc', name: 'Okta', enabled: true, domains: [domain.domain], rules: [{ claim: 'groups', operator: 'contains', value: 'eng', roleId: role.body.id }],
      oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret, scopes: 'openid email profile groups' },
    });
    expect(connection.status, JSON.stringify(connection.body)).toBe(201);
    // Created disabled (it goes live on completion) under the id reserved with the link (the SP values shown before).
    expect(connection.body.enabled).toBe(false);
    expect(reserved).toContain(connection.body.id);
    expect(code(await it.call('POST', '/complete'))).toBe('setup_link.test_required');

    op.addAccount('it-admin', { email: `it@${domain.domain}`, email_verified: true, name: 'IT Admin', groups: ['eng'] });
    const test = await oidcTest(it, 'it-admin');
    expect(test.body).toMatchObject({ status: 'succeeded', error: null, email: `it@${domain.domain}`, wouldBeProvisioned: true });
    expect(JSON.stringify(test.body.roles)).toContain(role.body.id);
    expect(test.body).not.toHaveProperty('user');

    const directory = await it.call<{ id: string; ssoConnectionId: string; baseUrl: string }>('POST', '/scim/directory', { name: 'Okta' });
    expect(directory.status, JSON.stringify(directory.body)).toBe(201);
    expect(directory.body.ssoConnectionId).toBe(connection.body.id);
    const token = await it.call<{ token: string; baseUrl: string }>('POST', '/scim/token');
    expect(token.status).toBe(201);
    expect(token.body.baseUrl).toBe(directory.body.baseUrl);
    // Replays of a done step change nothing.
    expect(code(await it.call('POST', '/scim/token'))).toBe('setup_link.step_done');
    expect(code(await it.call('POST', '/scim/directory', { name: 'Again' }))).toBe('setup_link.step_done');
    expect(code(await it.call('POST', '/sso/connection', { type: 'oidc', name: 'Again', oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } }))).toBe('setup_link.step_done');

    // The IdP's first SCIM call; the page's "last request received" shows it.
    expect((await it.call<Body>('GET', '')).body.scim).toMatchObject({ tokenIssued: true, lastRequestAt: null });
    const scim = await requestJson(t.url, 'POST', `/scim/v2/${directory.body.id}/Users`, { token: token.body.token, body: { userName: `bob@${domain.domain}`, emails: [{ value: `bob@${domain.domain}`, primary: true }] } });
    expect(scim.status, JSON.stringify(scim.body)).toBe(201);
    expect((await it.call<{ scim: { lastRequestAt: string | null } }>('GET', '')).body.scim.lastRequestAt).not.toBeNull();

    const done = await it.call<{ completedAt: string }>('POST', '/complete', { requireSso: false });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect((await api<{ enabled: boolean }>(a, 'GET', `/api/v1/sso/connections/${connection.body.id}`)).body.enabled).toBe(true);
    expect(code(await it.call('GET', ''))).toBe('setup_link.completed');
    const listed = await api<{ items: Array<{ id: string; state: string; connectionId: string; directoryId: string }> }>(a, 'GET', '/api/v1/setup-links');
    expect(listed.body.items.find((l) => l.id === link.id)).toMatchObject({ state: 'completed', connectionId: connection.body.id, directoryId: directory.body.id });

    // Audited as the link, with the IP of every action; the completion is the tenant administrators' notification.
    for (const action of ['domain.added', 'domain.verified', 'sso.connection.created', 'sso.connection.tested', 'scim.directory.created', 'scim.token.created', 'sso.connection.enabled', 'setup_link.completed']) {
      const events = (await audit(a.tenantId, action)).filter((e) => e.actor_type === 'setup_link' && e.actor_id === link.id);
      expect(events.length, action).toBeGreaterThan(0);
      expect(events.every((e) => e.actor_ip === '127.0.0.1'), action).toBe(true);
    }
    expect((await audit(a.tenantId, 'setup_link.completed')).at(-1)!.details).toMatchObject({ connectionId: connection.body.id, directoryId: directory.body.id, domains: [domain.domain] });

    // A user signs in through the connection the link set up, and gets the role its rule gives.
    op.addAccount('carol', { email: `carol@${domain.domain}`, email_verified: true, name: 'Carol', groups: ['eng'] });
    op.queueLogin('carol', {});
    const ua = createUserAgent();
    const { chain } = await ua.navigate(`${t.url}/auth/sso/start?connection=${connection.body.id}&returnTo=${encodeURIComponent(`${t.url}/app`)}`);
    expect(new URL(chain.at(-1)!).searchParams.get('error')).toBeNull();
    const result = await ua.request(`${t.url}/auth/sso/result`, { method: 'POST' });
    expect(result.status).toBe(200);
    expect(await result.json()).toMatchObject({ status: 'authenticated' });
  });

  it('a SAML run with the test SAML IdP: the SP values shown first are the connection\'s, and the test sign-in succeeds', async () => {
    t.clock.set(new Date());
    const link = await createLink(a, { intent: 'sso' });
    const it = holder(link.token);
    const values = (await it.call<{ sso: { values: { samlEntityId: string; samlAcsUrl: string } } }>('GET', '')).body.sso.values;
    const domain = await verifiedDomain(it);
    const connection = await it.call<{ id: string; saml: { spEntityId: string; acsUrl: string } }>('POST', '/sso/connection', { type: 'saml', name: `SAML ${newId().slice(-6)}`, domains: [domain.domain], saml: { metadataXml: idpMetadata() } });
    expect(connection.status, JSON.stringify(connection.body)).toBe(201);
    expect(connection.body.saml).toMatchObject({ spEntityId: values.samlEntityId, acsUrl: values.samlAcsUrl });
    expect((await fetch(`${t.url}/auth/sso/saml/${connection.body.id}/metadata`)).status).toBe(200);

    const started = await it.call<{ url: string; testId: string }>('POST', '/sso/tests');
    const ua = createUserAgent();
    const res = await ua.request(started.body.url);
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    expect(location.startsWith(`${IDP_SSO_URL}?`)).toBe(true);
    const request = readAuthnRequest(location);
    const response = await signedResponse({ acsUrl: values.samlAcsUrl, spEntityId: values.samlEntityId, requestId: request.id, nameId: `it@${domain.domain}`, attributes: { email: `it@${domain.domain}` } });
    const acs = await ua.request(values.samlAcsUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ SAMLResponse: response }).toString() });
    expect(acs.status).toBe(302);
    const test = await it.call<Body>('GET', `/sso/tests/${started.body.testId}`);
    expect(test.body, JSON.stringify(test.body)).toMatchObject({ status: 'succeeded', email: `it@${domain.domain}` });
    // An `sso` link cannot touch SCIM.
    expect(code(await it.call('POST', '/scim/directory', {}))).toBe('setup_link.intent_forbidden');
    expect((await it.call('POST', '/complete')).status).toBe(200);
  });

  it('the link\'s token is refused on the general API: users, audit events, SSO connections', async () => {
    const link = await createLink(a);
    for (const path of ['/api/v1/users', '/api/v1/audit/events', '/api/v1/sso/connections', '/api/v1/setup-links']) {
      const res = await requestJson(t.url, 'GET', path, { token: link.token });
      expect(res.status, path).toBe(401);
    }
    // And an access token is not a link token.
    const res = await requestJson(t.url, 'GET', '/api/v1/setup', { token: a.accessToken });
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('setup_link.invalid');
  });

  it('an expired link is refused and changes nothing', async () => {
    t.clock.set(new Date());
    const link = await createLink(a, { intent: 'domains', expiresIn: 600 });
    const it = holder(link.token);
    expect((await it.call('GET', '')).status).toBe(200);
    t.clock.set(new Date(Date.now() + 601_000));
    const refused = await it.call('POST', '/domains', { domain: unique('late') });
    expect(refused.status).toBe(410);
    expect(code(refused)).toBe('setup_link.expired');
    expect((await linkRow(a.tenantId, link.id)).domain_ids).toEqual([]);
    expect((await api<{ items: Array<{ id: string; state: string }> }>(a, 'GET', '/api/v1/setup-links')).body.items.find((l) => l.id === link.id)?.state).toBe('expired');
    t.clock.set(new Date());
  });

  it('a revoked link stops at once (setup_link.revoked, audited); only a tenant administrator revokes, only in their tenant', async () => {
    t.clock.set(new Date());
    const link = await createLink(a, { intent: 'scim' });
    const it = holder(link.token);
    expect((await it.call('GET', '')).status).toBe(200);
    expect(errorCode(await api(b, 'POST', `/api/v1/setup-links/${link.id}/revoke`))).toBe('setup_link.not_found');
    const revoked = await api<{ state: string }>(a, 'POST', `/api/v1/setup-links/${link.id}/revoke`);
    expect(revoked.body.state).toBe('revoked');
    expect((await audit(a.tenantId, 'setup_link.revoked')).map((e) => e.target_id)).toContain(link.id);
    const refused = await it.call('POST', '/scim/directory', {});
    expect(code(refused)).toBe('setup_link.revoked');
    expect((await linkRow(a.tenantId, link.id)).directory_id).toBeNull();
  });

  it('a link of tenant A reaches none of tenant B\'s domains or tests', async () => {
    t.clock.set(new Date());
    const bDomain = await api<Domain>(b, 'POST', '/api/v1/domains', { domain: unique('globex') });
    expect(bDomain.status).toBe(201);
    dns.setTxt(bDomain.body.verification.name, bDomain.body.verification.value);
    const link = await createLink(a, { intent: 'sso' });
    const it = holder(link.token);
    const verify = await it.call('POST', `/domains/${bDomain.body.id}/verify`);
    expect(code(verify)).toBe('setup_link.not_found');
    expect((await api<Domain>(b, 'GET', `/api/v1/domains/${bDomain.body.id}`)).body.status).toBe('pending');
    // Also A's own domain added by an administrator, not by the link.
    const aDomain = await api<Domain>(a, 'POST', '/api/v1/domains', { domain: unique('acme-admin') });
    expect(code(await it.call('POST', `/domains/${aDomain.body.id}/verify`))).toBe('setup_link.not_found');
    // A test of B's (a random id stands for one): not found through A's link.
    await verifiedDomain(it);
    const connection = await it.call<{ id: string }>('POST', '/sso/connection', { type: 'oidc', name: `Okta ${newId().slice(-6)}`, oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } });
    expect(connection.status).toBe(201);
    expect(code(await it.call('GET', `/sso/tests/${newId()}`))).toBe('sso.test_not_found');
    // A test an administrator started on the link's own connection is not the link's to read.
    const adminTest = await api<{ testId: string }>(a, 'POST', `/api/v1/sso/connections/${connection.body.id}/test`, {});
    expect(adminTest.status, JSON.stringify(adminTest.body)).toBe(200);
    expect(code(await it.call('GET', `/sso/tests/${adminTest.body.testId}`))).toBe('sso.test_not_found');
  });

  it('a link the operator created acts for no user: it cannot give roles through mapping rules', async () => {
    t.clock.set(new Date());
    const created = await t.app.services.setupLinks.operatorCreate(a.tenantId, { type: 'system', id: 'cli' }, { intent: 'sso', expiresIn: 3600, note: '' });
    const it = holder(new URL(created.url).hash.slice(1));
    await verifiedDomain(it);
    const role = await api<{ id: string }>(a, 'POST', '/api/v1/roles', { name: `Viewers ${newId().slice(-6)}`, permissions: ['idp.view'] });
    const refused = await it.call('POST', '/sso/connection', { type: 'oidc', name: `Okta ${newId().slice(-6)}`, defaultRoleId: role.body.id, oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } });
    expect(code(refused)).toBe('sso_role_forbidden');
    expect((await it.call('POST', '/sso/connection', { type: 'oidc', name: `Okta ${newId().slice(-6)}`, oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } })).status).toBe(201);
  });

  it('intent escalation is refused and changes nothing: a domains link cannot create a connection, a scim link cannot touch SSO', async () => {
    const before = await connectionCount(a.tenantId);
    const domainsLink = holder((await createLink(a, { intent: 'domains' })).token);
    const denied = await domainsLink.call('POST', '/sso/connection', { type: 'oidc', name: 'Sneaky', oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } });
    expect(denied.status).toBe(403);
    expect(code(denied)).toBe('setup_link.intent_forbidden');
    expect(code(await domainsLink.call('POST', '/scim/directory', {}))).toBe('setup_link.intent_forbidden');
    const scimLink = holder((await createLink(a, { intent: 'scim' })).token);
    expect(code(await scimLink.call('POST', '/sso/tests'))).toBe('setup_link.intent_forbidden');
    expect(code(await scimLink.call('POST', '/domains', { domain: unique('x') }))).toBe('setup_link.intent_forbidden');
    expect(await connectionCount(a.tenantId)).toBe(before);
  });

  it('one person at a time: a second browser is refused until the first has been idle 15 minutes, then takes over', async () => {
    t.clock.set(new Date());
    const link = await createLink(a, { intent: 'domains' });
    const first = holder(link.token);
    const second = holder(link.token);
    expect((await first.call('GET', '')).status).toBe(200);
    const refused = await second.call('GET', '');
    expect(refused.status).toBe(409);
    expect(code(refused)).toBe('setup_link.in_use');
    expect((await api<{ items: Array<{ id: string; state: string }> }>(a, 'GET', '/api/v1/setup-links')).body.items.find((l) => l.id === link.id)?.state).toBe('in_use');
    t.clock.set(new Date(Date.now() + 14 * 60_000));
    expect((await first.call('GET', '')).status).toBe(200);
    t.clock.set(new Date(Date.now() + 28 * 60_000));
    expect(code(await second.call('GET', ''))).toBe('setup_link.in_use');
    t.clock.set(new Date(Date.now() + 44 * 60_000));
    expect((await second.call('GET', '')).status).toBe(200);
    expect(code(await first.call('GET', ''))).toBe('setup_link.in_use');
    expect((await audit(a.tenantId, 'setup_link.claimed')).filter((e) => e.target_id === link.id)).toHaveLength(2);
    t.clock.set(new Date());
  });

  it('parallel requests through one step: one does it, the other is refused setup_link.step_done', async () => {
    t.clock.set(new Date());
    const it = holder((await createLink(a, { intent: 'scim' })).token);
    expect((await it.call('GET', '')).status).toBe(200);
    const [x, y] = await Promise.all([it.call('POST', '/scim/directory', { name: `D ${newId().slice(-6)}` }), it.call('POST', '/scim/directory', { name: `E ${newId().slice(-6)}` })]);
    expect([x.status, y.status].sort()).toEqual([201, 409]);
    expect(code(x.status === 409 ? x : y)).toBe('setup_link.step_done');
  });

  it('roles beyond what the link\'s creator holds now are refused (the grant rule); a demoted creator\'s link stops', async () => {
    t.clock.set(new Date());
    // A tenant administrator holding only sso.view and sso.manage creates the link.
    const email = `lead-${newId().slice(-8)}@example.com`;
    const user = await api<{ id: string }>(a, 'POST', '/api/v1/users', { email, password: PASSWORD, isTenantAdmin: true });
    expect(user.status, JSON.stringify(user.body)).toBe(201);
    const ssoRole = await api<{ id: string }>(a, 'POST', '/api/v1/roles', { name: `SSO admins ${newId().slice(-6)}`, permissions: ['sso.view', 'sso.manage'] });
    expect((await api(a, 'POST', '/api/v1/assignments', { roleId: ssoRole.body.id, userId: user.body.id })).status).toBe(201);
    const lead = await loginOverHttp(t, { email, password: PASSWORD, tenantId: a.tenantId });
    const link = await createLink(lead, { intent: 'sso' });
    const it = holder(link.token);
    await verifiedDomain(it);
    const auditors = await api<{ id: string }>(a, 'POST', '/api/v1/roles', { name: `Auditors ${newId().slice(-6)}`, permissions: ['audit.export'] });
    const before = await connectionCount(a.tenantId);
    const refused = await it.call('POST', '/sso/connection', { type: 'oidc', name: `Okta ${newId().slice(-6)}`, defaultRoleId: auditors.body.id, oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } });
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(code(refused)).toBe('rbac.grant_exceeds_own_access');
    expect(await connectionCount(a.tenantId)).toBe(before);
    expect((await audit(a.tenantId, 'access.grant.refused')).some((e) => e.actor_type === 'setup_link' && e.actor_id === link.id)).toBe(true);
    // The step was not done: it can be done again within the creator's grants.
    const allowed = await it.call('POST', '/sso/connection', { type: 'oidc', name: `Okta ${newId().slice(-6)}`, defaultRoleId: ssoRole.body.id, oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } });
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(201);

    // The creator stops being a tenant administrator: the link stops with them.
    expect((await api(a, 'PATCH', `/api/v1/users/${user.body.id}`, { isTenantAdmin: false })).status).toBe(200);
    expect(code(await it.call('GET', ''))).toBe('setup_link.creator_inactive');
  });

  it('creating and listing links needs sso.manage / sso.view; the input is checked', async () => {
    expect(errorCode(await api(a, 'POST', '/api/v1/setup-links', { intent: 'everything' }))).toBe('invalid_request');
    expect(errorCode(await api(a, 'POST', '/api/v1/setup-links', { expiresIn: 60 }))).toBe('invalid_request');
    expect(errorCode(await api(a, 'POST', '/api/v1/setup-links', { expiresIn: 31 * 86_400 }))).toBe('invalid_request');
    const listed = await api<{ items: Array<Record<string, unknown>> }>(b, 'GET', '/api/v1/setup-links');
    expect(listed.status).toBe(200);
    // Another tenant's links are not listed, and no token is ever returned by the list.
    expect(listed.body.items.every((l) => !('token' in l) && !('url' in l))).toBe(true);
    const ids = new Set((await api<{ items: Array<{ id: string }> }>(a, 'GET', '/api/v1/setup-links')).body.items.map((l) => l.id));
    expect(listed.body.items.some((l) => ids.has(l.id as string))).toBe(false);
    expect(errorCode(await requestJson(t.url, 'GET', '/api/v1/setup', {}))).toBe('setup_link.invalid');
    expect(errorCode(await requestJson(t.url, 'GET', '/api/v1/setup', { token: `tsl1.${'A'.repeat(43)}` }))).toBe('setup_link.invalid');
  });
});
