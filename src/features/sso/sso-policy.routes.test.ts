import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode, type JsonResponse, requestJson } from '../../../test/support/http.js';
import { createPlainUser, type LoggedIn, loginAsAdmin, loginAsPlainUser } from '../../../test/support/login.js';
import { startOp, type TestOp } from '../../../test/support/oidc-provider.js';
import { enrollTotp, totpCode } from '../../../test/support/sessions-http.js';
import { createUserAgent, freePort } from '../../../test/support/user-agent.js';
import { newId } from '../../kernel/ids.js';

type Body = Record<string, unknown>;
type ErrorBody = { error: { code: string; message: string; requestId: string; details?: Body } };

/** TESSERA_SSO_RATE_LIMIT of this suite's server. */
const RATE_LIMIT = 40;

describe.each(engines())('Require SSO, break-glass, discovery and the returnTo allow-list over HTTP [%s]', (engine) => {
  let t: TestApp;
  let op: TestOp;
  let admin: LoggedIn;
  let globex: LoggedIn;
  let connectionId: string;
  let acmeDomainId: string;
  const BOB_PASSWORD = 'bob the builder 42 pw';
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);
  /** Each login from its own address (TESSERA_TRUST_PROXY), so the per-address throttle never decides a case. */
  let address = 0;
  const login = (body: Body) => requestJson<ErrorBody & Body>(t.url, 'POST', '/auth/login', { body, headers: { 'x-forwarded-for': `198.51.100.${(address++ % 250) + 1}` } });
  const discover = (email: string) => requestJson<Body>(t.url, 'POST', '/auth/sso/discover', { body: { email } });

  async function addDomain(tenantId: string, domain: string, status: 'verified' | 'pending' = 'verified'): Promise<string> {
    const id = newId();
    await t.app.db.tenantWork(tenantId, (tx) =>
      tx.insertInto('domains').values({ tenant_id: tenantId, id, domain, token: `tessera-verification-${id}`, status, verified_at: status === 'verified' ? new Date() : null, verified_by: status === 'verified' ? 'operator' : null, created_at: new Date() }).execute(),
    );
    return id;
  }

  let roleId: string | null = null;
  async function createConnection(name: string, domains: string[], enabled = true): Promise<string> {
    const res = await api<{ id: string }>(admin, 'POST', '/api/v1/sso/connections', { type: 'oidc', name, enabled, domains, rules: [], defaultRoleId: roleId, oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id;
  }

  async function events(tenantId: string, action: string) {
    return t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'actor_id', 'actor_email', 'target_id', 'error_code', 'details']).where('tenant_id', '=', tenantId).where('action', '=', action).orderBy('seq').execute());
  }

  const requireSso = (id: string, on: boolean, who: LoggedIn = admin) => api<Body>(who, 'PATCH', `/api/v1/domains/${id}`, { requireSso: on });
  const setBreakGlass = (userIds: string[]) => api<Body>(admin, 'PUT', '/api/v1/sso/break-glass', { userIds });

  beforeAll(async () => {
    const port = await freePort();
    t = await startTestApp(engine, { port, env: { TESSERA_SSO_ALLOW_LOOPBACK: 'true', PUBLIC_URL: `http://127.0.0.1:${port}`, TESSERA_TRUST_PROXY: 'true', TESSERA_SSO_RATE_LIMIT: String(RATE_LIMIT) } });
    op = await startOp({ redirectUri: `${t.url}/auth/sso/oidc/callback` });
    admin = await loginAsAdmin(t, { tenantName: 'Acme', email: 'root@acme.test' });
    globex = await loginAsAdmin(t, { tenantName: 'Globex' });
    acmeDomainId = await addDomain(admin.tenantId, 'acme.test');
    await addDomain(admin.tenantId, 'quiet.test');
    await createPlainUser(t, admin, { email: 'bob@acme.test', password: BOB_PASSWORD });
    roleId = (await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'SSO users', permissions: ['idp.view'] })).body.id;
    // evil.test is listed by the connection but verified for no tenant.
    connectionId = await createConnection('Okta', ['acme.test', 'evil.test']);
    await createConnection('Dormant', ['quiet.test'], false);
    op.addAccount('u-alice', { email: 'alice@acme.test', email_verified: true });
  });
  afterAll(async () => {
    await op?.close();
    await t?.close();
  });

  it('refuses to turn Require SSO on without a verified domain, an enabled connection serving it, and a break-glass user', async () => {
    const pending = await addDomain(admin.tenantId, 'pending-acme.test', 'pending');
    expect(errorCode(await requireSso(pending, true))).toBe('domain.not_verified');
    const lonely = await addDomain(admin.tenantId, 'lonely.test');
    const noConnection = await requireSso(lonely, true);
    expect(noConnection.status).toBe(409);
    expect(errorCode(noConnection)).toBe('domain.require_sso_unavailable');
    // quiet.test is served only by a disabled connection.
    const quiet = (await api<{ items: { id: string; domain: string }[] }>(admin, 'GET', '/api/v1/domains')).body.items.find((d) => d.domain === 'quiet.test')!;
    expect(errorCode(await requireSso(quiet.id, true))).toBe('domain.require_sso_unavailable');
    // acme.test has its connection, but the tenant has no break-glass user yet.
    const noBreakGlass = await requireSso(acmeDomainId, true);
    expect(errorCode(noBreakGlass)).toBe('domain.require_sso_unavailable');
    expect((noBreakGlass.body as ErrorBody).error.message).toContain('break-glass');
    expect(await events(admin.tenantId, 'domain.require_sso.enabled')).toHaveLength(0);
  });

  it('names break-glass users only among active tenant administrators, and only a tenant administrator with sso.manage may', async () => {
    const bob = (await t.app.db.tenantWork(admin.tenantId, (tx) => tx.selectFrom('users').select('id').where('tenant_id', '=', admin.tenantId).where('email', '=', 'bob@acme.test').executeTakeFirstOrThrow())).id;
    expect(errorCode(await setBreakGlass([bob]))).toBe('sso.break_glass_not_admin');
    // A user of another tenant is not one of ours either.
    expect(errorCode(await setBreakGlass([globex.userId]))).toBe('sso.break_glass_not_admin');
    const plain = await loginAsPlainUser(t, admin);
    expect(errorCode(await api(plain, 'PUT', '/api/v1/sso/break-glass', { userIds: [admin.userId] }))).toBe('permission_denied');
    const set = await setBreakGlass([admin.userId]);
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toMatchObject({ items: [{ userId: admin.userId, email: 'root@acme.test', usable: true }] });
    expect((await events(admin.tenantId, 'sso.break_glass.updated')).at(-1)?.details).toMatchObject({ added: [admin.userId], removed: [] });
  });

  it('turns Require SSO on (audited), then refuses an empty break-glass list while it is on', async () => {
    const on = await requireSso(acmeDomainId, true);
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    expect(on.body).toMatchObject({ domain: 'acme.test', requireSso: true });
    expect(await events(admin.tenantId, 'domain.require_sso.enabled')).toHaveLength(1);
    expect(errorCode(await setBreakGlass([]))).toBe('sso.break_glass_required');
    expect((await api<{ items: unknown[] }>(admin, 'GET', '/api/v1/sso/break-glass')).body.items).toHaveLength(1);
  });

  /** What a refused login shows: everything but the request id. */
  const shown = (res: JsonResponse<ErrorBody & Body>) => ({ status: res.status, code: res.body.error?.code, message: res.body.error?.message, details: res.body.error?.details });

  it('refuses password login with sso_required, the same for a plain user, an unknown email, a wrong password and a break-glass user\'s wrong password', async () => {
    const blockedBefore = (await events(admin.tenantId, 'sso.login.blocked_by_policy')).length;
    const rightPassword = await login({ email: 'bob@acme.test', password: BOB_PASSWORD, tenantId: admin.tenantId });
    expect(rightPassword.status, JSON.stringify(rightPassword.body)).toBe(403);
    expect(rightPassword.body.error.code).toBe('sso_required');
    expect(rightPassword.body.error.details).toEqual({
      discoverUrl: `${t.url}/auth/sso/discover`,
      connection: { id: connectionId, name: 'Okta', startUrl: `${t.url}/auth/sso/start?connection=${connectionId}` },
    });
    const answers = [
      await login({ email: 'bob@acme.test', password: BOB_PASSWORD }), // tenant-less: the verified domain names the tenant
      await login({ email: 'nobody@acme.test', password: BOB_PASSWORD, tenantId: admin.tenantId }),
      await login({ email: 'nobody@acme.test', password: BOB_PASSWORD }),
      await login({ email: 'bob@acme.test', password: 'not bobs password 42', tenantId: admin.tenantId }),
      await login({ email: 'root@acme.test', password: 'not the admin password', tenantId: admin.tenantId }),
    ];
    for (const a of answers) expect(shown(a)).toEqual(shown(rightPassword));

    const blocked = (await events(admin.tenantId, 'sso.login.blocked_by_policy')).slice(blockedBefore);
    expect(blocked.map((e) => (e.details as { reason: string }).reason)).toEqual(['not_break_glass', 'not_break_glass', 'unknown_user', 'unknown_user', 'password', 'password']);
    expect(blocked.every((e) => e.error_code === 'sso_required')).toBe(true);
    expect(blocked[2]).toMatchObject({ actor_id: null, actor_email: 'nobody@acme.test' });
  });

  it('the throttle does not tell a right password from a wrong one: both count, for a known and an unknown email alike', async () => {
    await createPlainUser(t, admin, { email: 'carol@acme.test', password: BOB_PASSWORD });
    const run = async (email: string) => {
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await login({ email, password: BOB_PASSWORD, tenantId: admin.tenantId }));
      return answers.map((a) => a.body.error.code);
    };
    // 3 free failures, the 4th earns a wait (the fixed clock never moves), the 5th is refused before any check.
    const expected = ['sso_required', 'sso_required', 'sso_required', 'sso_required', 'sessions.too_many_attempts'];
    expect(await run('carol@acme.test')).toEqual(expected);
    expect(await run('nobody-carol@acme.test')).toEqual(expected);
  });

  it('a break-glass user passes with the password and a TOTP code: audited sso.login.break_glass and listed to tenant administrators', async () => {
    const { secret } = await enrollTotp(t, admin.tenantId, admin.userId);
    const first = await login({ email: 'root@acme.test', password: admin.password, tenantId: admin.tenantId });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.status).toBe('mfa_required');
    // A wrong code is an MFA failure like any other; no break-glass login is recorded.
    const wrong = await requestJson<ErrorBody>(t.url, 'POST', '/auth/login/mfa', { body: { challengeToken: first.body.challengeToken, code: totpCode(t, secret) === '000000' ? '111111' : '000000' } });
    expect(wrong.body.error.code).toBe('sessions.invalid_mfa_code');
    expect(await events(admin.tenantId, 'sso.login.break_glass')).toHaveLength(0);
    const done = await requestJson<Body>(t.url, 'POST', '/auth/login/mfa', { body: { challengeToken: first.body.challengeToken, code: totpCode(t, secret) } });
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body).toMatchObject({ status: 'authenticated', session: { accountId: admin.accountId } });
    const recorded = await events(admin.tenantId, 'sso.login.break_glass');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ actor_id: admin.userId, actor_email: 'root@acme.test' });

    const session = done.body.session as { accessToken: string };
    const listed = await api<{ items: Body[]; nextCursor: string | null }>(session, 'GET', '/api/v1/sso/break-glass/logins?limit=10');
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.items[0]).toMatchObject({ userId: admin.userId, email: 'root@acme.test', amr: ['pwd', 'otp'] });
    expect(listed.body.nextCursor).toBeNull();
    // Another tenant sees none of them.
    expect((await api<{ items: Body[] }>(globex, 'GET', '/api/v1/sso/break-glass/logins')).body.items).toHaveLength(0);
    // The list is for tenant administrators: sso.view alone is not enough.
    const viewer = await loginAsPlainUser(t, admin);
    const role = await api<{ id: string }>(session, 'POST', '/api/v1/roles', { name: `SSO viewers ${newId().slice(-6)}`, permissions: ['sso.view'] });
    expect((await api(session, 'POST', '/api/v1/assignments', { roleId: role.body.id, userId: viewer.userId })).status).toBe(201);
    expect(errorCode(await api(viewer, 'GET', '/api/v1/sso/break-glass/logins'))).toBe('identity.tenant_admin_required');
    expect((await api(viewer, 'GET', '/api/v1/sso/break-glass')).status).toBe(200);
  });

  it('a break-glass user without a second factor is refused (sessions.break_glass_mfa_required), never offered an enrollment', async () => {
    const email = 'second-root@acme.test';
    const password = 'second root password 42';
    const userId = await createPlainUser(t, admin, { email, password });
    await t.app.db.tenantWork(admin.tenantId, (tx) => tx.updateTable('users').set({ is_tenant_admin: true }).where('tenant_id', '=', admin.tenantId).where('id', '=', userId).execute());
    expect((await setBreakGlass([admin.userId, userId])).status).toBe(200);
    const res = await login({ email, password, tenantId: admin.tenantId });
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(res.body.error.code).toBe('sessions.break_glass_mfa_required');
    expect((await events(admin.tenantId, 'sso.login.blocked_by_policy')).at(-1)).toMatchObject({ actor_id: userId, error_code: 'sessions.break_glass_mfa_required' });
    // Demoted from tenant administrator: no longer break-glass, so the same sso_required as anyone.
    await t.app.db.tenantWork(admin.tenantId, (tx) => tx.updateTable('users').set({ is_tenant_admin: false }).where('tenant_id', '=', admin.tenantId).where('id', '=', userId).execute());
    expect((await login({ email, password, tenantId: admin.tenantId })).body.error.code).toBe('sso_required');
  });

  it('the SSO sign-in itself is unaffected by Require SSO', async () => {
    const ua = createUserAgent();
    op.queueLogin('u-alice');
    const { chain } = await ua.navigate(`${t.url}/auth/sso/start?connection=${connectionId}&returnTo=${encodeURIComponent(`${t.url}/app`)}`);
    expect(new URL(chain.at(-1)!).searchParams.get('error'), chain.join(' -> ')).toBeNull();
    const res = await ua.request(`${t.url}/auth/sso/result`, { method: 'POST' });
    expect(((await res.json()) as Body).status).toBe('authenticated');
  });

  it('discovery: the same shape for a match, no match, a public mailbox, an unverified domain and a disabled connection; decided from the domain only', async () => {
    const matchedBefore = (await events(admin.tenantId, 'sso.discovery.matched')).length;
    const known = await discover('bob@acme.test');
    const unknown = await discover('no-such-user@acme.test');
    expect(known.status).toBe(200);
    expect(known.body).toEqual({ method: 'sso', connection: { id: connectionId, name: 'Okta', startUrl: `${t.url}/auth/sso/start?connection=${connectionId}` }, ssoRequired: true });
    expect(unknown.body).toEqual(known.body);
    expect((await events(admin.tenantId, 'sso.discovery.matched')).length).toBe(matchedBefore + 2);

    const password = { method: 'password', connection: null, ssoRequired: false };
    for (const email of ['x@unmatched.test', 'someone@gmail.com', 'eve@evil.test', 'q@quiet.test']) {
      const res = await discover(email);
      expect(res.status, email).toBe(200);
      expect(res.body, email).toEqual(password);
      expect(Object.keys(res.body).sort()).toEqual(Object.keys(known.body).sort());
    }
    expect((await events(admin.tenantId, 'sso.discovery.matched')).length).toBe(matchedBefore + 2);
    expect(errorCode(await discover('not-an-email'))).toBe('invalid_request');
  });

  it('discovery with several enabled connections picks the first by name', async () => {
    const first = await createConnection('Azure first', ['acme.test']);
    try {
      expect((await discover('bob@acme.test')).body).toMatchObject({ method: 'sso', connection: { id: first, name: 'Azure first' } });
      const blocked = await login({ email: 'nobody2@acme.test', password: 'whatever 42 pw', tenantId: admin.tenantId });
      expect(blocked.body.error.details).toMatchObject({ connection: { id: first } });
    } finally {
      expect((await api(admin, 'DELETE', `/api/v1/sso/connections/${first}`)).status).toBe(204);
    }
  });

  it('enforcement lifts while no enabled connection serves the domain (audited), and returns when one does', async () => {
    expect((await api(admin, 'POST', `/api/v1/sso/connections/${connectionId}/disable`)).status).toBe(200);
    try {
      const res = await login({ email: 'bob@acme.test', password: BOB_PASSWORD, tenantId: admin.tenantId });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.status).toBe('authenticated');
      expect((await events(admin.tenantId, 'sso.login.policy_not_enforced')).at(-1)?.details).toMatchObject({ domain: 'acme.test', reason: 'no_enabled_connection' });
      expect((await discover('bob@acme.test')).body).toEqual({ method: 'password', connection: null, ssoRequired: false });
    } finally {
      expect((await api(admin, 'POST', `/api/v1/sso/connections/${connectionId}/enable`)).status).toBe(200);
    }
    expect((await login({ email: 'bob@acme.test', password: BOB_PASSWORD, tenantId: admin.tenantId })).body.error.code).toBe('sso_required');
    // Turned off: password login again, audited.
    expect((await requireSso(acmeDomainId, false)).body).toMatchObject({ requireSso: false });
    expect(await events(admin.tenantId, 'domain.require_sso.disabled')).toHaveLength(1);
    expect((await login({ email: 'bob@acme.test', password: BOB_PASSWORD, tenantId: admin.tenantId })).body.status).toBe('authenticated');
    expect((await requireSso(acmeDomainId, true)).status).toBe(200);
  });

  describe('the returnTo allow-list', () => {
    const start = (returnTo: string, connection = connectionId) => createUserAgent().request(`${t.url}/auth/sso/start?connection=${connection}&returnTo=${encodeURIComponent(returnTo)}`);

    it('accepts only origins, https (http for localhost), audited', async () => {
      for (const origin of ['http://app.acme.example', 'https://app.acme.example/path', 'https://app.acme.example?x=1', 'https://u@app.acme.example', 'javascript:alert(1)', 'app.acme.example', 'https://app.acme.example/#x']) {
        const res = await api(admin, 'PUT', '/api/v1/sso/settings', { allowedReturnOrigins: [origin] });
        expect(errorCode(res), origin).toBe('sso.invalid_return_origin');
      }
      const ok = await api<Body>(admin, 'PUT', '/api/v1/sso/settings', { allowedReturnOrigins: ['https://app.acme.example/', 'http://localhost:5173', 'https://APP.acme.example'] });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body).toEqual({ allowedReturnOrigins: ['https://app.acme.example', 'http://localhost:5173'] });
      expect((await api<Body>(admin, 'GET', '/api/v1/sso/settings')).body).toEqual(ok.body);
      expect((await events(admin.tenantId, 'sso.settings.updated')).at(-1)?.details).toMatchObject({ after: { allowedReturnOrigins: ['https://app.acme.example', 'http://localhost:5173'] } });
      const plain = await loginAsPlainUser(t, admin);
      expect(errorCode(await api(plain, 'PUT', '/api/v1/sso/settings', { allowedReturnOrigins: [] }))).toBe('permission_denied');
      expect((await api(globex, 'PUT', '/api/v1/sso/settings', { allowedReturnOrigins: ['https://app.globex.example'] })).status).toBe(200);
    });

    it('a sign-in may return to an allowed origin: the callback redirects there', async () => {
      const ok = await start('https://app.acme.example/after?x=1');
      expect(ok.status).toBe(302);
      expect(new URL(ok.headers.get('location')!).origin).toBe(op.issuer);
      // The whole round trip: the IdP's answer lands on the allowed origin with the result cookie set.
      const ua = createUserAgent();
      op.queueLogin('u-alice');
      let location = `${t.url}/auth/sso/start?connection=${connectionId}&returnTo=${encodeURIComponent('https://app.acme.example/after')}`;
      for (let i = 0; i < 8 && !location.startsWith('https://app.acme.example'); i++) {
        const hop = await ua.request(location);
        location = new URL(hop.headers.get('location')!, location).href;
      }
      expect(location).toBe('https://app.acme.example/after');
      expect(ua.jar.has('tessera_sso_result')).toBe(true);
      expect((await start('/dashboard')).status).toBe(302);
      expect((await start('http://localhost:5173/cb')).status).toBe(302);
    });

    it.each([
      ['another origin', 'https://evil.example/'],
      ['a scheme-relative URL', '//evil.example/x'],
      ['backslashes', '\\\\evil.example/x'],
      ['a slash and a backslash', '/\\evil.example'],
      ['a tab inside //', '/\t/evil.example'],
      ['a suffix host', 'https://app.acme.example.evil.com/'],
      ['user info naming the allowed host', 'https://app.acme.example@evil.com/'],
      ['user info on the allowed host', 'https://user:pw@app.acme.example/'],
      ['javascript:', 'javascript:alert(document.cookie)'],
      ['data:', 'data:text/html,<script>alert(1)</script>'],
      ['http instead of https', 'http://app.acme.example/'],
      ['another port', 'https://app.acme.example:8443/'],
      ["another tenant's allowed origin", 'https://app.globex.example/'],
    ])('refuses %s (sso_config)', async (_label, returnTo) => {
      const res = await start(returnTo);
      expect(res.status, returnTo).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe('sso_config');
    });
  });

  it('the public SSO routes are rate limited per client IP (rate_limited with Retry-After); refused requests audit nothing; other clients are served', async () => {
    // TESSERA_TRUST_PROXY is on in this suite: each flood comes from its own forwarded address.
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const matchedBefore = (await events(admin.tenantId, 'sso.discovery.matched')).length;
    const answers = await Promise.all(Array.from({ length: RATE_LIMIT + 10 }, () => requestJson<Body>(t.url, 'POST', '/auth/sso/discover', { body: { email: 'bob@acme.test' }, headers: from('203.0.113.7') })));
    const ok = answers.filter((r) => r.status === 200);
    const limited = answers.filter((r) => r.status === 429);
    expect(ok.length).toBe(RATE_LIMIT);
    expect(limited.length).toBe(10);
    for (const r of limited) {
      expect(errorCode(r)).toBe('rate_limited');
      expect(Number(r.response.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect((await events(admin.tenantId, 'sso.discovery.matched')).length).toBe(matchedBefore + RATE_LIMIT);
    expect((await requestJson<Body>(t.url, 'POST', '/auth/sso/discover', { body: { email: 'bob@acme.test' }, headers: from('203.0.113.8') })).status).toBe(200);

    const starts = await Promise.all(Array.from({ length: RATE_LIMIT + 5 }, () => fetch(`${t.url}/auth/sso/start?connection=${connectionId}`, { redirect: 'manual', headers: from('203.0.113.9') })));
    expect(starts.filter((r) => r.status === 302).length).toBe(RATE_LIMIT);
    expect(starts.filter((r) => r.status === 429).length).toBe(5);
  });
});
