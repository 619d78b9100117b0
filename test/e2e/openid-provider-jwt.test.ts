import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { engines } from '../support/databases.js';
import { callApi } from '../support/http.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../support/login.js';
import { authorizationRequest, browse, CookieJar, type RegisteredApp, registerApp, relyingParty, signIn, startOpTestApp } from '../support/tessera-op.js';

const CALLBACK = 'https://app.example/callback';
const API = 'https://api.example/';
const REPORTS = 'urn:example:reports';

/**
 * RFC 9068 JWT access tokens from Tessera's OpenID Provider (RFC 8707 resource indicators choose the audience), as an
 * application backend sees them: verified offline with `jose` against `/.well-known/jwks.json`, and through
 * introspection (RFC 7662), which follows the Tessera session and the user's current permissions.
 */
describe.each(engines())('JWT access tokens (RFC 9068) from the OpenID Provider [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let web: RegisteredApp;
  let api: RegisteredApp;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  beforeAll(async () => {
    t = await startOpTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    web = await registerApp(t, admin, { name: 'Web', type: 'web', redirectUris: [CALLBACK], scopes: ['openid', 'email', 'offline_access', 'permissions'] });
    api = await registerApp(t, admin, { name: 'With APIs', type: 'web', redirectUris: [CALLBACK], scopes: ['openid', 'offline_access', 'permissions'], resources: [API, REPORTS] });
    jwks = createRemoteJWKSet(new URL(`${t.url}/.well-known/jwks.json`));
  });
  afterAll(async () => {
    await t?.close();
  });

  const verify = (token: string, audience: string) => jwtVerify(token, jwks, { issuer: t.url, audience, typ: 'at+jwt' });
  const sessionIdOf = (session: { accessToken: string }) => decodeJwt(session.accessToken).sid as string;

  async function signedIn(app: RegisteredApp, scope: string, params: Record<string, string> = {}, session?: { accessToken: string }) {
    const rp = await relyingParty(t, app);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK, scope, ...params });
    const tessera = session ?? (await loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId }));
    const callback = await signIn(t, new CookieJar(), request, tessera);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    return { rp, tokens, tessera };
  }

  async function permissionsOf(who: { accessToken: string }, accountId: string): Promise<string[]> {
    const access = await callApi<{ accounts: { accountId: string; permissions: { key: string }[] }[] }>(t, who, 'GET', '/api/v1/me/access');
    return access.body.accounts.find((a) => a.accountId === accountId)!.permissions.map((p) => p.key);
  }

  const oauthError = async (work: Promise<unknown>) => {
    const error = await work.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, 'expected the provider to refuse').toBeInstanceOf(Error);
    return (error as { error?: string }).error;
  };

  it('an access token is a JWT signed with the current key: typ at+jwt, every claim of the contract, permissions = /me/access', async () => {
    const { rp, tokens, tessera } = await signedIn(web, 'openid email offline_access permissions');
    const key = await t.app.services.keys.currentSigningKey();
    const header = decodeProtectedHeader(tokens.access_token);
    expect(header).toMatchObject({ typ: 'at+jwt', kid: key.kid, alg: key.alg });
    // An application that registered no API: the audience is its own client id.
    const { payload } = await verify(tokens.access_token, web.clientId);
    expect(payload).toMatchObject({ iss: t.url, aud: web.clientId, sub: admin.userId, client_id: web.clientId, acc: admin.accountId, tid: admin.tenantId, sid: sessionIdOf(tessera) });
    // offline_access is the refresh token's business, not the API's.
    expect(new Set((payload.scope as string).split(' '))).toEqual(new Set(['openid', 'email', 'permissions']));
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(payload.permissions).toEqual(await permissionsOf(admin, admin.accountId));
    // Nothing about the provider's internals: the account id it binds the token to names the session, never shown.
    expect(JSON.stringify(payload)).not.toContain(`${admin.tenantId}.${sessionIdOf(tessera)}`);
    // The same token still works at userinfo (the provider's own endpoint; OIDC Core §5.3.1).
    expect(await oidc.fetchUserInfo(rp, tokens.access_token, admin.userId)).toMatchObject({ sub: admin.userId, email: admin.email });
    // Without scope permissions, no permissions claim.
    const plain = await signedIn(web, 'openid');
    expect((await verify(plain.tokens.access_token, web.clientId)).payload.permissions).toBeUndefined();
  });

  it('the audience is the resource asked for (RFC 8707), the first registered API by default, and stays across refresh', async () => {
    const byDefault = await signedIn(api, 'openid offline_access');
    expect((await verify(byDefault.tokens.access_token, API)).payload.aud).toBe(API);
    const refreshed = await oidc.refreshTokenGrant(byDefault.rp, byDefault.tokens.refresh_token!);
    expect((await verify(refreshed.access_token, API)).payload).toMatchObject({ aud: API, sub: admin.userId });

    const reports = await signedIn(api, 'openid offline_access', { resource: REPORTS });
    expect((await verify(reports.tokens.access_token, REPORTS)).payload.aud).toBe(REPORTS);
    // A token for one API does not verify for another.
    await expect(verify(reports.tokens.access_token, API)).rejects.toThrow();
  });

  it('a resource the application did not register is refused with invalid_target, at authorization and at the token endpoint', async () => {
    const rp = await relyingParty(t, api);
    const request = await authorizationRequest(rp, { redirect_uri: CALLBACK, scope: 'openid', resource: 'https://evil.example/' });
    const res = await browse(new CookieJar(), request.url.href);
    expect(res.status).toBe(303);
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('invalid_target');
    // Another application's API, at the token endpoint of a code issued for the default one.
    const { rp: webRp, tokens } = await signedIn(api, 'openid offline_access');
    expect(await oauthError(oidc.refreshTokenGrant(webRp, tokens.refresh_token!, { resource: 'https://other.example/' }))).toBe('invalid_target');
    // Client credentials.
    const machine = await registerApp(t, admin, { name: 'Worker', type: 'machine', resources: [API] });
    const machineRp = await relyingParty(t, machine);
    expect(await oauthError(oidc.clientCredentialsGrant(machineRp, { resource: REPORTS }))).toBe('invalid_target');
  });

  it('a client-credentials token is a JWT for the application with no user claims', async () => {
    const machine = await registerApp(t, admin, { name: 'Batch', type: 'machine', resources: [API] });
    const rp = await relyingParty(t, machine);
    const tokens = await oidc.clientCredentialsGrant(rp);
    const { payload } = await verify(tokens.access_token, API);
    expect(payload).toMatchObject({ iss: t.url, aud: API, sub: machine.clientId, client_id: machine.clientId });
    for (const claim of ['acc', 'tid', 'sid', 'permissions', 'email']) expect(payload[claim], claim).toBeUndefined();
    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toMatchObject({ active: true, client_id: machine.clientId, aud: API });
  });

  it('introspection of a JWT follows the Tessera session: active with the current permissions, inactive after logout', async () => {
    const { rp, tokens, tessera } = await signedIn(web, 'openid offline_access permissions');
    const live = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(live).toMatchObject({ active: true, sub: admin.userId, client_id: web.clientId, aud: web.clientId, sid: sessionIdOf(tessera), permissions: await permissionsOf(admin, admin.accountId) });
    expect((await callApi(t, tessera, 'POST', '/auth/logout')).status).toBe(204);
    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toEqual({ active: false });
    await expect(oidc.fetchUserInfo(rp, tokens.access_token, admin.userId)).rejects.toThrow();
  });

  it("introspection answers the user's permissions after a role change, while the JWT keeps the issued ones", async () => {
    const email = `viewer-${Date.now()}@example.com`;
    const password = 'viewer password 42 words';
    const user = await callApi<{ id: string }>(t, admin, 'POST', '/api/v1/users', { email, password });
    expect(user.status, JSON.stringify(user.body)).toBe(201);
    const role = await callApi<{ id: string }>(t, admin, 'POST', '/api/v1/roles', { name: `Viewers ${Date.now()}`, permissions: ['idp.view'] });
    expect((await callApi(t, admin, 'POST', '/api/v1/assignments', { roleId: role.body.id, userId: user.body.id })).status).toBe(201);
    const session = await loginOverHttp(t, { email, password, tenantId: admin.tenantId });
    const { rp, tokens } = await signedIn(web, 'openid permissions', {}, session);
    expect((await verify(tokens.access_token, web.clientId)).payload.permissions).toEqual(['idp.view']);
    expect((await oidc.tokenIntrospection(rp, tokens.access_token)).permissions).toEqual(['idp.view']);

    expect((await callApi(t, admin, 'PATCH', `/api/v1/roles/${role.body.id}`, { permissions: ['audit.view'] })).status).toBe(200);
    expect((await oidc.tokenIntrospection(rp, tokens.access_token)).permissions).toEqual(await permissionsOf(session, admin.accountId));
    expect((await oidc.tokenIntrospection(rp, tokens.access_token)).permissions).toEqual(['audit.view']);
    expect((await verify(tokens.access_token, web.clientId)).payload.permissions).toEqual(['idp.view']);
  });

  it('a revoked JWT is inactive at once; its jti or a forged JWT opens nothing', async () => {
    const { rp, tokens } = await signedIn(web, 'openid offline_access');
    const { jti } = decodeJwt(tokens.access_token);
    const userinfo = (token: string) => fetch(`${t.url}/oidc/me`, { headers: { authorization: `Bearer ${token}` } });
    expect((await userinfo(tokens.access_token)).status).toBe(200);
    expect((await userinfo(jti!)).status).toBe(401);
    // The same claims under another signature: not a token Tessera issued.
    const [head, body] = tokens.access_token.split('.');
    expect((await userinfo(`${head}.${body}.${'A'.repeat(86)}`)).status).toBe(401);
    expect((await oidc.tokenIntrospection(rp, `${head}.${body}.${'A'.repeat(86)}`)).active).toBe(false);

    await oidc.tokenRevocation(rp, tokens.access_token);
    expect(await oidc.tokenIntrospection(rp, tokens.access_token)).toEqual({ active: false });
    expect((await userinfo(tokens.access_token)).status).toBe(401);
  });
});
