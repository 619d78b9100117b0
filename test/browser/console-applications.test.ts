import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_MESSAGES } from '../../console/src/errors.js';
import { RunningClock } from '../../src/kernel/clock.js';
import { newId } from '../../src/kernel/ids.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { browserPages, sharedConsoleBuild } from '../support/browser.js';
import { engines } from '../support/databases.js';
import { callApi } from '../support/http.js';
import { type LoggedIn, loginAsAdmin } from '../support/login.js';
import { freePort } from '../support/user-agent.js';

interface Application {
  id: string;
  clientId: string;
  name: string;
  type: string;
  redirectUris: string[];
  allowedOrigins: string[];
  resources: string[];
  backchannelLogoutUri: string | null;
  backchannelLogoutSessionRequired: boolean;
  tokenEndpointAuthMethod: string;
  firstParty: boolean;
  accessTokenTtlSeconds: number;
}

/**
 * The console's Applications page (the registrations of the product's apps with Tessera's OpenID Provider) in
 * Chromium against the real server on each engine. The client secret the page shows once is checked against the
 * provider's real token endpoint, before and after a rotation.
 */
describe.each(engines())('console Applications page in Chromium [%s]', { timeout: 90_000 }, (engine) => {
  let t: TestApp;
  const pages = browserPages(engine);
  const unique = () => newId().slice(-10);

  beforeAll(async () => {
    // PUBLIC_URL is the server's own loopback address, so the issuer the page shows is the one that answers. The
    // clock runs with real time (the provider and the browser date things by it); the suite's API tokens live an hour.
    const port = await freePort();
    t = await startTestApp(engine, { port, consoleDir: await sharedConsoleBuild(), clock: new RunningClock(), env: { PUBLIC_URL: `http://127.0.0.1:${port}`, TESSERA_ACCESS_TOKEN_TTL: '3600' } });
  }, 120_000);
  afterAll(async () => {
    await pages.close();
    await t?.close();
  });

  const eventually = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 10_000, interval: 100 });
  const api = <T = Record<string, unknown>>(who: LoggedIn, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  async function signIn(who: { email: string; password: string }): Promise<void> {
    const page = await pages.freshPage();
    await page.goto(`${t.url}/login`);
    await page.getByLabel('Email').fill(who.email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel(/^Password/).fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\/profile$/);
  }

  /**
   * Whether the token endpoint authenticates the client with this secret (RFC 6749 §2.3.1, HTTP Basic): a bogus code
   * is then refused as `invalid_grant`; a wrong secret is refused first, as `invalid_client` (RFC 6749 §5.2).
   */
  async function tokenEndpointError(app: { clientId: string; redirectUris: string[] }, secret: string): Promise<string> {
    const response = await fetch(`${t.url}/oidc/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(app.clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: app.redirectUris[0]! }).toString(),
    });
    return ((await response.json()) as { error: string }).error;
  }

  it('a web app: created with a refused redirect URI first, its secret shown once, rotated, edited, deleted after typing its name', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'AppsConsole', email: `apps-${unique()}@apps.test` });
    await signIn(admin);
    const page = pages.page;
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Applications' }).click();
    await page.waitForURL(/\/console\/applications$/);
    const empty = page.getByTestId('applications-empty');
    await eventually(() => empty.textContent()).toContain('An application is one of your apps');
    await pages.checkPage('console-applications-empty');

    await empty.getByRole('button', { name: 'Register your first application' }).click();
    const dialog = page.getByRole('dialog', { name: 'New application' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('Patch Manager');
    await dialog.getByRole('radio', { name: 'Web app' }).check();
    // A confidential client: its client authentication is chosen here, with the scopes.
    expect(await dialog.getByRole('combobox', { name: 'Client authentication' }).count()).toBe(1);
    expect(await dialog.getByRole('group', { name: 'Scopes' }).count()).toBe(1);
    // Plain http off a loopback address is refused by the form, with the rule, before anything is sent.
    await dialog.getByRole('textbox', { name: 'Redirect URIs', exact: true }).fill('http://patch.example.com/callback');
    await dialog.getByRole('button', { name: 'Create application' }).click();
    await eventually(() => dialog.getByText('http://patch.example.com/callback: http is allowed only on a loopback address.').count()).toBe(1);
    expect((await api<{ items: unknown[] }>(admin, 'GET', '/api/v1/applications')).body.items).toEqual([]);
    await pages.checkPage('console-applications-create');
    await dialog.getByRole('textbox', { name: 'Redirect URIs', exact: true }).fill('https://patch.example.com/callback');
    await dialog.getByRole('textbox', { name: 'APIs (resource identifiers)' }).fill('https://api.patch.example.com/\nurn:example:reports');
    await dialog.getByRole('textbox', { name: 'Back-channel logout URI' }).fill('https://patch.example.com/backchannel');
    await dialog.getByRole('switch', { name: 'The app needs the session id (sid) in logout tokens' }).check();
    await dialog.getByRole('switch', { name: 'First-party application' }).uncheck();
    await eventually(() => dialog.textContent()).toContain('users see a consent screen');
    await dialog.getByRole('textbox', { name: 'Access token lifetime', exact: true }).fill('10');
    await dialog.getByRole('button', { name: 'Create application' }).click();

    // The secret, once, with the values to configure the application.
    const created = page.getByRole('dialog', { name: 'Application created' });
    await created.getByText('you will not see it again').waitFor();
    const secret = (await created.getByTestId('application-client-secret').textContent())!;
    expect(secret).toMatch(/^tcs1\./);
    const [app] = (await api<{ items: Application[] }>(admin, 'GET', '/api/v1/applications')).body.items;
    expect(app).toMatchObject({ name: 'Patch Manager', type: 'web', firstParty: false, redirectUris: ['https://patch.example.com/callback'], tokenEndpointAuthMethod: 'client_secret_basic', accessTokenTtlSeconds: 600, resources: ['https://api.patch.example.com/', 'urn:example:reports'], backchannelLogoutUri: 'https://patch.example.com/backchannel', backchannelLogoutSessionRequired: true });
    expect(await created.getByTestId('application-client-id').textContent()).toBe(app!.clientId);
    expect(await created.getByTestId('application-issuer').textContent()).toBe(t.url);
    expect(await created.getByTestId('application-discovery-url').textContent()).toBe(`${t.url}/.well-known/openid-configuration`);
    expect(await created.getByTestId('application-snippet').textContent()).toContain('client.ClientSecretBasic(process.env.CLIENT_SECRET)');
    await pages.checkPage('console-applications-secret');
    expect(await tokenEndpointError(app!, secret)).toBe('invalid_grant');
    await created.getByRole('button', { name: 'I have copied the secret' }).click();

    // The detail page never shows it again, not even after a reload.
    await page.waitForURL(new RegExp(`/console/applications/${app!.id}$`));
    await page.getByRole('heading', { name: 'Patch Manager' }).waitFor();
    await eventually(() => page.getByTestId('application-client-id').textContent()).toBe(app!.clientId);
    expect(await page.content()).not.toContain(secret);
    await page.reload();
    await page.getByRole('heading', { name: 'Patch Manager' }).waitFor();
    expect(await page.content()).not.toContain(secret);
    await pages.checkPage('console-applications-detail');

    // Rotate: asked first; the new secret shown once; the old one refused from then on.
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate the secret of Patch Manager?' });
    await confirm.getByText('the current one stops working at once').waitFor();
    await confirm.getByRole('button', { name: 'Rotate secret' }).click();
    const rotated = page.getByRole('dialog', { name: 'New client secret' });
    await rotated.getByText('you will not see it again').waitFor();
    const newSecret = (await rotated.getByTestId('application-client-secret').textContent())!;
    expect(newSecret).toMatch(/^tcs1\./);
    expect(newSecret).not.toBe(secret);
    await pages.checkPage('console-applications-rotated');
    expect(await tokenEndpointError(app!, secret)).toBe('invalid_client');
    expect(await tokenEndpointError(app!, newSecret)).toBe('invalid_grant');
    await rotated.getByRole('button', { name: 'I have copied the secret' }).click();
    await rotated.waitFor({ state: 'hidden' });
    expect(await page.content()).not.toContain(newSecret);

    // Edit the redirect URIs: one with a fragment is refused with the rule, and nothing changes.
    const settings = page.getByRole('region', { name: 'Settings' });
    await settings.getByRole('textbox', { name: 'Redirect URIs', exact: true }).fill('https://patch.example.com/callback\nhttps://patch.example.com/cb#section');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await eventually(() => settings.getByText('https://patch.example.com/cb#section: has a fragment.').count()).toBe(1);
    await pages.checkPage('console-applications-edit-refused');
    expect((await api<Application>(admin, 'GET', `/api/v1/applications/${app!.id}`)).body.redirectUris).toEqual(['https://patch.example.com/callback']);
    await settings.getByRole('textbox', { name: 'Redirect URIs', exact: true }).fill('https://patch.example.com/callback\nhttps://patch.example.com/cb');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await eventually(async () => (await api<Application>(admin, 'GET', `/api/v1/applications/${app!.id}`)).body.redirectUris).toEqual(['https://patch.example.com/callback', 'https://patch.example.com/cb']);
    await eventually(() => settings.getByText('has a fragment').count()).toBe(0);

    // The list: search by client id, and a search that matches nothing.
    await page.getByRole('link', { name: '← All applications' }).click();
    const search = page.getByRole('textbox', { name: 'Search applications' });
    await search.fill(app!.clientId.slice(-12));
    await eventually(() => page.getByRole('row').count()).toBe(2);
    await search.fill('no such application');
    await page.getByText('No application matches the search.').waitFor();
    await search.fill('patch');
    await pages.checkPage('console-applications-list');
    await page.getByRole('link', { name: 'Patch Manager' }).click();

    // Delete: the button stays disabled until the name is typed exactly.
    await page.getByRole('button', { name: 'Delete application' }).click();
    const del = page.getByRole('dialog', { name: 'Delete Patch Manager?' });
    const confirmDelete = del.getByRole('button', { name: 'Delete', exact: true });
    expect(await confirmDelete.isDisabled()).toBe(true);
    await del.getByRole('textbox', { name: 'Application name' }).fill('Patch');
    expect(await confirmDelete.isDisabled()).toBe(true);
    await pages.checkPage('console-applications-delete');
    await del.getByRole('textbox', { name: 'Application name' }).fill('Patch Manager');
    await confirmDelete.click();
    await page.waitForURL(/\/console\/applications$/);
    await page.getByTestId('applications-empty').waitFor();
    expect((await api(admin, 'GET', `/api/v1/applications/${app!.id}`)).status).toBe(404);
    expect(await tokenEndpointError(app!, newSecret)).toBe('invalid_client');
  });

  it('an SPA: allowed origins checked, no secret, PKCE without client authentication', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'SpaConsole', email: `spa-${unique()}@apps.test` });
    await signIn(admin);
    const page = pages.page;
    await page.goto(`${t.url}/console/applications`);
    await page.getByTestId('applications-empty').waitFor();
    await page.getByRole('button', { name: 'New application' }).click();
    const dialog = page.getByRole('dialog', { name: 'New application' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('Dashboard');
    await dialog.getByRole('radio', { name: 'Single-page app' }).check();
    // A public client: no client authentication to choose; it has allowed origins instead.
    await eventually(() => dialog.getByRole('combobox', { name: 'Client authentication' }).count()).toBe(0);
    await dialog.getByRole('textbox', { name: 'Redirect URIs', exact: true }).fill('http://localhost:5173/callback');
    await dialog.getByRole('textbox', { name: 'Allowed origins' }).fill('http://localhost:5173/');
    await dialog.getByRole('button', { name: 'Create application' }).click();
    await eventually(() => dialog.getByText('http://localhost:5173/: must be scheme://host[:port] with nothing after it.').count()).toBe(1);
    await pages.checkPage('console-applications-spa-create');
    await dialog.getByRole('textbox', { name: 'Allowed origins' }).fill('http://localhost:5173');
    await dialog.getByRole('checkbox', { name: /^permissions/ }).check();
    await dialog.getByRole('button', { name: 'Create application' }).click();

    const created = page.getByRole('dialog', { name: 'Application created' });
    await created.getByTestId('application-client-id').waitFor();
    expect(await created.getByTestId('application-client-secret').count()).toBe(0);
    expect(await created.getByText('you will not see it again').count()).toBe(0);
    expect(await created.getByTestId('application-snippet').textContent()).toContain('client.None()');
    const [app] = (await api<{ items: Application[] }>(admin, 'GET', '/api/v1/applications')).body.items;
    expect(app).toMatchObject({ type: 'spa', tokenEndpointAuthMethod: 'none', redirectUris: ['http://localhost:5173/callback'], allowedOrigins: ['http://localhost:5173'], firstParty: true });
    expect((app as unknown as { scopes: string[] }).scopes).toEqual(['openid', 'email', 'profile', 'offline_access', 'permissions']);
    await pages.checkPage('console-applications-spa-created');
    await created.getByRole('button', { name: 'Done' }).click();
    await page.waitForURL(new RegExp(`/console/applications/${app!.id}$`));
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    // A public client has no secret to rotate.
    expect(await page.getByRole('button', { name: 'Rotate secret' }).count()).toBe(0);
    // Deleted meanwhile (another administrator): saving shows the API's refusal as its human message.
    expect((await api(admin, 'DELETE', `/api/v1/applications/${app!.id}`)).status).toBe(204);
    const settings = page.getByRole('region', { name: 'Settings' });
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await eventually(() => settings.getByRole('alert').textContent()).toContain(ERROR_MESSAGES['applications.not_found']!.message);
    await pages.checkPage('console-applications-spa-gone');
  });

  it('a machine app with private_key_jwt: the JWKS pasted is checked as JSON and for public keys, no redirect URIs, no secret', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'MachineConsole', email: `machine-${unique()}@apps.test` });
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    await signIn(admin);
    const page = pages.page;
    await page.goto(`${t.url}/console/applications`);
    await page.getByRole('button', { name: 'New application' }).click();
    const dialog = page.getByRole('dialog', { name: 'New application' });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('Nightly sync');
    await dialog.getByRole('radio', { name: 'Machine' }).check();
    // A machine signs no user in: no redirect URIs and no scopes to fill.
    await eventually(() => dialog.getByRole('textbox', { name: 'Redirect URIs', exact: true }).count()).toBe(0);
    expect(await dialog.getByRole('group', { name: 'Scopes' }).count()).toBe(0);
    await dialog.getByRole('combobox', { name: 'Client authentication' }).click();
    await page.getByRole('option', { name: /^Private key JWT/ }).click();
    const jwks = dialog.getByRole('textbox', { name: 'Public keys (JWKS)' });
    await jwks.fill('{"keys": [');
    await dialog.getByRole('button', { name: 'Create application' }).click();
    await eventually(() => dialog.getByText('Not valid JSON.').count()).toBe(1);
    await jwks.fill(JSON.stringify({ keys: [await exportJWK(privateKey)] }));
    await dialog.getByRole('button', { name: 'Create application' }).click();
    await eventually(() => dialog.getByText('Key 1 contains private key material: give the public key only.').count()).toBe(1);
    expect((await api<{ items: unknown[] }>(admin, 'GET', '/api/v1/applications')).body.items).toEqual([]);
    await pages.checkPage('console-applications-machine-create');
    await jwks.fill(JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'sync-1', alg: 'ES256' }] }, null, 2));
    await dialog.getByRole('button', { name: 'Create application' }).click();

    const created = page.getByRole('dialog', { name: 'Application created' });
    await created.getByTestId('application-client-id').waitFor();
    expect(await created.getByTestId('application-client-secret').count()).toBe(0);
    const snippet = await created.getByTestId('application-snippet').textContent();
    expect(snippet).toContain('client.PrivateKeyJwt(privateKey)');
    expect(snippet).toContain('client.clientCredentialsGrant(config)');
    const [app] = (await api<{ items: (Application & { scopes: string[] })[] }>(admin, 'GET', '/api/v1/applications')).body.items;
    expect(app).toMatchObject({ type: 'machine', tokenEndpointAuthMethod: 'private_key_jwt', redirectUris: [], scopes: [] });
  });

  it('a user without applications.manage sees no Applications entry, and its URL says access is missing', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'NoApps', email: `noapps-admin-${unique()}@apps.test` });
    const email = `viewer-${unique()}@apps.test`;
    const password = 'correct horse battery staple 42';
    const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'Viewers', permissions: ['idp.view'] });
    const user = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email, password, mustChangePassword: false });
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: role.body.id, userId: user.body.id })).status).toBe(201);
    await signIn({ email, password });
    const page = pages.page;
    const nav = page.getByRole('navigation', { name: 'Console' });
    await eventually(() => nav.getByRole('link').allTextContents()).toEqual(['My profile', 'My access', 'Users', 'Groups', 'Security settings']);
    await page.goto(`${t.url}/console/applications`);
    await eventually(() => page.getByTestId('no-access').textContent()).toContain("You don't have access to this page");
    expect(await page.getByTestId('no-access').textContent()).toContain('applications.manage');
    expect(page.url()).toBe(`${t.url}/console/applications`);
    await pages.checkPage('console-applications-no-access');
  });
});
