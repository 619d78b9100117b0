import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/kernel/ids.js';
import type { TestApp } from '../support/app.js';
import { launchBrowser, screenshot, seriousViolations, sharedConsoleBuild, type TestBrowser, watchPage } from '../support/browser.js';
import { engines } from '../support/databases.js';
import { callApi, requestJson } from '../support/http.js';
import { type LoggedIn, loginAsAdmin } from '../support/login.js';
import type { TestOp } from '../support/oidc-provider.js';
import { IDP_ENTITY_ID, IDP_SSO_URL } from '../support/saml-idp.js';
import { markDomainVerified, startSsoTestApp } from '../support/sso.js';

/** A self-signed IdP certificate that ends in `days`: the console must warn before a SAML signing certificate expires. */
function certificateEndingIn(days: number): string {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  const attrs = [{ name: 'commonName', value: 'expiring.idp.test' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/**
 * The console's identity and access pages (SSO connections, break-glass users, SCIM directories, role assignments,
 * API keys, user resets) in Chromium against the real server and the real OpenID Provider, on each engine: every
 * page is scanned by axe-core and saved as a screenshot under test-results/.
 */
describe.each(engines())('console identity and access pages in Chromium [%s]', { timeout: 90_000 }, (engine) => {
  let t: TestApp;
  let op: TestOp;
  let browser: TestBrowser;
  let page: Page;
  let problems: string[] = [];
  const unique = () => newId().slice(-10);

  beforeAll(async () => {
    ({ t, op } = await startSsoTestApp(engine, {}, { consoleDir: await sharedConsoleBuild() }));
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await op?.close();
    await t?.close();
  });

  async function freshPage(): Promise<Page> {
    page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    problems = watchPage(page);
    return page;
  }

  async function checkPage(name: string): Promise<void> {
    await page.waitForLoadState('load');
    // Mantine's transitions (modals fade in over 200 ms) settle first, so the screenshot and contrast see the page as it stays.
    await page.waitForTimeout(400);
    await screenshot(page, `${engine}-${name}`);
    const violations = await seriousViolations(page);
    expect(violations.map((v) => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.map((n) => n.target))}`), name).toEqual([]);
    expect(problems, name).toEqual([]);
  }

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
    const [popup] = await Promise.all([browser.context.waitForEvent('page'), card.getByRole('button', { name: 'Test connection' }).click()]);
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
    await page.getByRole('dialog', { name: /from break-glass\?$/ }).getByRole('button', { name: 'Remove' }).click();
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
