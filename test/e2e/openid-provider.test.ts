import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { engines } from '../support/databases.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../support/login.js';
import { authorizationRequest, CookieJar, registerApp, relyingParty, signIn, startOpTestApp } from '../support/tessera-op.js';

describe.each(engines())('Tessera as OpenID Provider, with openid-client [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    t = await startOpTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a web app signs a user in with code + PKCE and reads userinfo', async () => {
    const app = await registerApp(t, admin, { name: 'Web', type: 'web', redirectUris: ['https://app.example/callback'] });
    const rp = await relyingParty(t, app);
    const request = await authorizationRequest(rp, { redirect_uri: 'https://app.example/callback' });
    const session = await loginOverHttp(t, { email: admin.email, password: admin.password, tenantId: admin.tenantId });
    const callback = await signIn(t, new CookieJar(), request, session);
    const tokens = await oidc.authorizationCodeGrant(rp, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ sub: admin.userId, acc: admin.accountId, email: admin.email, iss: t.url, aud: app.clientId });
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, claims.sub);
    expect(info).toMatchObject({ sub: admin.userId, email: admin.email });
  });
});
