import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { engines } from '../support/databases.js';
import { callApi } from '../support/http.js';
import { createPlainUser, type LoggedIn, loginAsAdmin, loginOverHttp } from '../support/login.js';
import {
  authorizationRequest,
  browse,
  CookieJar,
  finishWithSession,
  followOnServer,
  type RegisteredApp,
  registerApp,
  relyingParty,
  signIn,
  startInteraction,
  startOpTestApp,
} from '../support/tessera-op.js';

const CALLBACK = 'https://app.example/callback';
const SPA_CALLBACK = 'http://127.0.0.1:5173/callback';

/**
 * Tessera as the OpenID Provider of the product's applications, driven by a real relying party (openid-client 6)
 * against a listening server. The browser's part is played by a cookie jar that follows redirects; the hosted sign-in
 * page's part is a login over HTTP followed by the call the page makes to finish the interaction.
 */
describe.each(engines())('Tessera as OpenID Provider, with openid-client [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let other: LoggedIn;
  let web: RegisteredApp;
  let spa: RegisteredApp;

  beforeAll(async () => {
    t = await startOpTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    other = await loginAsAdmin(t, { tenantName: 'Globex' });
    web = await registerApp(t, admin, { name: 'Web', type: 'web', redirectUris: [CALLBACK], postLogoutRedirectUris: ['https://app.example/bye'], scopes: ['openid', 'email', 'profile', 'offline_access', 'permissions'] });
    spa = await registerApp(t, admin, { name: 'SPA', type: 'spa', redirectUris: [SPA_CALLBACK], allowedOrigins: ['http://127.0.0.1:5173'] });
  });
  afterAll(async () => {
    await t?.close();
  });

  const freshSession = () => loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId });

  async function signedIn(app: RegisteredApp, redirectUri: string, scope = 'openid email profile offline_access', session?: { accessToken: string }) {
    const rp = await relyingParty(t, app);
    const request = await authorizationRequest(rp, { redirect_uri: redirectUri, scope });
    const tessera = session ?? (await freshSession());
    const jar = new CookieJar();
    const callback = await signIn(t, jar, request, tessera);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    return { rp, tokens, jar, tessera };
  }

  const oauthError = async (work: Promise<unknown>) => {
    const error = await work.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, 'expected the provider to refuse').toBeInstanceOf(Error);
    return (error as { error?: string }).error;
  };

  it('publishes discovery at the issuer with the JWKS Tessera already publishes, code flow and S256 only', async () => {
    const res = await fetch(`${t.url}/.well-known/openid-configuration`);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer: t.url,
      jwks_uri: `${t.url}/.well-known/jwks.json`,
      authorization_endpoint: `${t.url}/oidc/auth`,
      token_endpoint: `${t.url}/oidc/token`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
    });
    const jwks = (await (await fetch(`${t.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    const { kid } = await t.app.services.keys.currentSigningKey();
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);
  });

  it('a web app signs a user in with code + PKCE: ID token and userinfo name the user and the account', async () => {
    const { rp, tokens } = await signedIn(web, CALLBACK);
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ sub: admin.userId, acc: admin.accountId, email: admin.email, iss: t.url, aud: web.clientId });
    expect(typeof tokens.refresh_token).toBe('string');
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, admin.userId);
    expect(info).toMatchObject({ sub: admin.userId, email: admin.email, acc: admin.accountId });
  });

  it('scope permissions carries the same permissions as GET /api/v1/me/access', async () => {
    const { rp, tokens } = await signedIn(web, CALLBACK, 'openid permissions');
    const access = await callApi<{ accounts: { accountId: string; permissions: { key: string }[] }[] }>(t, admin, 'GET', '/api/v1/me/access');
    const expected = access.body.accounts.find((a) => a.accountId === admin.accountId)!.permissions.map((p) => p.key);
    expect(expected).toContain('applications.manage');
    expect(tokens.claims()!.permissions).toEqual(expected);
    expect((await oidc.fetchUserInfo(rp, tokens.access_token, admin.userId)).permissions).toEqual(expected);
  });

  it('an SPA (public client) signs in with PKCE; refresh tokens rotate and a reused one revokes the grant (RFC 9700 §4.14.2)', async () => {
    const { rp, tokens } = await signedIn(spa, SPA_CALLBACK);
    const first = tokens.refresh_token!;
    const rotated = await oidc.refreshTokenGrant(rp, first);
    expect(rotated.refresh_token).toBeDefined();
    expect(rotated.refresh_token).not.toBe(first);
    expect(rotated.claims()!.sub).toBe(admin.userId);
    // The spent token again: refused, and the token rotated from it dies with the grant.
    expect(await oauthError(oidc.refreshTokenGrant(rp, first))).toBe('invalid_grant');
    expect(await oauthError(oidc.refreshTokenGrant(rp, rotated.refresh_token!))).toBe('invalid_grant');
  });

  it('two refreshes racing with one token: exactly one succeeds (the consumption is atomic)', async () => {
    const { rp, tokens } = await signedIn(spa, SPA_CALLBACK);
    const results = await Promise.allSettled([oidc.refreshTokenGrant(rp, tokens.refresh_token!), oidc.refreshTokenGrant(rp, tokens.refresh_token!)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('a wrong redirect URI is refused with no redirect at all (RFC 6749 §4.1.2.1)', async () => {
    const rp = await relyingParty(t, web);
    for (const uri of ['https://evil.example/callback', `${CALLBACK}/more`, `${CALLBACK}?x=1`, 'https://APP.example/callback']) {
      const request = await authorizationRequest(rp, { redirect_uri: uri });
      const res = await browse(new CookieJar(), request.url.href);
      expect(res.status, uri).toBe(400);
      expect(res.headers.get('location'), uri).toBeNull();
    }
  });

  it('PKCE is required (public and confidential clients), S256 only, and cannot be dropped at the token endpoint', async () => {
    for (const [app, uri] of [[spa, SPA_CALLBACK], [web, CALLBACK]] as const) {
      const rp = await relyingParty(t, app);
      const bare = oidc.buildAuthorizationUrl(rp, { redirect_uri: uri, scope: 'openid', state: 's' });
      const res = await browse(new CookieJar(), bare.href);
      expect(res.status).toBe(303);
      expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
      const plain = oidc.buildAuthorizationUrl(rp, { redirect_uri: uri, scope: 'openid', state: 's', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
      expect(new URL((await browse(new CookieJar(), plain.href)).headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    }
    // Downgrade: the request carried a challenge, the code is redeemed without the verifier.
    const rp = await relyingParty(t, web);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK });
    const callback = await signIn(t, new CookieJar(), request, await freshSession());
    const body = new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: CALLBACK });
    const res = await fetch(`${t.url}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${web.clientId}:${web.clientSecret}`).toString('base64')}` }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it("a session in another account obtains nothing for an account's application (openid_provider.account_mismatch)", async () => {
    const rp = await relyingParty(t, web);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK });
    const jar = new CookieJar();
    const { uid } = await startInteraction(t, jar, request.url);
    const stranger = await loginOverHttp(t, { email: other.email, password: other.password, tenantId: other.tenantId });
    const refused = await finishWithSession(t, jar, uid, stranger);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'openid_provider.account_mismatch' } });
    expect(refused.callback).toBeUndefined();
    // Nor can a client of the other account redeem a code issued to this one.
    const theirs = await registerApp(t, other, { name: 'Theirs', type: 'web', redirectUris: [CALLBACK] });
    const callback = await signIn(t, new CookieJar(), request, await freshSession());
    const theirRp = await relyingParty(t, theirs);
    expect(await oauthError(oidc.authorizationCodeGrant(theirRp, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce }))).toBe('invalid_grant');
  });

  it('prompt=none: login_required without a provider session, a code at once with one', async () => {
    const rp = await relyingParty(t, web);
    const cold = await authorizationRequest(rp, { redirect_uri: CALLBACK, prompt: 'none' });
    const refused = await browse(new CookieJar(), cold.url.href);
    expect(refused.status).toBe(303);
    const back = new URL(refused.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(CALLBACK);
    expect(back.searchParams.get('error')).toBe('login_required');

    const { jar } = await signedIn(web, CALLBACK);
    const silent = await authorizationRequest(rp, { redirect_uri: CALLBACK, prompt: 'none' });
    const { url } = await followOnServer(t, jar, silent.url.href);
    const code = new URL(url);
    expect(code.searchParams.get('code')).toBeTruthy();
    const tokens = await oidc.authorizationCodeGrant(rp, code, { pkceCodeVerifier: silent.verifier, expectedState: silent.state, expectedNonce: silent.nonce });
    expect(tokens.claims()!.sub).toBe(admin.userId);
  });

  it('logout in Tessera ends the application session on its next request: refresh, userinfo and prompt=none refused', async () => {
    const { rp, tokens, jar, tessera } = await signedIn(web, CALLBACK);
    expect((await callApi(t, tessera, 'POST', '/auth/logout')).status).toBe(204);
    expect(await oauthError(oidc.refreshTokenGrant(rp, tokens.refresh_token!))).toBe('invalid_grant');
    await expect(oidc.fetchUserInfo(rp, tokens.access_token, admin.userId)).rejects.toThrow();
    const silent = await authorizationRequest(rp, { redirect_uri: CALLBACK, prompt: 'none' });
    const res = await browse(jar, silent.url.href);
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('login_required');
    const introspected = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(introspected.active).toBe(false);
  });

  it("a de-provisioned user's refresh is refused on the next request", async () => {
    const email = `leaver-${Date.now()}@example.com`;
    const userId = await createPlainUser(t, admin, { email, password: 'leaver password 42' });
    const session = await loginOverHttp(t, { email, password: 'leaver password 42', tenantId: admin.tenantId });
    const { rp, tokens } = await signedIn(web, CALLBACK, 'openid offline_access', session);
    const rotated = await oidc.refreshTokenGrant(rp, tokens.refresh_token!);
    expect(rotated.claims()!.sub).toBe(userId);
    const deactivated = await callApi(t, admin, 'PATCH', `/api/v1/users/${userId}`, { active: false });
    expect(deactivated.status, JSON.stringify(deactivated.body)).toBe(200);
    expect(await oauthError(oidc.refreshTokenGrant(rp, rotated.refresh_token!))).toBe('invalid_grant');
    await expect(oidc.fetchUserInfo(rp, rotated.access_token, userId)).rejects.toThrow();
  });

  it("tokens obtained before an administrator's password reset are refused on the next request", async () => {
    const email = `reset-${Date.now()}@example.com`;
    const userId = await createPlainUser(t, admin, { email, password: 'before reset 42 words' });
    const session = await loginOverHttp(t, { email, password: 'before reset 42 words', tenantId: admin.tenantId });
    const { rp, tokens } = await signedIn(web, CALLBACK, 'openid offline_access', session);
    expect((await oidc.fetchUserInfo(rp, tokens.access_token, userId)).sub).toBe(userId);
    const reset = await callApi(t, admin, 'POST', `/api/v1/users/${userId}/reset-password`, {});
    expect(reset.status, JSON.stringify(reset.body)).toBe(200);
    expect(await oauthError(oidc.refreshTokenGrant(rp, tokens.refresh_token!))).toBe('invalid_grant');
    await expect(oidc.fetchUserInfo(rp, tokens.access_token, userId)).rejects.toThrow();
    expect((await oidc.tokenIntrospection(rp, tokens.access_token)).active).toBe(false);
  });

  it('introspection answers for live tokens; revocation ends a refresh token (RFC 7662, RFC 7009)', async () => {
    const { rp, tokens } = await signedIn(web, CALLBACK);
    const live = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(live).toMatchObject({ active: true, sub: admin.userId, client_id: web.clientId });
    await oidc.tokenRevocation(rp, tokens.refresh_token!);
    expect(await oauthError(oidc.refreshTokenGrant(rp, tokens.refresh_token!))).toBe('invalid_grant');
  });

  it('a machine application obtains a token with client credentials, and no user sign-in', async () => {
    const machine = await registerApp(t, admin, { name: 'Worker', type: 'machine' });
    const rp = await relyingParty(t, machine);
    const tokens = await oidc.clientCredentialsGrant(rp);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeUndefined();
    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toMatchObject({ active: true, client_id: machine.clientId });
    for (const secret of ['tcs1.not-the-secret', `${machine.clientSecret}x`]) {
      const res = await fetch(`${t.url}/oidc/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${machine.clientId}:${secret}`).toString('base64')}` }, body: 'grant_type=client_credentials' });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
    }
  });

  it('RP-initiated logout ends the Tessera session and returns to the registered post-logout URI', async () => {
    const { rp, tokens, jar, tessera } = await signedIn(web, CALLBACK);
    const end = oidc.buildEndSessionUrl(rp, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://app.example/bye', state: 'bye-state' });
    const page = await browse(jar, end.href);
    expect(page.status).toBe(200);
    const html = await page.text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    expect(xsrf).toBeTruthy();
    const confirm = await browse(jar, `${t.url}/oidc/session/end/confirm`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ xsrf: xsrf!, logout: 'yes' }).toString() });
    expect(confirm.status).toBe(303);
    expect(confirm.headers.get('location')).toBe('https://app.example/bye?state=bye-state');
    expect((await callApi(t, tessera, 'GET', '/api/v1/me')).status).toBe(401);
    expect(await oauthError(oidc.refreshTokenGrant(rp, tokens.refresh_token!))).toBe('invalid_grant');
  });
});
