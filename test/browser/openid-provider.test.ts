import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { launchBrowser, sharedConsoleBuild, screenshot, seriousViolations, type TestBrowser, watchPage } from '../support/browser.js';
import { engines } from '../support/databases.js';
import { callApi } from '../support/http.js';
import { type LoggedIn, loginAsAdmin } from '../support/login.js';
import { authorizationRequest, type AuthorizationRequest, registerApp, relyingParty, startOpTestApp } from '../support/tessera-op.js';

/**
 * An application signs a user in through Tessera's hosted sign-in, in Chromium, end to end: the application (a small
 * server with openid-client) sends the browser to the authorization endpoint, the login page signs the user in and
 * hands its session to the provider, the browser comes back to the application with a code, which the application
 * exchanges. Then a logout in Tessera ends the application's session on its next refresh.
 */
describe.each(engines())('signing in to an application through Tessera, in Chromium [%s]', { timeout: 120_000 }, (engine) => {
  let t: TestApp;
  let browser: TestBrowser;
  let admin: LoggedIn;
  let app: http.Server;
  let appUrl = '';
  let rp: oidc.Configuration;
  let pending: AuthorizationRequest | undefined;
  let signedIn: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers | undefined;

  beforeAll(async () => {
    t = await startOpTestApp(engine, { consoleDir: await sharedConsoleBuild() });
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    browser = await launchBrowser();
    // The application: /start sends the browser to Tessera, /callback exchanges the code and greets the user.
    app = http.createServer((req, res) => {
      void (async () => {
        const url = new URL(req.url ?? '/', appUrl);
        if (url.pathname === '/start') {
          pending = await authorizationRequest(rp, { redirect_uri: `${appUrl}/callback`, scope: 'openid email profile permissions offline_access' });
          res.writeHead(302, { location: pending.url.href }).end();
        } else if (url.pathname === '/callback' && pending) {
          signedIn = await oidc.authorizationCodeGrant(rp, url, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce });
          const claims = signedIn.claims()!;
          res.writeHead(200, { 'content-type': 'text/html' }).end(`<!DOCTYPE html><html lang="en"><head><title>App</title></head><body><main><h1>Signed in as ${typeof claims.email === 'string' ? claims.email : ''}</h1></main></body></html>`);
        } else res.writeHead(404).end();
      })().catch((error: unknown) => res.writeHead(500).end(String(error)));
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const registered = await registerApp(t, admin, { name: 'Patch Manager', type: 'web', redirectUris: [`${appUrl}/callback`], scopes: ['openid', 'email', 'profile', 'permissions', 'offline_access'] });
    rp = await relyingParty(t, registered);
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (app ? app.close(() => resolve()) : resolve()));
    await t?.close();
  });

  it('the hosted sign-in names the application, signs the user in, and returns to the application signed in', async () => {
    const page: Page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    const problems = watchPage(page);
    await page.goto(`${appUrl}/start`);
    await page.waitForURL(/\/login\?interaction=/);
    await page.getByRole('heading', { name: 'Sign in to continue to Patch Manager' }).waitFor();
    await page.waitForTimeout(400);
    await screenshot(page, `${engine}-openid-provider-sign-in`);
    expect((await seriousViolations(page)).map((v) => v.id)).toEqual([]);
    await page.getByLabel('Email').fill(admin.email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel(/^Password/).fill(admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${appUrl}/callback**`);
    await page.getByRole('heading', { name: `Signed in as ${admin.email}` }).waitFor();
    expect(problems).toEqual([]);
    const claims = signedIn!.claims()!;
    expect(claims).toMatchObject({ sub: admin.userId, acc: admin.accountId });
    expect(claims.permissions).toContain('applications.manage');

    // The session the sign-in created is a Tessera session like any other: ending it ends the application's.
    const sessions = await callApi<{ sessions: { id: string; current: boolean }[] }>(t, admin, 'GET', '/api/v1/me/sessions');
    const others = sessions.body.sessions.filter((s) => !s.current);
    expect(others.length).toBeGreaterThan(0);
    for (const s of others) expect((await callApi(t, admin, 'DELETE', `/api/v1/me/sessions/${s.id}`)).status).toBe(204);
    await expect(oidc.refreshTokenGrant(rp, signedIn!.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});
