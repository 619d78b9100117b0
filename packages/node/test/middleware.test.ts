import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { createPlainUser, type LoggedIn, loginAsAdmin, loginOverHttp } from '../../../test/support/login.js';
import * as oidc from 'openid-client';
import { authorizationRequest, CookieJar, type RegisteredApp, registerApp, relyingParty, signIn } from '../../../test/support/tessera-op.js';
import { createTesseraClient } from '../src/client.js';
import { freePort } from '../../../test/support/user-agent.js';
import { createTesseraAuth, type TesseraAuthOptions } from '../src/auth.js';
import { API_AUDIENCE, type Framework, signWithTesseraKey, startGuardedApi } from './support.js';

/**
 * The SDK's requirePermission / requireAnyPermission / authenticate guards, on real Fastify and Express servers over
 * real HTTP, verifying tokens against a running Tessera (its discovery, JWKS and introspection endpoint).
 */
describe.each(engines())('@tessera-iam/node middleware against a running Tessera [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let web: RegisteredApp;
  let roleId: string;
  const viewer = { email: 'viewer@example.com', password: 'viewer password 42', id: '' };
  const CALLBACK = 'https://hosts.example/callback';

  beforeAll(async () => {
    const port = await freePort();
    t = await startTestApp(engine, { port, env: { PUBLIC_URL: `http://127.0.0.1:${port}`, TESSERA_TOKEN_AUDIENCE: API_AUDIENCE } });
    // oidc-provider stamps interactions with the real time; Tessera's sessions follow the test clock.
    t.clock.set(new Date());
    admin = await loginAsAdmin(t);
    web = await registerApp(t, admin, { name: 'Hosts', type: 'web', redirectUris: [CALLBACK], scopes: ['openid', 'permissions'], resources: [API_AUDIENCE] });
    // The application's permission, granted to a user by a role of its own (the administrator holds every key).
    const api = createTesseraClient({ baseUrl: t.url, token: admin.accessToken });
    await api.PUT('/api/v1/permissions', { body: { permissions: [{ key: 'hosts.view', category: 'Hosts' }] } });
    roleId = (await api.POST('/api/v1/roles', { body: { name: 'Hosts viewer', permissions: ['hosts.view'] } })).data!.id;
    viewer.id = await createPlainUser(t, admin, { email: viewer.email, password: viewer.password });
    await api.POST('/api/v1/assignments', { body: { roleId, userId: viewer.id } });
  });

  /** A JWT access token from Tessera's OpenID Provider (code + PKCE) for the API, and the Tessera session behind it. */
  async function providerToken() {
    const rp = await relyingParty(t, web);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK, scope: 'openid permissions' });
    const tessera = await loginOverHttp(t, { email: viewer.email, password: viewer.password, tenantId: admin.tenantId });
    const callback = await signIn(t, new CookieJar(), request, tessera);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    return { accessToken: tokens.access_token, tessera };
  }
  afterAll(async () => {
    await t?.close();
  });

  const withApi = async (framework: Framework, options: Partial<TesseraAuthOptions>, work: (url: string) => Promise<void>) => {
    const api = await startGuardedApi(framework, createTesseraAuth({ issuer: t.url, audience: API_AUDIENCE, ...options }));
    try {
      await work(api.url);
    } finally {
      await api.close();
    }
  };
  const get = async (url: string, token?: string) => {
    const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, challenge: res.headers.get('www-authenticate'), body: (await res.json()) as { error?: { code: string }; sub?: string; permissions?: string[]; introspected?: boolean } };
  };

  describe.each(['fastify', 'express'] as const)('%s', (framework) => {
    it('no token: 401 with the bare Bearer challenge (RFC 6750 §3.1); a bad one: 401 invalid_token and its code', async () => {
      await withApi(framework, {}, async (url) => {
        const none = await get(`${url}/hosts`);
        expect(none.status).toBe(401);
        expect(none.challenge).toBe(`Bearer realm="${t.url}"`);
        expect(none.body.error?.code).toBe('token_missing');
        for (const [token, code] of [
          ['junk', 'token_malformed'],
          [await signWithTesseraKey(t, { exp: Math.floor(Date.now() / 1000) - 60, permissions: ['hosts.view'] }), 'token_expired'],
          [await signWithTesseraKey(t, { aud: 'https://other.example', permissions: ['hosts.view'] }), 'token_wrong_audience'],
        ] as const) {
          const res = await get(`${url}/hosts`, token);
          expect(res.status, code).toBe(401);
          expect(res.challenge, code).toMatch(/^Bearer realm="[^"]+", error="invalid_token", error_description="[^"]+"$/);
          expect(res.body.error?.code).toBe(code);
        }
        const basic = await fetch(`${url}/hosts`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
        expect(basic.status).toBe(401);
      });
    });

    it("a token with the permission passes and the verified claims reach the handler; without it: 403 insufficient_scope", async () => {
      await withApi(framework, {}, async (url) => {
        const viewerToken = await signWithTesseraKey(t, { sub: admin.userId, permissions: ['hosts.view'] });
        const ok = await get(`${url}/hosts`, viewerToken);
        expect(ok).toMatchObject({ status: 200, body: { sub: admin.userId, permissions: ['hosts.view'], introspected: false } });
        const denied = await get(`${url}/deploy`, viewerToken);
        expect(denied.status).toBe(403);
        expect(denied.challenge).toMatch(/error="insufficient_scope"/);
        expect(denied.body.error?.code).toBe('permission_denied');
        const nothing = await signWithTesseraKey(t, { sub: admin.userId });
        expect((await get(`${url}/hosts`, nothing)).status).toBe(403);
        // authenticate alone needs no permission; requireAnyPermission one of its keys.
        expect((await get(`${url}/me`, nothing)).status).toBe(200);
        expect((await get(`${url}/either`, await signWithTesseraKey(t, { permissions: ['hosts.manage'] }))).status).toBe(200);
        expect((await get(`${url}/either`, await signWithTesseraKey(t, { permissions: ['patches.deploy'] }))).status).toBe(403);
        expect((await get(`${url}/deploy`, await signWithTesseraKey(t, { permissions: ['patches.deploy', 'hosts.view'] }))).status).toBe(200);
        // A real Tessera session token (no permissions claim) is a valid token that carries no permission.
        expect((await get(`${url}/me`, admin.accessToken)).body.sub).toBe(admin.userId);
        expect((await get(`${url}/hosts`, admin.accessToken)).status).toBe(403);
      });
    });

    it("a provider's JWT access token with the permission passes; a Tessera logout is refused on the next request in strict mode only", async () => {
      const { accessToken, tessera } = await providerToken();
      await withApi(framework, {}, async (relaxed) => {
        await withApi(framework, { introspection: { clientId: web.clientId, clientSecret: web.clientSecret! } }, async (strict) => {
          expect(await get(`${relaxed}/hosts`, accessToken)).toMatchObject({ status: 200, body: { sub: viewer.id, introspected: false } });
          const checked = await get(`${strict}/hosts`, accessToken);
          expect(checked).toMatchObject({ status: 200, body: { sub: viewer.id, permissions: ['hosts.view'], introspected: true } });
          const out = await fetch(`${t.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${tessera.accessToken}` } });
          expect(out.status).toBe(204);
          const refused = await get(`${strict}/hosts`, accessToken);
          expect(refused.status).toBe(401);
          expect(refused.challenge).toMatch(/error="invalid_token"/);
          expect(refused.body.error?.code).toBe('token_inactive');
          // The trade-off of the default mode: the signed token stays good until it expires.
          expect((await get(`${relaxed}/hosts`, accessToken)).status).toBe(200);
        });
      });
    });

    it('strict mode checks the current permissions: a role taken away is refused on the next request', async () => {
      const { accessToken } = await providerToken();
      await withApi(framework, { introspection: { clientId: web.clientId, clientSecret: web.clientSecret! } }, async (strict) => {
        expect((await get(`${strict}/hosts`, accessToken)).status).toBe(200);
        const api = createTesseraClient({ baseUrl: t.url, token: admin.accessToken });
        const { data } = await api.GET('/api/v1/assignments');
        const mine = data!.items.find((a) => a.roleId === roleId && a.principal.id === viewer.id)!;
        await api.DELETE('/api/v1/assignments/{id}', { params: { path: { id: mine.id } } });
        try {
          const refused = await get(`${strict}/hosts`, accessToken);
          expect(refused.status).toBe(403);
          expect(refused.body.error?.code).toBe('permission_denied');
        } finally {
          await api.POST('/api/v1/assignments', { body: { roleId, userId: viewer.id } });
        }
      });
    });

    it('strict mode with wrong client credentials refuses every token with 503 introspection_failed (fails closed)', async () => {
      await withApi(framework, { introspection: { clientId: web.clientId, clientSecret: 'tcs1.wrong' } }, async (url) => {
        const res = await get(`${url}/hosts`, await signWithTesseraKey(t, { permissions: ['hosts.view'] }));
        expect(res.status).toBe(503);
        expect(res.body.error?.code).toBe('introspection_failed');
      });
    });
  });
});
