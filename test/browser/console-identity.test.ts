import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCertificate } from '../../src/features/sso/saml-sp-keys.js';
import { newId } from '../../src/kernel/ids.js';
import type { TestApp } from '../support/app.js';
import { RunningClock } from '../../src/kernel/clock.js';
import { browserPages, sharedConsoleBuild } from '../support/browser.js';
import { engines } from '../support/databases.js';
import { callApi, requestJson } from '../support/http.js';
import { type LoggedIn, loginAsAdmin } from '../support/login.js';
import type { TestOp } from '../support/oidc-provider.js';
import { certs, IDP_ENTITY_ID, IDP_SSO_URL, idpAnswersLogoutRequest, idpMetadata, pemBody, readAuthnRequest, signedResponse, spMetadataCertificates } from '../support/saml-idp.js';
import { enrollTotp, totpCode } from '../support/sessions-http.js';
import { markDomainVerified, startSsoTestApp } from '../support/sso.js';
import { freePort } from '../support/user-agent.js';

/** A self-signed IdP certificate that ends in `days`: the console must warn before a SAML signing certificate expires. */
const certificateEndingIn = (days: number): string =>
  selfSignedCertificate({ commonName: 'expiring.idp.test', notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + days * 86_400_000) }).certificatePem;

/**
 * The console's identity and access pages (SSO connections, break-glass users, SCIM directories, role assignments,
 * API keys, user resets) in Chromium against the real server and the real OpenID Provider, on each engine: every
 * page is scanned by axe-core and saved as a screenshot under test-results/.
 */
describe.each(engines())('console identity and access pages in Chromium [%s]', { timeout: 90_000 }, (engine) => {
  let t: TestApp;
  let op: TestOp;
  const pages = browserPages(engine);
  let page: Page;
  const unique = () => newId().slice(-10);

  beforeAll(async () => {
    // The server's clock runs with real time (the OpenID Provider and the browser date things by it), so the
    // suite's own API tokens, obtained once per suite, live an hour rather than 5 minutes.
    ({ t, op } = await startSsoTestApp(engine, {}, { consoleDir: await sharedConsoleBuild(), clock: new RunningClock(), env: { TESSERA_ACCESS_TOKEN_TTL: '3600' } }));
  }, 120_000);
  afterAll(async () => {
    await pages.close();
    await op?.close();
    await t?.close();
  });

  async function freshPage(): Promise<Page> {
    page = await pages.freshPage();
    return page;
  }

  const checkPage = (name: string) => pages.checkPage(name);

  async function signIn(who: { email: string; password: string }, section: string): Promise<void> {
    await freshPage();
    await page.goto(`${t.url}/login`);
    await page.getByLabel('Email').fill(who.email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel(/^Password/).fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: section }).click();
  }

  const eventually = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 10_000, interval: 100 });
  const api = <T = Record<string, unknown>>(who: LoggedIn, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  it('SSO connections: create OIDC with a rule, copy the redirect URI, test it in a new window, disable after a confirmation', async () => {
    const domain = `c${unique()}.test`;
    const admin = await loginAsAdmin(t, { tenantName: 'SsoConsole', email: `root@${domain}` });
    await markDomainVerified(t, admin.tenantId, domain);
    expect((await api(admin, 'POST', '/api/v1/roles', { name: 'Engineers', permissions: ['idp.view'] })).status).toBe(201);
    await signIn(admin, 'SSO connections');
    await page.getByText('No SSO connections yet.').waitFor();
    await checkPage('console-sso-empty');
    await page.getByRole('button', { name: 'New connection' }).click();
    const dialog = page.getByRole('dialog', { name: 'New SSO connection' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('Corp IdP');
    await dialog.getByRole('textbox', { name: 'Domains' }).fill(domain);
    await dialog.getByRole('switch', { name: 'Enabled' }).check();
    // An issuer that is not https (and not the allowed loopback) is refused with the server's reason shown.
    await dialog.getByRole('textbox', { name: 'Issuer' }).fill('http://idp.example.com');
    await dialog.getByRole('textbox', { name: 'Client ID' }).fill(op.clientId);
    await dialog.getByLabel(/^Client secret/).fill(op.clientSecret);
    await dialog.getByRole('button', { name: 'Add rule' }).click();
    await dialog.getByRole('textbox', { name: 'Rule 1 value' }).fill('engineers');
    await dialog.getByRole('combobox', { name: 'Rule 1 role' }).click();
    await page.getByRole('option', { name: 'Engineers' }).click();
    await checkPage('console-sso-create');
    await dialog.getByRole('button', { name: 'Save connection' }).click();
    await eventually(() => dialog.getByRole('alert').textContent()).toContain('Single sign-on is not configured correctly.');
    await dialog.getByRole('textbox', { name: 'Issuer' }).fill(op.issuer);
    await dialog.getByRole('button', { name: 'Save connection' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const card = page.getByTestId('connection-Corp IdP');
    await eventually(() => card.getByTestId('sp-redirect-uri').textContent()).toBe(`${t.url}/auth/sso/oidc/callback`);
    await eventually(() => card.textContent()).toContain('1 mapping rule(s)');
    const saved = await api<{ items: { rules: { claim: string; value: string }[]; hasClientSecret: boolean }[] }>(admin, 'GET', '/api/v1/sso/connections');
    expect(saved.body.items).toMatchObject([{ hasClientSecret: true, rules: [{ claim: 'groups', value: 'engineers' }] }]);
    await checkPage('console-sso');
    // Test connection: a dry run in a new window; this window shows the claims and the mapping result.
    const sub = `t-${unique()}`;
    op.addAccount(sub, { email: `tester@${domain}`, email_verified: true, name: 'Tester', groups: ['engineers'] });
    op.queueLogin(sub);
    const [popup] = await Promise.all([pages.browser.context.waitForEvent('page'), card.getByRole('button', { name: 'Test connection' }).click()]);
    await popup.waitForURL(/\/console\/sso\/test-finished\?ssoTest=/);
    await popup.getByRole('heading', { name: 'Test finished' }).waitFor();
    await popup.close();
    await eventually(() => card.getByTestId('test-outcome').textContent()).toContain('Test succeeded');
    await eventually(() => card.getByTestId('test-claims').textContent()).toContain(`tester@${domain}`);
    await eventually(() => card.getByTestId('test-mapping').textContent()).toContain('matchedRules');
    await checkPage('console-sso-tested');
    // The test created no user.
    expect((await api<{ items: unknown[] }>(admin, 'GET', `/api/v1/users?q=tester`)).body.items).toEqual([]);
    // Disable asks first.
    await card.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('dialog', { name: 'Disable Corp IdP?' }).getByRole('button', { name: 'Disable' }).click();
    await eventually(() => card.textContent()).toContain('Disabled');
    expect((await api<{ items: { enabled: boolean }[] }>(admin, 'GET', '/api/v1/sso/connections')).body.items[0]!.enabled).toBe(false);
  });

  it('SSO connections: SAML from entity ID, SSO URL and a certificate; SP values to copy; expiry warning', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'SamlConsole', email: `saml-${unique()}@saml.test` });
    await signIn(admin, 'SSO connections');
    await page.getByRole('button', { name: 'New connection' }).click();
    const dialog = page.getByRole('dialog', { name: 'New SSO connection' });
    await dialog.getByText('SAML 2.0').click();
    await dialog.getByRole('textbox', { name: 'Name' }).fill('Saml IdP');
    await dialog.getByText('Entity ID, SSO URL, certificates').click();
    await dialog.getByRole('textbox', { name: 'IdP entity ID' }).fill(IDP_ENTITY_ID);
    await dialog.getByRole('textbox', { name: 'IdP SSO URL' }).fill(IDP_SSO_URL);
    await dialog.getByRole('textbox', { name: /^Certificates/ }).fill(certificateEndingIn(10));
    await dialog.getByRole('button', { name: 'Save connection' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const card = page.getByTestId('connection-Saml IdP');
    const [connection] = (await api<{ items: { id: string }[] }>(admin, 'GET', '/api/v1/sso/connections')).body.items;
    await eventually(() => card.getByTestId('sp-acs-url').textContent()).toBe(`${t.url}/auth/sso/saml/acs/${connection!.id}`);
    await eventually(() => card.getByTestId('sp-metadata-url').textContent()).toBe(`${t.url}/auth/sso/saml/${connection!.id}/metadata`);
    await eventually(() => card.getByTestId('certificate-warning').textContent()).toContain('Certificate expires soon');
    await checkPage('console-sso-saml');
  });

  it('SSO connection details: private_key_jwt keys rotated with overlap, the values to paste per IdP, discovery refreshed with what changed or why not', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'PkJwt', email: `pk-${unique()}@pk.test` });
    const created = await api<{ id: string; clientJwks: { keys: { kid: string }[] }; clientJwksUri: string; redirectUri: string }>(admin, 'POST', '/api/v1/sso/connections', {
      type: 'oidc', name: 'Keyed IdP', rules: [], oidc: { issuer: op.issuer, clientId: op.clientId, tokenEndpointAuthMethod: 'private_key_jwt' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const firstKid = created.body.clientJwks.keys[0]!.kid;
    const jwksPath = new URL(created.body.clientJwksUri).pathname;
    const published = async () => (await requestJson<{ keys: { kid: string }[] }>(t.url, 'GET', jwksPath)).body.keys.map((k) => k.kid);
    await signIn(admin, 'SSO connections');
    const card = page.getByTestId('connection-Keyed IdP');
    const keys = card.getByRole('region', { name: 'Client keys of Keyed IdP' });
    await eventually(() => keys.getByTestId('client-jwks-url').textContent()).toBe(created.body.clientJwksUri);
    await eventually(() => keys.getByRole('row').count()).toBe(2);
    expect(await keys.getByRole('row').nth(1).textContent()).toContain(firstKid);

    // The values to paste, named as each IdP names them (docs/sso/).
    const values = card.getByRole('region', { name: /^Values to register/ });
    const chooseIdp = async (label: string) => {
      await values.getByRole('combobox', { name: 'Your identity provider' }).click();
      await page.getByRole('option', { name: label, exact: true }).click();
    };
    await chooseIdp('Okta');
    await eventually(() => values.textContent()).toContain('Sign-in redirect URI');
    expect(await values.getByTestId('sp-jwks-url').textContent()).toBe(created.body.clientJwksUri);
    expect(await values.textContent()).toContain('Public key / Private key: URL to fetch keys');
    await chooseIdp('Auth0');
    await eventually(() => values.getByTestId('sp-public-key-pem').textContent()).toContain('BEGIN PUBLIC KEY');
    expect(await values.textContent()).toContain('Allowed Callback URLs');
    await checkPage('console-sso-idp-values');
    await chooseIdp('Microsoft Entra ID');
    await eventually(() => values.getByTestId('idp-note').first().textContent()).toContain("does not take Tessera's private_key_jwt keys");
    expect(await values.getByTestId('sp-jwks-url').count()).toBe(0);

    // Rotate (after a confirmation): the new key signs, the previous stays published until removed.
    await keys.getByRole('button', { name: 'Rotate key' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate the client key of Keyed IdP?' });
    await checkPage('console-sso-rotate-confirm');
    await confirm.getByRole('button', { name: 'Rotate key' }).click();
    await confirm.waitFor({ state: 'hidden' });
    await eventually(() => keys.getByRole('row').count()).toBe(3);
    const [newKid, oldKid] = await published();
    expect(oldKid).toBe(firstKid);
    await eventually(() => keys.getByRole('row').nth(1).textContent()).toContain(newKid);
    expect(await keys.getByRole('row').nth(1).textContent()).toContain('Current: signs');
    expect(await keys.getByRole('row').nth(2).textContent()).toContain('Previous: still published');
    // The current key has no Remove button.
    expect(await keys.getByRole('row').nth(1).getByRole('button', { name: 'Remove' }).count()).toBe(0);
    await checkPage('console-sso-keys-rotated');
    await keys.getByRole('row').nth(2).getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog', { name: /^Stop publishing key/ }).getByRole('button', { name: 'Remove key' }).click();
    await eventually(() => keys.getByRole('row').count()).toBe(2);
    expect(await published()).toEqual([newKid]);

    // Refresh the discovery document now: what changed is shown.
    const discovery = card.getByRole('region', { name: 'Discovery document of Keyed IdP' });
    await eventually(() => discovery.getByTestId('document-fetched').textContent()).toContain('last fetched');
    op.tamperNext('/.well-known/openid-configuration', (doc) => ({ ...doc, authorization_response_iss_parameter_supported: false }));
    await discovery.getByRole('button', { name: 'Refresh now' }).click();
    await eventually(() => discovery.getByTestId('refresh-outcome').textContent()).toContain('iss in the authorization response (RFC 9207): yes → no');
    await checkPage('console-sso-discovery-refreshed');
    await discovery.getByRole('button', { name: 'Refresh now' }).click();
    await eventually(() => discovery.getByTestId('refresh-outcome').textContent()).toContain('no → yes');
    await discovery.getByRole('button', { name: 'Refresh now' }).click();
    await eventually(() => discovery.getByTestId('refresh-outcome').textContent()).toContain('nothing changed');
    // Refused (the document names another issuer): the reason is shown and the settings stay.
    const before = (await api<{ oidc: { discovery: { fetchedAt: string } } }>(admin, 'GET', `/api/v1/sso/connections/${created.body.id}`)).body.oidc.discovery.fetchedAt;
    op.tamperNext('/.well-known/openid-configuration', (doc) => ({ ...doc, issuer: 'https://evil.example' }));
    await discovery.getByRole('button', { name: 'Refresh now' }).click();
    await eventually(() => discovery.getByRole('alert').textContent()).toContain('Single sign-on is not configured correctly.');
    expect(await discovery.getByTestId('error-reason').textContent()).toContain('issuer');
    expect(await discovery.getByTestId('refresh-outcome').count()).toBe(0);
    await checkPage('console-sso-discovery-refused');
    expect((await api<{ oidc: { discovery: { fetchedAt: string } } }>(admin, 'GET', `/api/v1/sso/connections/${created.body.id}`)).body.oidc.discovery.fetchedAt).toBe(before);
  });

  it('SSO connection details: SAML metadata from a URL, when it was fetched, refreshed with the new certificate shown; SP key rotated with overlap', async () => {
    let served = idpMetadata([certs.a]);
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(served));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const metadataUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata`;
      const admin = await loginAsAdmin(t, { tenantName: 'SamlRefresh', email: `meta-${unique()}@meta.test` });
      const created = await api(admin, 'POST', '/api/v1/sso/connections', { type: 'saml', name: 'Metadata IdP', rules: [], saml: { metadataUrl } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await signIn(admin, 'SSO connections');
      const section = page.getByTestId('connection-Metadata IdP').getByRole('region', { name: 'IdP metadata of Metadata IdP' });
      await eventually(() => section.getByTestId('document-fetched').textContent()).toContain(`last fetched`);
      expect(await section.getByTestId('document-fetched').textContent()).toContain(metadataUrl);
      served = idpMetadata([certs.b, certs.a]);
      await section.getByRole('button', { name: 'Refresh now' }).click();
      await eventually(() => section.getByTestId('refresh-outcome').textContent()).toContain('Signing certificates');
      expect(await section.getByTestId('refresh-outcome').textContent()).toContain('idp-b');
      await checkPage('console-sso-metadata-refreshed');
      served = '<not-metadata/>';
      await section.getByRole('button', { name: 'Refresh now' }).click();
      await eventually(() => section.getByRole('alert').textContent()).toContain('the settings are unchanged');
      const kept = await api<{ items: { id: string; saml: { certificates: unknown[]; spMetadataUrl: string } }[] }>(admin, 'GET', '/api/v1/sso/connections');
      expect(kept.body.items[0]!.saml.certificates).toHaveLength(2);

      // Our SP key: rotated with overlap (both certificates in the SP metadata), then the previous one removed.
      const spMetadataCerts = async () => spMetadataCertificates(await (await fetch(kept.body.items[0]!.saml.spMetadataUrl)).text()).signing;
      const spKeys = page.getByTestId('connection-Metadata IdP').getByRole('region', { name: 'SP keys of Metadata IdP' });
      await eventually(() => spKeys.getByTestId('sp-keys').getByRole('row').count()).toBe(2);
      const firstCert = (await spKeys.getByTestId('sp-certificate').textContent())!;
      expect(await spMetadataCerts()).toEqual([pemBody(firstCert)]);
      await spKeys.getByRole('button', { name: 'Rotate SP key' }).click();
      await page.getByRole('dialog', { name: 'Rotate the SP key of Metadata IdP?' }).getByRole('button', { name: 'Rotate SP key' }).click();
      await eventually(() => spKeys.getByTestId('sp-keys').getByRole('row').count()).toBe(3);
      await eventually(async () => pemBody((await spKeys.getByTestId('sp-certificate').textContent())!)).not.toBe(pemBody(firstCert));
      const secondCert = (await spKeys.getByTestId('sp-certificate').textContent())!;
      expect(await spMetadataCerts()).toEqual([pemBody(secondCert), pemBody(firstCert)]);
      expect(await spKeys.getByTestId('sp-keys').getByRole('row').nth(1).getByRole('button', { name: 'Remove' }).count()).toBe(0);
      await checkPage('console-sso-sp-keys-rotated');
      await spKeys.getByTestId('sp-keys').getByRole('row').nth(2).getByRole('button', { name: 'Remove' }).click();
      await page.getByRole('dialog', { name: 'Remove the previous SP key?' }).getByRole('button', { name: 'Remove key' }).click();
      await eventually(() => spKeys.getByTestId('sp-keys').getByRole('row').count()).toBe(2);
      expect(await spMetadataCerts()).toEqual([pemBody(secondCert)]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('break-glass sign-ins: the history shows a sign-in past Require SSO to tenant administrators', async () => {
    const domain = `bgh${unique()}.test`;
    const admin = await loginAsAdmin(t, { tenantName: 'BreakGlassHistory', email: `root@${domain}` });
    await markDomainVerified(t, admin.tenantId, domain);
    expect((await api(admin, 'POST', '/api/v1/sso/connections', { type: 'oidc', name: 'Corp', enabled: true, domains: [domain], rules: [], oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } })).status).toBe(201);
    expect((await api(admin, 'PUT', '/api/v1/sso/break-glass', { userIds: [admin.userId] })).status).toBe(200);
    await signIn(admin, 'Security settings');
    const history = page.getByRole('region', { name: 'Break-glass sign-ins' });
    await history.getByText('No break-glass sign-ins').waitFor();
    await checkPage('console-break-glass-history-empty');
    // Require SSO on; the administrator signs in past it with password and TOTP (the break-glass way).
    const { secret } = await enrollTotp(t, admin.tenantId, admin.userId);
    const domains = await api<{ items: { id: string; domain: string }[] }>(admin, 'GET', '/api/v1/domains');
    const on = await api(admin, 'PATCH', `/api/v1/domains/${domains.body.items.find((d) => d.domain === domain)!.id}`, { requireSso: true });
    expect(on.status, JSON.stringify(on.body)).toBe(200);
    await freshPage();
    await page.goto(`${t.url}/login`);
    await page.getByLabel('Email').fill(admin.email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Workspace owner? Sign in with password' }).click();
    await page.getByLabel(/^Password/).fill(admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Authentication code').fill(totpCode(t, secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: 'Security settings' }).click();
    const table = page.getByRole('region', { name: 'Break-glass sign-ins' }).getByTestId('break-glass-logins');
    await eventually(() => table.getByRole('row').count()).toBe(2);
    const row = await table.getByRole('row').nth(1).textContent();
    expect(row).toContain(admin.email);
    expect(row).toContain('pwd + otp');
    await checkPage('console-break-glass-history');
  });

  it('break-glass users on the Security page: add a tenant administrator, refuse anyone else, remove after a confirmation', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'BreakGlass', email: `bg-${unique()}@bg.test` });
    expect((await api(admin, 'POST', '/api/v1/users', { email: 'plain@bg.test', password: 'a long enough password 1', mustChangePassword: false })).status).toBe(201);
    await signIn(admin, 'Security settings');
    const section = page.getByRole('region', { name: 'Break-glass users' });
    await section.getByText('No break-glass users.').waitFor();
    await section.getByRole('textbox', { name: 'Add a break-glass user' }).fill('plain@bg.test');
    await section.getByRole('button', { name: 'Add' }).click();
    await eventually(() => section.getByRole('alert').textContent()).toContain('Only active tenant administrators can be break-glass users.');
    await section.getByRole('textbox', { name: 'Add a break-glass user' }).fill(admin.email);
    await section.getByRole('button', { name: 'Add' }).click();
    await eventually(() => section.getByTestId('break-glass-users').textContent()).toContain(admin.email);
    await checkPage('console-security-break-glass');
    await section.getByRole('button', { name: 'Remove' }).click();
    const confirm = page.getByRole('dialog', { name: /from break-glass\?$/ });
    await confirm.getByRole('button', { name: 'Remove' }).click();
    // The dialog closes once the change is saved and the list read again; if it stays, its text (the error the
    // server gave) is what this test fails with.
    await eventually(async () => ((await confirm.count()) === 0 ? 'closed' : await confirm.innerText())).toBe('closed');
    await section.getByText('No break-glass users.').waitFor();
    expect((await api<{ items: unknown[] }>(admin, 'GET', '/api/v1/sso/break-glass')).body.items).toEqual([]);
  });

  it('SCIM directories: create, the token shown once works, revoke it, map a group to a role, delete', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'ScimConsole', email: `scim-${unique()}@scim.test` });
    expect((await api(admin, 'POST', '/api/v1/roles', { name: 'Members', permissions: ['idp.view'] })).status).toBe(201);
    await signIn(admin, 'SCIM directories');
    await page.getByText('No SCIM directories yet.').waitFor();
    await checkPage('console-scim-empty');
    await page.getByRole('textbox', { name: 'Directory name' }).fill('Okta');
    await page.getByRole('button', { name: 'Create directory' }).click();
    const card = page.getByTestId('directory-Okta');
    const baseUrl = (await card.getByTestId('scim-base-url').textContent())!;
    expect(baseUrl).toMatch(new RegExp(`^${t.url}/scim/v2/`));
    await card.getByText('No live token').waitFor();
    await card.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByRole('dialog', { name: 'Your new SCIM token' });
    const token = (await shown.getByTestId('scim-token').textContent())!;
    await checkPage('console-scim-token');
    await shown.getByRole('button', { name: 'I have copied it' }).click();
    await shown.waitFor({ state: 'hidden' });
    // The token is gone from the page once the dialog is closed; it works against the SCIM API.
    expect(await page.getByText(token).count()).toBe(0);
    const scim = (auth: string) => requestJson(baseUrl, 'GET', '/Users', { headers: { authorization: `Bearer ${auth}` } });
    expect((await scim(token)).status).toBe(200);
    // Role mappings.
    await card.getByRole('button', { name: 'Edit mappings' }).click();
    const mappings = page.getByRole('dialog', { name: 'Role mappings of Okta' });
    await mappings.getByRole('button', { name: 'Add mapping' }).click();
    await mappings.getByRole('textbox', { name: /^Group 1/ }).fill('Everyone');
    await mappings.getByRole('combobox', { name: 'Role for group 1' }).click();
    await page.getByRole('option', { name: 'Members' }).click();
    await checkPage('console-scim-mappings');
    await mappings.getByRole('button', { name: 'Save mappings' }).click();
    await mappings.waitFor({ state: 'hidden' });
    await eventually(() => card.textContent()).toContain('Everyone → Members');
    await page.reload();
    await eventually(() => card.getByRole('row').count()).toBe(2);
    await eventually(() => card.getByRole('row').nth(1).textContent()).not.toContain('never');
    await checkPage('console-scim');
    await card.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog', { name: 'Revoke this token?' }).getByRole('button', { name: 'Revoke' }).click();
    await card.getByText('No live token').waitFor();
    expect((await scim(token)).status).toBe(401);
    await card.getByRole('button', { name: 'Delete directory' }).click();
    await page.getByRole('dialog', { name: 'Delete Okta?' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByText('No SCIM directories yet.').waitFor();
  });

  it('SCIM directories: link one to an SSO connection, see the link, unlink it', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'ScimSso', email: `scimsso-${unique()}@scimsso.test` });
    const connection = await api<{ id: string }>(admin, 'POST', '/api/v1/sso/connections', { type: 'saml', name: 'Okta SAML', rules: [], saml: { metadataXml: idpMetadata() } });
    expect(connection.status, JSON.stringify(connection.body)).toBe(201);
    const directory = await api<{ id: string }>(admin, 'POST', '/api/v1/scim/directories', { name: 'Okta' });
    expect(directory.status).toBe(201);
    const linked = async () => (await api<{ ssoConnectionId: string | null }>(admin, 'GET', `/api/v1/scim/directories/${directory.body.id}`)).body.ssoConnectionId;
    await signIn(admin, 'SCIM directories');
    const section = page.getByTestId('directory-Okta').getByRole('region', { name: 'SSO connection of Okta' });
    await eventually(() => section.getByTestId('scim-sso-link').textContent()).toBe('Not linked to an SSO connection.');
    await section.getByRole('combobox', { name: /^Linked SSO connection/ }).click();
    await page.getByRole('option', { name: 'Okta SAML' }).click();
    await eventually(() => section.getByTestId('scim-sso-link').textContent()).toBe('Its users sign in through the SSO connection Okta SAML.');
    expect(await linked()).toBe(connection.body.id);
    await checkPage('console-scim-sso-link');
    await section.getByRole('combobox', { name: /^Linked SSO connection/ }).click();
    await page.getByRole('option', { name: 'None' }).click();
    await eventually(() => section.getByTestId('scim-sso-link').textContent()).toBe('Not linked to an SSO connection.');
    expect(await linked()).toBeNull();
  });

  it('signing out of a SAML session with Single Logout follows {redirectTo} to the samlify IdP, which answers back to the sign-in page', async () => {
    // The assertion's NotBefore is the real time: the server's test clock is set to it (60 s skew, saml-core §2.5.1.2).
    t.clock.set(new Date());
    const idpPort = await freePort();
    // The IdP on another port of the same host: same-site, so the ACS POST carries the SAML transaction cookie
    // (SameSite=Lax without https, signin.routes.ts); page.route answers for it, nothing listens there.
    const idp = `http://127.0.0.1:${idpPort}`;
    const domain = `slo${unique()}.test`;
    const admin = await loginAsAdmin(t, { tenantName: 'Slo', email: `root@${domain}` });
    await markDomainVerified(t, admin.tenantId, domain);
    const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'SAML users', permissions: ['idp.view'] });
    const conn = await api<{ id: string; saml: { acsUrl: string; spEntityId: string; spMetadataUrl: string } }>(admin, 'POST', '/api/v1/sso/connections', {
      type: 'saml', name: 'Saml Slo', enabled: true, domains: [domain], defaultRoleId: role.body.id, rules: [],
      saml: { idpEntityId: IDP_ENTITY_ID, ssoUrl: `${idp}/sso`, sloUrl: `${idp}/slo`, certificates: [certs.a] },
    });
    expect(conn.status, JSON.stringify(conn.body)).toBe(201);
    const spMetadata = await (await fetch(conn.body.saml.spMetadataUrl)).text();
    // The IdP's pages: an HTML form the browser posts at once (saml-bindings §3.5.4, HTTP-POST binding).
    const autoPost = (action: string, fields: Record<string, string>) =>
      `<!doctype html><html lang="en"><title>IdP</title><form method="post" action="${action}">${Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`).join('')}</form><script>document.forms[0].submit()</script></html>`;
    await freshPage();
    const logouts: { nameId: string; sessionIndex: string | null }[] = [];
    await page.route(`${idp}/**`, async (route) => {
      const url = route.request().url();
      if (new URL(url).pathname === '/sso') {
        const request = readAuthnRequest(url);
        const samlResponse = await signedResponse({ acsUrl: conn.body.saml.acsUrl, spEntityId: conn.body.saml.spEntityId, requestId: request.id, nameId: `sam@${domain}`, attributes: { displayName: 'Sam' } });
        await route.fulfill({ status: 200, contentType: 'text/html', body: autoPost(conn.body.saml.acsUrl, { SAMLResponse: samlResponse }) });
        return;
      }
      const answered = await idpAnswersLogoutRequest(url, spMetadata);
      logouts.push({ nameId: answered.nameId, sessionIndex: answered.sessionIndex });
      await route.fulfill({ status: 200, contentType: 'text/html', body: autoPost(answered.form.action, answered.form.fields) });
    });
    await page.goto(`${t.url}/login`);
    await page.getByLabel('Email').fill(`sam@${domain}`);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Continue with Saml Slo' }).click();
    await page.waitForURL(/\/console\/profile$/);
    await eventually(() => page.getByTestId('signed-in-as').textContent()).toContain(`sam@${domain}`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    // Through the IdP's SLO URL (our signed LogoutRequest, verified by samlify) and back to our SLO URL, then /login.
    await page.waitForURL(`${t.url}/login`);
    expect(logouts.map((l) => l.nameId)).toEqual([`sam@${domain}`]);
    await page.getByLabel('Email').waitFor();
    await checkPage('login-after-saml-logout');
    const audited = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select('details').where('tenant_id', '=', admin.tenantId).where('action', '=', 'sso.logout.sp_initiated').execute());
    expect(audited).toHaveLength(1);
  });

  it('role assignments: assign with an expiry date; the last-admin and grant-rule refusals are messages', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Assign', email: `assign-${unique()}@assign.test` });
    const auditors = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'Auditors', permissions: ['audit.view'] });
    const granters = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'Granters', permissions: ['access_grants.view', 'access_grants.manage', 'roles.view'] });
    const erin = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email: 'erin@assign.test', name: 'Erin', password: 'a long enough password 1', mustChangePassword: false });
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: granters.body.id, userId: erin.body.id })).status).toBe(201);
    await signIn(admin, 'Role assignments');
    await page.getByRole('row', { name: /Account Administrator/ }).waitFor();
    await checkPage('console-assignments');
    await page.getByRole('button', { name: 'Assign a role' }).click();
    let dialog = page.getByRole('dialog', { name: 'Assign a role' });
    await dialog.getByRole('textbox', { name: 'Search users' }).fill('erin');
    await dialog.getByRole('combobox', { name: 'User' }).click();
    await page.getByRole('option', { name: /erin@assign\.test/ }).click();
    await dialog.getByRole('combobox', { name: 'Role' }).click();
    await page.getByRole('option', { name: 'Auditors' }).click();
    const until = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    await dialog.getByLabel(/^Expires on/).fill(until);
    await checkPage('console-assignments-create');
    await dialog.getByRole('button', { name: 'Assign', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    const row = page.getByRole('row', { name: /erin@assign\.test.*Auditors/ });
    await eventually(() => row.textContent()).not.toContain('Never');
    const listed = await api<{ items: { roleId: string; expiresAt: string | null }[] }>(admin, 'GET', `/api/v1/assignments?userId=${erin.body.id}`);
    expect(listed.body.items.find((a) => a.roleId === auditors.body.id)?.expiresAt?.slice(0, 10)).toBe(new Date(`${until}T23:59:59`).toISOString().slice(0, 10));
    // The last Account Administrator cannot be removed: the refusal is a message, nothing changes.
    await page.getByRole('row', { name: /Account Administrator/ }).getByRole('button', { name: 'Remove' }).click();
    const confirm = page.getByRole('dialog', { name: /^Remove Account Administrator/ });
    await confirm.getByRole('button', { name: 'Remove' }).click();
    await eventually(() => confirm.getByRole('alert').textContent()).toContain('This would leave the account without an Account Administrator.');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    // Erin may assign roles, but not one holding access she lacks (the grant rule).
    await signIn({ email: 'erin@assign.test', password: 'a long enough password 1' }, 'Role assignments');
    await page.getByRole('button', { name: 'Assign a role' }).click();
    dialog = page.getByRole('dialog', { name: 'Assign a role' });
    await dialog.getByRole('textbox', { name: 'Search users' }).fill('erin');
    await dialog.getByRole('combobox', { name: 'User' }).click();
    await page.getByRole('option', { name: /erin@assign\.test/ }).click();
    await dialog.getByRole('combobox', { name: 'Role' }).click();
    await page.getByRole('option', { name: 'Auditors' }).click();
    await dialog.getByRole('button', { name: 'Assign', exact: true }).click();
    await eventually(() => dialog.getByRole('alert').textContent()).toContain('You cannot give access you do not hold yourself.');
    await checkPage('console-assignments-refused');
  });

  it('API keys: create one shown once, it works, revoke it after a confirmation', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Keys', email: `keys-${unique()}@keys.test` });
    await signIn(admin, 'API keys');
    await page.getByText('No API keys.').waitFor();
    await checkPage('console-api-keys-empty');
    await page.getByRole('button', { name: 'Create API key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create API key' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('nightly export');
    await dialog.getByLabel(/^Permissions/).click();
    await page.getByRole('option', { name: 'idp.view' }).click();
    await page.keyboard.press('Escape');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const shown = page.getByRole('dialog', { name: 'Your new API key' });
    const key = (await shown.getByTestId('api-key').textContent())!;
    await checkPage('console-api-keys-created');
    await shown.getByRole('button', { name: 'I have copied it' }).click();
    const row = page.getByRole('row', { name: /nightly export/ });
    await eventually(() => row.textContent()).toContain('idp.view');
    // The key answers authorization checks for the permission it is scoped to.
    const withKey = () => requestJson(t.url, 'POST', '/api/v1/authz/check', { token: key, body: { user: admin.userId, permission: 'idp.view' } });
    const used = await withKey();
    expect(used.status, JSON.stringify(used.body)).toBe(200);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog', { name: 'Revoke nightly export?' }).getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('No API keys.').waitFor();
    expect((await withKey()).status).toBe(401);
  });

  it('users: reset password shows a one-time password once; reset MFA asks first', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Resets', email: `resets-${unique()}@resets.test` });
    expect((await api(admin, 'POST', '/api/v1/users', { email: 'finn@resets.test', password: 'a long enough password 1', mustChangePassword: false })).status).toBe(201);
    await signIn(admin, 'Users');
    const finn = page.getByRole('row', { name: /finn@resets\.test/ });
    await finn.getByRole('button', { name: 'Reset password' }).click();
    await page.getByRole('dialog', { name: 'Reset the password of finn@resets.test?' }).getByRole('button', { name: 'Reset password' }).click();
    const shown = page.getByRole('dialog', { name: 'One-time password' });
    const password = (await shown.getByTestId('generated-password').textContent())!;
    expect(password.length).toBeGreaterThan(10);
    await checkPage('console-users-reset-password');
    await shown.getByRole('button', { name: 'Done' }).click();
    await eventually(() => finn.textContent()).toContain('Must change password');
    const login = await requestJson<{ status?: string }>(t.url, 'POST', '/auth/login', { body: { email: 'finn@resets.test', password, tenantId: admin.tenantId } });
    expect(login.status, JSON.stringify(login.body)).toBe(200);
    await finn.getByRole('button', { name: 'Reset MFA' }).click();
    await page.getByRole('dialog', { name: 'Reset two-step verification of finn@resets.test?' }).getByRole('button', { name: 'Reset MFA' }).click();
    await page.getByText('Two-step verification of finn@resets.test was reset.').waitFor();
  });
});
