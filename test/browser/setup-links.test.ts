import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/kernel/ids.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { RunningClock } from '../../src/kernel/clock.js';
import { browserPages, launchBrowser, screenshot, sharedConsoleBuild } from '../support/browser.js';
import { engines } from '../support/databases.js';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { callApi, requestJson } from '../support/http.js';
import { type LoggedIn, loginAsAdmin } from '../support/login.js';
import { startOp, type TestOp } from '../support/oidc-provider.js';
import { IDP_SSO_URL, idpMetadata, readAuthnRequest, signedResponse } from '../support/saml-idp.js';
import { createUserAgent, freePort } from '../support/user-agent.js';

/**
 * Setup links in Chromium (README "Setup links"): a tenant administrator creates a link in the console; a person
 * holding only the link connects the real OpenID Provider (and, in another run, the samlify SAML IdP) for SSO and
 * SCIM through the guided pages, tests the sign-in, sees the first SCIM request arrive, and finishes; a user then
 * signs in through the connection. An expired link, a revoked one and a second browser get a human message. Every
 * page is scanned by axe-core and saved as a screenshot.
 */
describe.each(engines())('setup links in Chromium [%s]', { timeout: 120_000 }, (engine) => {
  let t: TestApp;
  let op: TestOp;
  let dns: TestDnsServer;
  const pages = browserPages(`${engine}-setup`, { timeoutMs: 15_000 });
  let admin: LoggedIn;
  let page: Page;

  beforeAll(async () => {
    dns = await startDnsServer();
    const port = await freePort();
    t = await startTestApp(engine, { port, clock: new RunningClock(), consoleDir: await sharedConsoleBuild(), env: { TESSERA_SSO_ALLOW_LOOPBACK: 'true', PUBLIC_URL: `http://127.0.0.1:${port}`, TESSERA_DNS_SERVERS: dns.server, TESSERA_DNS_TIMEOUT_MS: '1000', TESSERA_ACCESS_TOKEN_TTL: '3600' } });
    op = await startOp({ redirectUri: `${t.url}/auth/sso/oidc/callback` });
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
  }, 180_000);
  afterAll(async () => {
    await pages.close();
    await op?.close();
    await t?.close();
    await dns?.close();
  });

  const eventually = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 100 });
  const unique = (label: string) => `${label}-${newId().slice(-8)}.example`;

  async function freshPage(): Promise<Page> {
    page = await pages.freshPage();
    return page;
  }

  const checkPage = (name: string, p: Page = page) => pages.checkPage(name, p);

  /** The tenant administrator creates a link in the console; its URL, shown once. */
  async function createLinkInConsole(note: string): Promise<string> {
    await freshPage();
    await page.goto(`${t.url}/login`);
    await page.getByLabel('Email').fill(admin.email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel(/^Password/).fill(admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\//);
    await page.goto(`${t.url}/console/setup-links`);
    await page.getByRole('heading', { name: 'Setup links' }).waitFor();
    await page.getByLabel('Note').fill(note);
    await page.getByRole('button', { name: 'Create link' }).click();
    const url = (await page.getByTestId('setup-link-url').textContent())!;
    await checkPage('console-created');
    return url;
  }

  /** Adds and verifies a domain on the setup page (its TXT record published on the test DNS server). */
  async function verifyDomain(p: Page): Promise<string> {
    const domain = unique('corp');
    await p.getByRole('textbox', { name: 'Domain' }).fill(domain);
    await p.getByRole('button', { name: 'Add domain' }).click();
    const value = (await p.getByTestId('txt-value').textContent())!;
    dns.setTxt(`_tessera-verification.${domain}`, value);
    await p.getByRole('button', { name: `Check ${domain} now` }).click();
    await p.getByTestId(`domain-${domain}`).getByText('Verified').waitFor();
    return domain;
  }

  async function finish(p: Page, requireSso = false): Promise<void> {
    if (requireSso) await p.getByLabel(/Require SSO/).check();
    await p.getByRole('button', { name: 'Finish setup' }).click();
    await p.getByRole('button', { name: 'Finish', exact: true }).click();
    await p.getByTestId('setup-complete').waitFor();
  }

  it('OIDC: created in the console; the IT admin connects the OP, tests, sets up SCIM, finishes; a user signs in', async () => {
    t.clock.set(new Date());
    const url = await createLinkInConsole('Okta admin');
    const it = await freshPage();
    await it.goto(url);
    await it.getByRole('heading', { name: 'Connect Acme to your identity provider' }).waitFor();
    // The token leaves the address bar and the history at once.
    expect(new URL(it.url()).hash).toBe('');
    await checkPage('start', it);

    await it.getByRole('combobox', { name: 'Identity provider' }).click();
    await it.getByRole('option', { name: 'Okta' }).click();
    const domain = await verifyDomain(it);
    await eventually(() => it.getByTestId('setup-redirect-uri').textContent()).toBe(`${t.url}/auth/sso/oidc/callback`);
    await it.getByLabel('Issuer').fill(op.issuer);
    await it.getByLabel('Client ID').fill(op.clientId);
    await it.getByLabel('Client secret').fill(op.clientSecret);
    await checkPage('paste-values', it);
    await it.getByRole('button', { name: 'Save connection' }).click();
    await it.getByTestId('connection-saved').waitFor();

    op.addAccount('it-admin', { email: `it@${domain}`, email_verified: true, name: 'IT Admin' });
    // The server's clock is fixed: set to now before each sign-in, so the OP's id_token is not from its future.
    t.clock.set(new Date());
    op.queueLogin('it-admin', {});
    const [popup] = await Promise.all([pages.browser.context.waitForEvent('page'), it.getByRole('button', { name: 'Test sign-in' }).click()]);
    await popup.waitForURL(/\/setup\?ssoTest=/);
    await popup.getByText('Test sign-in finished').waitFor();
    await popup.close();
    await it.getByTestId('test-succeeded').waitFor();
    await eventually(() => it.getByTestId('test-succeeded').textContent()).toContain(`it@${domain}`);
    await checkPage('tested', it);

    await it.getByRole('button', { name: 'Create SCIM directory' }).click();
    await it.getByRole('button', { name: 'Create SCIM token' }).click();
    const token = (await it.getByTestId('scim-token').textContent())!;
    const baseUrl = (await it.getByTestId('scim-base-url').textContent())!;
    await eventually(() => it.getByTestId('scim-last-request').textContent()).toContain('none yet');
    const scim = await requestJson(baseUrl, 'POST', '/Users', { token, body: { userName: `bob@${domain}`, emails: [{ value: `bob@${domain}`, primary: true }] } });
    expect(scim.status, JSON.stringify(scim.body)).toBe(201);
    await eventually(() => it.getByTestId('scim-last-request').textContent()).not.toContain('none yet');
    await checkPage('scim', it);
    await finish(it);
    await checkPage('complete', it);

    // The tenant administrator sees the link completed and gives the connection's users a role; a user signs in.
    const links = await callApi<{ items: Array<{ note: string; state: string; connectionId: string }> }>(t, admin, 'GET', '/api/v1/setup-links');
    const link = links.body.items.find((l) => l.note === 'Okta admin')!;
    expect(link.state).toBe('completed');
    const role = await callApi<{ id: string }>(t, admin, 'POST', '/api/v1/roles', { name: 'Members', permissions: ['idp.view'] });
    expect((await callApi(t, admin, 'PATCH', `/api/v1/sso/connections/${link.connectionId}`, { defaultRoleId: role.body.id })).status).toBe(200);
    op.addAccount('carol', { email: `carol@${domain}`, email_verified: true, name: 'Carol' });
    t.clock.set(new Date());
    op.queueLogin('carol', {});
    const ua = createUserAgent();
    const { chain } = await ua.navigate(`${t.url}/auth/sso/start?connection=${link.connectionId}&returnTo=${encodeURIComponent(`${t.url}/console`)}`);
    expect(new URL(chain.at(-1)!).searchParams.get('error')).toBeNull();
    expect(await (await ua.request(`${t.url}/auth/sso/result`, { method: 'POST' })).json()).toMatchObject({ status: 'authenticated' });
  });

  it('SAML with the test SAML IdP: our SP values shown for the IdP, metadata pasted, the test sign-in succeeds', async () => {
    t.clock.set(new Date());
    const created = await callApi<{ url: string }>(t, admin, 'POST', '/api/v1/setup-links', { intent: 'sso' });
    const it = await freshPage();
    // The test IdP answers the browser with an auto-posting form carrying a signed Response for the AuthnRequest,
    // from a server of its own on the loopback address: same-site with Tessera (ports do not make sites), so the
    // SAML transaction cookie (SameSite=Lax over plain http) rides the form POST as it does from a real IdP to an
    // https PUBLIC_URL.
    const sp = { nameId: '', acsUrl: '', entityId: '' };
    const idp = createServer((req, res) => {
      void (async () => {
        const request = readAuthnRequest(`http://127.0.0.1${req.url ?? ''}`);
        const response = await signedResponse({ acsUrl: sp.acsUrl, spEntityId: sp.entityId, requestId: request.id, nameId: sp.nameId, attributes: { email: sp.nameId } });
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<form method="post" action="${sp.acsUrl}"><input type="hidden" name="SAMLResponse" value="${response}"></form><script>document.forms[0].submit()</script>`);
      })().catch(() => res.writeHead(500).end());
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    const idpSso = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/sso`;
    try {
      await it.goto(created.body.url);
      await it.getByRole('combobox', { name: 'Identity provider' }).click();
      await it.getByRole('option', { name: 'Any SAML 2.0 IdP' }).click();
      const domain = await verifyDomain(it);
      sp.nameId = `it@${domain}`;
      t.clock.set(new Date());
      sp.acsUrl = (await it.getByTestId('setup-acs-url').textContent())!;
      sp.entityId = (await it.getByTestId('setup-entity-id').textContent())!;
      expect(sp.acsUrl).toMatch(new RegExp(`^${t.url}/auth/sso/saml/acs/`));
      await it.getByLabel('Or the IdP metadata XML').fill(idpMetadata().replaceAll(IDP_SSO_URL, idpSso));
      await it.getByRole('button', { name: 'Save connection' }).click();
      await it.getByTestId('connection-saved').waitFor();
      const [popup] = await Promise.all([pages.browser.context.waitForEvent('page'), it.getByRole('button', { name: 'Test sign-in' }).click()]);
      await popup.waitForURL(/\/setup\?ssoTest=/);
      await popup.close();
      await it.getByTestId('test-succeeded').waitFor();
      await checkPage('saml-tested', it);
      await finish(it);
    } finally {
      await new Promise((resolve) => idp.close(resolve));
    }
  });

  it('an expired link, a revoked link and a second browser each get a human message', async () => {
    t.clock.set(new Date());
    const expiring = await callApi<{ url: string }>(t, admin, 'POST', '/api/v1/setup-links', { intent: 'domains', expiresIn: 600 });
    t.clock.set(new Date(Date.now() + 601_000));
    await freshPage();
    await page.goto(expiring.body.url);
    await page.getByText('This setup link has expired.').waitFor();
    await checkPage('expired');
    t.clock.set(new Date());

    const revoked = await callApi<{ url: string; link: { id: string } }>(t, admin, 'POST', '/api/v1/setup-links', { intent: 'scim' });
    await callApi(t, admin, 'POST', `/api/v1/setup-links/${revoked.body.link.id}/revoke`);
    await freshPage();
    await page.goto(revoked.body.url);
    await page.getByText('This setup link was revoked by your vendor.').waitFor();
    await checkPage('revoked');

    const shared = await callApi<{ url: string }>(t, admin, 'POST', '/api/v1/setup-links', { intent: 'domains' });
    await freshPage();
    await page.goto(shared.body.url);
    await page.getByRole('heading', { name: 'Connect Acme to your identity provider' }).waitFor();
    const other = await launchBrowser();
    try {
      const second = await other.newPage();
      await second.goto(shared.body.url);
      await second.getByText('Someone else is using this setup link in another browser.').waitFor();
      await screenshot(second, `${engine}-setup-in-use`);
    } finally {
      await other.close();
    }
  });
});
