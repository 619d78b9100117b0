import { createPublicKey } from 'node:crypto';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecondInstance, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin } from '../../../test/support/login.js';
import { newSigningJwk, startOp, type TestOp } from '../../../test/support/oidc-provider.js';
import { createUserAgent } from '../../../test/support/user-agent.js';
import { markDomainVerified, ssoLoginFailures, startSsoTestApp } from '../../../test/support/sso.js';
import { newId } from '../../kernel/ids.js';

type Body = Record<string, unknown>;

describe.each(engines())('OIDC sign-in over HTTP with a real OP [%s]', (engine) => {
  let t: TestApp;
  let op: TestOp;
  let admin: LoggedIn;
  let connectionId: string;
  let roleId: string;
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  beforeAll(async () => {
    ({ t, op } = await startSsoTestApp(engine));
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'SSO users', permissions: ['idp.view'] });
    expect(role.status, JSON.stringify(role.body)).toBe(201);
    roleId = role.body.id;
    await markDomainVerified(t, admin.tenantId, 'acme.test');
    connectionId = await createConnection();
    op.addAccount('u-alice', { email: 'alice@acme.test', email_verified: true, name: 'Alice Admin' });
    op.addAccount('u-eve', { email: 'eve@evil.test', email_verified: true, name: 'Eve' });
  });
  afterAll(async () => {
    await op?.close();
    await t?.close();
  });

  async function createConnection(overrides: Body = {}): Promise<string> {
    const res = await api<{ id: string }>(admin, 'POST', '/api/v1/sso/connections', {
      type: 'oidc', name: `Okta ${newId().slice(-8)}`, enabled: true, domains: ['acme.test', 'evil.test'], defaultRoleId: roleId, rules: [],
      oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret }, ...overrides,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id;
  }

  /** A whole sign-in in a fresh browser: start → OP (queued user) → callback → landing; the landing's `error`. */
  async function signIn(sub: string, options: { connection?: string; returnTo?: string; amr?: string[] } = {}) {
    t.clock.set(new Date());
    const ua = createUserAgent();
    op.queueLogin(sub, options.amr ? { amr: options.amr } : {});
    const returnTo = options.returnTo ?? `${t.url}/app`;
    const { res, chain } = await ua.navigate(`${t.url}/auth/sso/start?connection=${options.connection ?? connectionId}&returnTo=${encodeURIComponent(returnTo)}`);
    const landing = new URL(chain.at(-1)!);
    return { ua, res, chain, landing, error: landing.searchParams.get('error') };
  }

  async function result(ua: ReturnType<typeof createUserAgent>) {
    const res = await ua.request(`${t.url}/auth/sso/result`, { method: 'POST' });
    return { status: res.status, body: (await res.json()) as Body, setCookies: res.headers.getSetCookie() };
  }

  const failures = (code: string) => ssoLoginFailures(t, admin.tenantId, code);

  /** Refused with `code` at the callback: redirected to returnTo with ?error=, audited, no result cookie. */
  async function expectRefused(run: Promise<Awaited<ReturnType<typeof signIn>>>, code: string) {
    const before = await failures(code);
    const r = await run;
    expect(r.error, r.chain.join(' -> ')).toBe(code);
    expect(r.landing.pathname).toBe('/app');
    expect(r.ua.jar.has('tessera_sso_result')).toBe(false);
    expect(r.ua.jar.has('tessera_sso_tx')).toBe(false);
    expect(await failures(code)).toBe(before + 1);
  }

  const decode = (token: string) => ({ header: jose.decodeProtectedHeader(token), payload: jose.decodeJwt(token) });
  /** Re-signs the OP's real id_token after `mutate`, with the OP's key, a foreign key, `none`, or HS256 keyed with the public key. */
  function forge(how: 'op' | 'foreign' | 'none' | 'hs256-pubkey', mutate: (p: jose.JWTPayload) => jose.JWTPayload = (p) => p) {
    return async (body: Body) => {
      const { header, payload } = decode(body.id_token as string);
      const p = mutate({ ...payload });
      let jwt: string;
      if (how === 'op') {
        const jwk = op.keys[0]!;
        jwt = await new jose.SignJWT(p).setProtectedHeader({ alg: 'RS256', kid: jwk.kid! }).sign(await jose.importJWK(jwk, 'RS256'));
      } else if (how === 'foreign') {
        const jwk = await newSigningJwk('RS256');
        jwt = await new jose.SignJWT(p).setProtectedHeader({ alg: 'RS256', kid: header.kid! }).sign(await jose.importJWK(jwk, 'RS256'));
      } else if (how === 'none') {
        jwt = new jose.UnsecuredJWT(p).encode();
      } else {
        const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = op.keys[0]!;
        const pem = createPublicKey({ key: pub as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
        jwt = await new jose.SignJWT(p).setProtectedHeader({ alg: 'HS256', kid: header.kid! }).sign(new TextEncoder().encode(pem as string));
      }
      return { ...body, id_token: jwt };
    };
  }

  it('happy path: JIT creates the user with the default role, the session works, a second login links to the same user', async () => {
    const first = await signIn('u-alice', { amr: ['pwd'] });
    expect(first.error, first.chain.join(' -> ')).toBeNull();
    expect(first.landing.href).toBe(`${t.url}/app`);
    expect(first.ua.jar.has('tessera_sso_result')).toBe(true);
    const resultCookie = `tessera_sso_result=${first.ua.jar.get('tessera_sso_result')}`;
    const answer = await result(first.ua);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({ status: 'authenticated', tenantId: admin.tenantId, accounts: [{ id: admin.accountId }], session: { tokenType: 'Bearer', accountId: admin.accountId } });
    expect(answer.setCookies.some((c) => c.startsWith('tessera_refresh='))).toBe(true);
    const session = answer.body.session as { accessToken: string };
    const me = await api<Body>(session, 'GET', '/api/v1/me');
    expect(me.status, JSON.stringify(me.body)).toBe(200);
    expect(me.body).toMatchObject({ email: 'alice@acme.test' });
    const userId = answer.body.userId as string;

    // The result is read once: the browser's cookie is cleared, and the same cookie replayed, to this instance or
    // to another instance on the same database, is refused (the spent id is in the shared table).
    expect((await result(first.ua)).status).toBe(400);
    const replay = async (url: string) => fetch(`${url}/auth/sso/result`, { method: 'POST', headers: { cookie: resultCookie } });
    const sameInstance = await replay(t.url);
    expect(sameInstance.status).toBe(400);
    expect(((await sameInstance.json()) as { error: { code: string } }).error.code).toBe('sso_expired');
    const second = await startSecondInstance(t);
    try {
      const elsewhere = await replay(second.url);
      expect(elsewhere.status).toBe(400);
      expect(((await elsewhere.json()) as { error: { code: string } }).error.code).toBe('sso_expired');
    } finally {
      await second.close();
    }

    // A second login, after the IdP changed the email: the subject finds the same user.
    op.addAccount('u-alice', { email: 'alice.admin@acme.test', email_verified: true, name: 'Alice Admin' });
    const secondLogin = await signIn('u-alice');
    expect(secondLogin.error).toBeNull();
    const again = await result(secondLogin.ua);
    expect(again.body.userId).toBe(userId);
    op.addAccount('u-alice', { email: 'alice@acme.test', email_verified: true, name: 'Alice Admin' });

    const events = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'actor_id']).where('tenant_id', '=', admin.tenantId).where('action', 'in', ['sso.user.provisioned', 'sso.login.succeeded', 'auth.login.succeeded']).execute());
    expect(events.filter((e) => e.action === 'sso.user.provisioned')).toHaveLength(1);
    expect(events.filter((e) => e.action === 'sso.login.succeeded').length).toBeGreaterThanOrEqual(2);
    expect(events.some((e) => e.action === 'auth.login.succeeded')).toBe(true);
  });

  it('refuses a callback without the transaction cookie (sso_expired) and a swapped state (sso_state)', async () => {
    const ua = createUserAgent();
    t.clock.set(new Date());
    const res = await ua.request(`${t.url}/auth/sso/oidc/callback?code=abc&state=xyz`);
    expect(res.status).toBe(302);
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('sso_expired');

    // Swapped state: the attacker's own transaction cookie with the victim's callback.
    const victim = createUserAgent();
    const attacker = createUserAgent();
    const started = await attacker.request(`${t.url}/auth/sso/start?connection=${connectionId}&returnTo=${encodeURIComponent(`${t.url}/app`)}`);
    expect(started.status).toBe(302);
    op.queueLogin('u-alice');
    const victimStart = await victim.request(`${t.url}/auth/sso/start?connection=${connectionId}&returnTo=${encodeURIComponent(`${t.url}/app`)}`);
    // Follow the victim up to the callback URL, then deliver it to the attacker's browser.
    let location = victimStart.headers.get('location')!;
    for (let i = 0; i < 6 && !location.startsWith(`${t.url}/auth/sso/oidc/callback`); i++) {
      const hop = await victim.request(location);
      location = new URL(hop.headers.get('location')!, location).href;
    }
    const before = await failures('sso_state');
    const swapped = await attacker.request(location);
    expect(new URL(swapped.headers.get('location')!).searchParams.get('error')).toBe('sso_state');
    expect(await failures('sso_state')).toBe(before + 1);
  });

  it('refuses a wrong aud, a wrong iss, an expired id_token, alg none, HS256 keyed with the public key, a foreign key', async () => {
    op.tamperNext('/token', forge('op', (p) => ({ ...p, aud: 'someone-else' })));
    await expectRefused(signIn('u-alice'), 'sso_audience');
    op.tamperNext('/token', forge('op', (p) => ({ ...p, iss: 'https://evil.example' })));
    await expectRefused(signIn('u-alice'), 'sso_signature');
    op.tamperNext('/token', forge('op', (p) => ({ ...p, exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 })));
    await expectRefused(signIn('u-alice'), 'sso_expired');
    op.tamperNext('/token', forge('none'));
    await expectRefused(signIn('u-alice'), 'sso_signature');
    op.tamperNext('/token', forge('hs256-pubkey'));
    await expectRefused(signIn('u-alice'), 'sso_signature');
    op.tamperNext('/token', forge('foreign'));
    await expectRefused(signIn('u-alice'), 'sso_signature');
  });

  it('refuses a replayed nonce (sso_replay)', async () => {
    op.tamperNext('/token', forge('op', (p) => ({ ...p, nonce: 'a-nonce-of-an-earlier-sign-in' })));
    await expectRefused(signIn('u-alice'), 'sso_replay');
  });

  it('refuses an email outside the connection\'s verified domains (sso_domain) and a disabled connection (sso_disabled)', async () => {
    // evil.test is one of the connection's domains, but not verified for the tenant.
    await expectRefused(signIn('u-eve'), 'sso_domain');
    const users = await t.app.db.tenantWork(admin.tenantId, (tx) => tx.selectFrom('users').select('id').where('tenant_id', '=', admin.tenantId).where('email', '=', 'eve@evil.test').execute());
    expect(users).toHaveLength(0);

    const disabled = await createConnection({ enabled: false });
    const ua = createUserAgent();
    const res = await ua.request(`${t.url}/auth/sso/start?connection=${disabled}`);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('sso_disabled');
  });

  it('refuses an open redirect in returnTo (sso_config) before anything else', async () => {
    for (const returnTo of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)']) {
      const res = await createUserAgent().request(`${t.url}/auth/sso/start?connection=${connectionId}&returnTo=${encodeURIComponent(returnTo)}`);
      expect(res.status, returnTo).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('sso_config');
    }
    const ok = await createUserAgent().request(`${t.url}/auth/sso/start?connection=${connectionId}&returnTo=${encodeURIComponent('/dashboard')}`);
    expect(ok.status).toBe(302);
    expect(new URL(ok.headers.get('location')!).origin).toBe(op.issuer);
  });

  /** Follows the browser up to the callback URL without delivering it. */
  async function untilCallback(ua: ReturnType<typeof createUserAgent>, connection = connectionId): Promise<string> {
    let location = `${t.url}/auth/sso/start?connection=${connection}&returnTo=${encodeURIComponent(`${t.url}/app`)}`;
    for (let i = 0; i < 8 && !location.startsWith(`${t.url}/auth/sso/oidc/callback`); i++) {
      const hop = await ua.request(location);
      location = new URL(hop.headers.get('location')!, location).href;
    }
    return location;
  }

  it('refuses a transaction older than 10 minutes (sso_expired)', async () => {
    t.clock.set(new Date());
    const ua = createUserAgent();
    op.queueLogin('u-alice');
    const callback = await untilCallback(ua);
    t.clock.advance(10 * 60_000 + 1_000);
    const before = await failures('sso_expired');
    const res = await ua.request(callback);
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('sso_expired');
    expect(await failures('sso_expired')).toBe(before + 1);
    t.clock.set(new Date());
  });

  it('a connection requiring IdP MFA refuses a login without it (sso_mfa_required) and accepts amr mfa without a local second factor', async () => {
    const strict = await createConnection({ mfaPolicy: { requireMfa: true } });
    await expectRefused(signIn('u-alice', { connection: strict, amr: ['pwd'] }), 'sso_mfa_required');
    const ok = await signIn('u-alice', { connection: strict, amr: ['pwd', 'mfa'] });
    expect(ok.error).toBeNull();
    const answer = await result(ok.ua);
    expect(answer.body).toMatchObject({ status: 'authenticated', session: { accountId: admin.accountId } });
  });

  it('refuses a deactivated user, and changes nothing', async () => {
    op.addAccount('u-bob', { email: 'bob@acme.test', email_verified: true });
    const first = await signIn('u-bob');
    expect(first.error).toBeNull();
    await t.app.db.tenantWork(admin.tenantId, (tx) => tx.updateTable('users').set({ active: false }).where('tenant_id', '=', admin.tenantId).where('email', '=', 'bob@acme.test').execute());
    await expectRefused(signIn('u-bob'), 'sso_user_inactive');
  });

  it('a thin id_token: the email comes from userinfo, whose sub must equal the id_token\'s (sso_signature)', async () => {
    const thin = await startOp({ redirectUri: `${t.url}/auth/sso/oidc/callback`, thinIdToken: true });
    try {
      thin.addAccount('u-carol', { email: 'carol@acme.test', email_verified: true });
      const res = await api<{ id: string }>(admin, 'POST', '/api/v1/sso/connections', {
        type: 'oidc', name: `Thin ${newId().slice(-8)}`, enabled: true, domains: ['acme.test'], defaultRoleId: roleId, rules: [],
        oidc: { issuer: thin.issuer, clientId: thin.clientId, clientSecret: thin.clientSecret },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      const viaThin = async () => {
        t.clock.set(new Date());
        const ua = createUserAgent();
        thin.queueLogin('u-carol');
        const { chain } = await ua.navigate(`${t.url}/auth/sso/start?connection=${res.body.id}&returnTo=${encodeURIComponent(`${t.url}/app`)}`);
        const landing = new URL(chain.at(-1)!);
        return { ua, res: undefined as unknown as Response, chain, landing, error: landing.searchParams.get('error') };
      };
      const ok = await viaThin();
      expect(ok.error, ok.chain.join(' -> ')).toBeNull();
      expect((await result(ok.ua)).body).toMatchObject({ status: 'authenticated' });
      thin.tamperNext('/me', (body) => ({ ...body, sub: 'u-mallory' }));
      await expectRefused(viaThin(), 'sso_signature');
    } finally {
      await thin.close();
    }
  });

  it('a login right after the OP rotates its keys works (one JWKS refetch on the unknown kid)', async () => {
    const warm = await signIn('u-alice');
    expect(warm.error).toBeNull();
    await op.rotateKeys();
    const after = await signIn('u-alice');
    expect(after.error, after.chain.join(' -> ')).toBeNull();
    expect((await result(after.ua)).status).toBe(200);
  });
});
