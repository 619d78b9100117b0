import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { createPlainUser, type LoggedIn, loginAsAdmin, loginOverHttp } from '../../../test/support/login.js';
import { browse, CookieJar, finishWithSession, type RegisteredApp, registerApp, startInteraction } from '../../../test/support/tessera-op.js';
import { freePort } from '../../../test/support/user-agent.js';
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { BACKCHANNEL_LOGOUT_EVENT, createTesseraClient, type TesseraClient } from '../../../packages/node/src/index.js';
import { createHostsApp } from '../src/app.js';

const API_AUDIENCE = 'https://api.hosts.example';

/**
 * The example application (examples/hosts-dashboard) against a running Tessera, both real HTTP servers: a user signs
 * in through Tessera's hosted sign-in (its part played over HTTP, as in the provider's own suites), the app's API
 * lets a permitted user in and refuses another, and a logout or a deactivation in Tessera ends the app's session on
 * its next request.
 */
describe.each(engines())('example app: hosts dashboard with Tessera [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let api: TesseraClient;
  let registered: RegisteredApp;
  let example: FastifyInstance;
  let appUrl: string;
  const password = 'hosts example password 42';
  const users = { viewer: { email: 'viewer@example.com', id: '' }, plain: { email: 'plain@example.com', id: '' }, leaver: { email: 'leaver@example.com', id: '' } };

  beforeAll(async () => {
    const port = await freePort();
    // Back-channel logout tokens go to the example on 127.0.0.1 (development and tests only).
    t = await startTestApp(engine, { port, env: { PUBLIC_URL: `http://127.0.0.1:${port}`, TESSERA_APPLICATION_ALLOW_LOOPBACK: 'true' } });
    // oidc-provider stamps interactions with the real time; Tessera's sessions follow the test clock.
    t.clock.set(new Date());
    admin = await loginAsAdmin(t);
    api = createTesseraClient({ baseUrl: t.url, token: admin.accessToken });
    // The application's own permissions, a role that grants hosts.view, and users with and without it.
    await api.PUT('/api/v1/permissions', { body: { permissions: [{ key: 'hosts.view', category: 'Hosts' }, { key: 'patches.deploy', category: 'Hosts' }] } });
    const { data: role } = await api.POST('/api/v1/roles', { body: { name: 'Hosts viewer', permissions: ['hosts.view'] } });
    for (const user of Object.values(users)) user.id = await createPlainUser(t, admin, { email: user.email, password });
    for (const user of [users.viewer, users.leaver]) await api.POST('/api/v1/assignments', { body: { roleId: role!.id, userId: user.id } });

    // A port whose URL does not start with Tessera's (the test browser tells the two origins apart by prefix).
    let appPort: number;
    do appPort = await freePort();
    while (`http://127.0.0.1:${appPort}`.startsWith(t.url) || t.url.startsWith(`http://127.0.0.1:${appPort}`));
    appUrl = `http://127.0.0.1:${appPort}`;
    registered = await registerApp(t, admin, {
      name: 'Hosts dashboard',
      type: 'web',
      redirectUris: [`${appUrl}/callback`],
      postLogoutRedirectUris: [`${appUrl}/`],
      scopes: ['openid', 'email', 'profile', 'permissions', 'offline_access'],
      resources: [API_AUDIENCE],
      backchannelLogoutUri: `${appUrl}/backchannel-logout`,
    });
    example = await createHostsApp({ issuer: t.url, baseUrl: appUrl, clientId: registered.clientId, clientSecret: registered.clientSecret!, apiAudience: API_AUDIENCE, strict: true });
    await example.listen({ port: appPort, host: '127.0.0.1' });
    expect((example.server.address() as AddressInfo).port).toBe(appPort);
  });
  afterAll(async () => {
    await example?.close();
    await t?.close();
  });

  /** A browser signs in to the example: the app sends it to Tessera, the hosted sign-in finishes, the app's callback runs. */
  async function signInToExample(email: string) {
    const appJar = new CookieJar();
    const tesseraJar = new CookieJar();
    const start = await browse(appJar, `${appUrl}/login`);
    expect(start.status).toBe(303);
    const authorize = new URL(start.headers.get('location')!);
    expect(authorize.origin).toBe(t.url);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('state')).toBeTruthy();
    expect(authorize.searchParams.get('nonce')).toBeTruthy();
    const tessera = await loginOverHttp(t, { email, password, tenantId: admin.tenantId });
    const { uid } = await startInteraction(t, tesseraJar, authorize);
    const done = await finishWithSession(t, tesseraJar, uid, tessera);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.callback!.origin + done.callback!.pathname).toBe(`${appUrl}/callback`);
    const back = await browse(appJar, done.callback!.href);
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('/');
    expect(appJar.has('hosts_session')).toBe(true);
    return { appJar, tesseraJar, tessera };
  }
  const view = async (jar: CookieJar, path: string) => {
    const res = await browse(jar, `${appUrl}${path}`);
    return { status: res.status, location: res.headers.get('location'), html: await res.text() };
  };

  it('signs a user in end to end (code + PKCE, state, nonce) and keeps a server-side session', async () => {
    const { appJar } = await signInToExample(users.viewer.email);
    expect((await view(appJar, '/')).html).toContain(`Signed in as <strong>${users.viewer.email}</strong>`);
    // A callback replayed (same state, code spent, transaction gone) signs nobody in.
    expect((await view(new CookieJar(), '/callback?code=x&state=y')).status).toBe(400);
  });

  it("the app's API, guarded by the SDK, serves a user with hosts.view and refuses one without it", async () => {
    const viewer = await signInToExample(users.viewer.email);
    const page = await view(viewer.appJar, '/hosts');
    expect(page.status, page.html).toBe(200);
    expect(page.html).toContain('web-1');
    const plain = await signInToExample(users.plain.email);
    const refused = await view(plain.appJar, '/hosts');
    expect(refused.status).toBe(403);
    expect(refused.html).toContain('permission_denied');
    // Without a token at all the API answers the RFC 6750 challenge.
    const bare = await fetch(`${appUrl}/api/hosts`);
    expect(bare.status).toBe(401);
    expect(bare.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it("a logout in Tessera ends the app's session on its next request (strict mode)", async () => {
    const { appJar, tessera } = await signInToExample(users.viewer.email);
    expect((await view(appJar, '/')).html).toContain('Signed in as');
    const out = await fetch(`${t.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${tessera.accessToken}` } });
    expect(out.status).toBe(204);
    expect((await view(appJar, '/')).html).toContain('You are signed out');
    expect(appJar.has('hosts_session')).toBe(false);
    expect((await view(appJar, '/hosts')).status).toBe(303);
  });

  it("a deactivation in Tessera ends the app's session on its next request (strict mode)", async () => {
    const { appJar } = await signInToExample(users.leaver.email);
    expect((await view(appJar, '/')).html).toContain('Signed in as');
    const { response } = await api.PATCH('/api/v1/users/{userId}', { params: { path: { userId: users.leaver.id } }, body: { active: false } });
    expect(response.status).toBe(200);
    expect((await view(appJar, '/')).html).toContain('You are signed out');
  });

  it('RP-initiated logout ends the app session, then the Tessera session, and returns to the app', async () => {
    const { appJar, tesseraJar, tessera } = await signInToExample(users.viewer.email);
    const out = await browse(appJar, `${appUrl}/logout`, { method: 'POST' });
    expect(out.status).toBe(303);
    const end = out.headers.get('location')!;
    expect(end.startsWith(`${t.url}/oidc/session/end?`)).toBe(true);
    expect(appJar.has('hosts_session')).toBe(false);
    const confirmPage = await browse(tesseraJar, end);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(await confirmPage.text())?.[1];
    expect(xsrf).toBeTruthy();
    const confirm = await browse(tesseraJar, `${t.url}/oidc/session/end/confirm`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ xsrf: xsrf!, logout: 'yes' }).toString() });
    expect(confirm.status).toBe(303);
    expect(confirm.headers.get('location')).toBe(`${appUrl}/`);
    expect((await fetch(`${t.url}/api/v1/me`, { headers: { authorization: `Bearer ${tessera.accessToken}` } })).status).toBe(401);
  });

  /** A logout token as Back-Channel Logout 1.0 §2.4 shapes it, signed with Tessera's current key (the provider's). */
  async function logoutToken(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
    const key = await t.app.services.keys.currentSigningKey();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: t.url, aud: registered.clientId, iat: now, exp: now + 120, jti: randomUUID(), events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'logout+jwt', ...header })
      .sign(key.privateKey);
  }
  const postLogout = (token: string) =>
    fetch(`${appUrl}/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: token }).toString() });

  it("a valid logout token on the back-channel endpoint ends the user's sessions; the same token again is refused", async () => {
    const { appJar } = await signInToExample(users.plain.email);
    const other = await signInToExample(users.viewer.email);
    const token = await logoutToken({ sub: users.plain.id });
    const res = await postLogout(token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect((await view(appJar, '/')).html).toContain('You are signed out');
    expect((await view(other.appJar, '/')).html).toContain('Signed in as');
    expect((await postLogout(token)).status).toBe(400);
  });

  it('the back-channel endpoint refuses logout tokens that break §2.6: wrong audience, issuer, type, event, nonce, no sub or sid', async () => {
    const { appJar } = await signInToExample(users.plain.email);
    const sub = users.plain.id;
    for (const [name, token] of [
      ['audience', await logoutToken({ sub, aud: 'tc1.someone-else' })],
      ['issuer', await logoutToken({ sub, iss: 'https://evil.example' })],
      ['type', await logoutToken({ sub }, { typ: 'at+jwt' })],
      ['event', await logoutToken({ sub, events: { 'https://example.com/other': {} } })],
      ['nonce', await logoutToken({ sub, nonce: 'n' })],
      ['sub or sid', await logoutToken({})],
      ['expired', await logoutToken({ sub, iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 })],
    ] as const) {
      expect((await postLogout(token)).status, name).toBe(400);
    }
    expect((await view(appJar, '/')).html).toContain('Signed in as');
  });

  it("without strict mode, Tessera's back-channel logout ends the app's session: a logout in Tessera, then the app's next request", async () => {
    // A second instance of the example, not strict, registered with its own back-channel logout URI.
    let port: number;
    do port = await freePort();
    while (`http://127.0.0.1:${port}`.startsWith(t.url) || t.url.startsWith(`http://127.0.0.1:${port}`));
    const url = `http://127.0.0.1:${port}`;
    const app = await registerApp(t, admin, {
      name: 'Hosts dashboard (relaxed)',
      type: 'web',
      redirectUris: [`${url}/callback`],
      scopes: ['openid', 'email', 'profile', 'permissions', 'offline_access'],
      resources: [API_AUDIENCE],
      backchannelLogoutUri: `${url}/backchannel-logout`,
    });
    const relaxed = await createHostsApp({ issuer: t.url, baseUrl: url, clientId: app.clientId, clientSecret: app.clientSecret!, apiAudience: API_AUDIENCE, strict: false });
    await relaxed.listen({ port, host: '127.0.0.1' });
    try {
      const appJar = new CookieJar();
      const start = await browse(appJar, `${url}/login`);
      const tessera = await loginOverHttp(t, { email: users.viewer.email, password, tenantId: admin.tenantId });
      const tesseraJar = new CookieJar();
      const { uid } = await startInteraction(t, tesseraJar, new URL(start.headers.get('location')!));
      const done = await finishWithSession(t, tesseraJar, uid, tessera);
      expect((await browse(appJar, done.callback!.href)).status).toBe(303);
      const page = async () => (await (await browse(appJar, `${url}/`)).text());
      expect(await page()).toContain('Signed in as');
      expect((await fetch(`${t.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${tessera.accessToken}` } })).status).toBe(204);
      // The provider delivers the logout token on its own; the app's next request after delivery is signed out.
      let signedOut = false;
      for (let attempt = 0; attempt < 100 && !signedOut; attempt++) {
        signedOut = (await page()).includes('You are signed out');
        if (!signedOut) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(signedOut, 'the back-channel logout never reached the app').toBe(true);
    } finally {
      await relaxed.close();
    }
  });

  it('the back-channel logout endpoint refuses a token that is not a valid logout token (400, nothing ended)', async () => {
    const { appJar, tessera } = await signInToExample(users.viewer.email);
    for (const body of [new URLSearchParams({ logout_token: 'junk' }), new URLSearchParams({ logout_token: tessera.accessToken }), new URLSearchParams()]) {
      const res = await fetch(`${appUrl}/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
      expect(res.status).toBe(400);
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
    expect((await view(appJar, '/')).html).toContain('Signed in as');
  });
});
