import { sql } from 'kysely';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_MESSAGES } from '../../console/src/errors.js';
import { newId } from '../../src/kernel/ids.js';
import type { TestApp } from '../support/app.js';
import { RunningClock } from '../../src/kernel/clock.js';
import { browserPages, downloadText, sharedConsoleBuild } from '../support/browser.js';
import { engines } from '../support/databases.js';
import { callApi } from '../support/http.js';
import { type LoggedIn, loginAsAdmin } from '../support/login.js';
import type { TestOp } from '../support/oidc-provider.js';
import { enrollTotp, setSecurityPolicy, totpCode } from '../support/sessions-http.js';
import { markDomainVerified, startSsoTestApp } from '../support/sso.js';

/**
 * The hosted sign-in pages and the console in Chromium, against the real server (its built console) on each engine
 * and the real OpenID Provider: every page is scanned by axe-core (no serious or critical violation) and saved as a
 * screenshot under test-results/.
 */
describe.each(engines())('sign-in pages and console in Chromium [%s]', { timeout: 90_000 }, (engine) => {
  let t: TestApp;
  let op: TestOp;
  const pages = browserPages(engine);
  let page: Page;
  const PASSWORD = 'correct horse battery staple 42';
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

  async function signInWithPassword(email: string, password: string): Promise<void> {
    await page.goto(`${t.url}/login`);
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel(/^Password/).fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** playwright-core has no web-first assertions: vitest polls the page until it agrees or 10 s pass. */
  const eventually = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 10_000, interval: 100 });

  const api = <T = Record<string, unknown>>(who: LoggedIn, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  it('first run: the one-time password, a forced change, then the console', async () => {
    const email = `owner-${unique()}@first.test`;
    const created = await t.app.services.bootstrap.bootstrap({ tenantName: 'First', accountName: 'Main', email });
    expect(created.generatedPassword).toBeTruthy();
    await freshPage();
    await page.goto(`${t.url}/`);
    // Not signed in: / → /console → the sign-in page, which will return to the console.
    await page.waitForURL(/\/login\?returnTo=%2Fconsole/);
    await checkPage('login-email');
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel(/^Password/).waitFor();
    await checkPage('login-password');
    await page.getByLabel(/^Password/).fill(created.generatedPassword!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await checkPage('login-password-change');
    // The policy's refusal is a human message, and the form stays.
    await page.getByLabel(/^New password/).fill('password');
    await page.getByLabel('Repeat the new password').fill('password');
    await page.getByRole('button', { name: 'Change password' }).click();
    await eventually(() => page.getByRole('alert').textContent()).toContain('This password is not allowed.');
    await page.getByLabel(/^New password/).fill(PASSWORD);
    await page.getByLabel('Repeat the new password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForURL(/\/console\/profile$/);
    await eventually(() => page.getByTestId('signed-in-as').textContent()).toMatch(email);
    await page.getByRole('heading', { name: 'My sessions' }).waitFor();
    await page.getByText('This session').waitFor();
    await checkPage('console-profile');
    // A reload keeps the session through the HttpOnly refresh cookie; no token in storage.
    await page.reload();
    await eventually(() => page.getByTestId('signed-in-as').textContent()).toMatch(email);
    expect(await page.evaluate('JSON.stringify(localStorage) + JSON.stringify(sessionStorage)')).toBe('{}{}');
    const cookies = await pages.browser.context.cookies(`${t.url}/auth/refresh`);
    expect(cookies.find((c) => c.name === 'tessera_refresh')?.httpOnly).toBe(true);
    // Sign out ends the session: the console sends the browser back to sign in.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('textbox', { name: 'Email' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.goto(`${t.url}/console/users`);
    await page.waitForURL(/\/login\?returnTo=%2Fconsole%2Fusers/);
  });

  it('password and TOTP; wrong codes get a human message', async () => {
    const email = `totp-${unique()}@totp.test`;
    const created = await t.app.services.bootstrap.bootstrap({ tenantName: 'Totp', accountName: 'Main', email, password: PASSWORD });
    const { secret } = await enrollTotp(t, created.tenantId, created.userId);
    await freshPage();
    await signInWithPassword(email, PASSWORD);
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await checkPage('login-totp');
    await page.getByLabel('Authentication code').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await eventually(() => page.getByRole('alert').textContent()).toContain('That code is not correct, or was already used.');
    await page.getByLabel('Authentication code').fill(totpCode(t, secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(/\/console\/profile$/);
    await eventually(() => page.getByTestId('recovery-remaining').textContent()).toMatch('10 recovery codes remaining');
  });

  it('enrollment when the tenant requires MFA: the QR code, the first code, the recovery codes once', async () => {
    const email = `enroll-${unique()}@enroll.test`;
    const created = await t.app.services.bootstrap.bootstrap({ tenantName: 'Enroll', accountName: 'Main', email, password: PASSWORD });
    await setSecurityPolicy(t, created.tenantId, { mfaRequired: true });
    await freshPage();
    await signInWithPassword(email, PASSWORD);
    await page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor();
    await page.getByRole('img', { name: /QR code/ }).waitFor({ state: 'visible' });
    await checkPage('login-mfa-enrollment');
    const secret = (await page.getByTestId('totp-secret').textContent())!;
    t.clock.advance(30_000);
    await page.getByLabel('Code from the app').fill(totpCode(t, secret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    expect(await page.getByTestId('recovery-codes').locator('li').count()).toBe(10);
    await checkPage('login-recovery-codes');
    await page.getByRole('button', { name: 'I have saved them, continue' }).click();
    await page.waitForURL(/\/console\/profile$/);
    t.clock.advance(30_000);
  });

  it('my profile: name, two-step verification on and off, another session revoked', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Profile', email: `profile-${unique()}@profile.test` });
    await freshPage();
    await signInWithPassword(admin.email, admin.password);
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('textbox', { name: 'Name' }).fill('Pat Profile');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.getByText('Name saved.').waitFor();
    // Two-step verification: the current password, the QR code, the first code, the recovery codes.
    const mfa = page.getByRole('region', { name: 'Two-step verification' });
    await mfa.getByLabel(/^Current password/).fill(admin.password);
    await mfa.getByRole('button', { name: 'Set up two-step verification' }).click();
    await mfa.getByRole('img', { name: /QR code/ }).waitFor();
    await checkPage('console-profile-mfa-setup');
    const secret = (await mfa.getByTestId('totp-secret').textContent())!;
    await mfa.getByLabel(/^Code from the app/).fill(totpCode(t, secret));
    await mfa.getByRole('button', { name: 'Turn on' }).click();
    await eventually(() => mfa.getByTestId('recovery-codes').locator('li').count()).toBe(10);
    await eventually(() => mfa.getByTestId('recovery-remaining').textContent()).toBe('10 recovery codes remaining');
    t.clock.advance(30_000);
    // Off again, with the password; a wrong one is a human message.
    await mfa.getByLabel(/^Current password/).fill('not my password at all');
    await mfa.getByRole('button', { name: 'Turn off two-step verification' }).click();
    await eventually(() => mfa.getByRole('alert').textContent()).toContain('Your current password is not correct.');
    await mfa.getByLabel(/^Current password/).fill(admin.password);
    await mfa.getByRole('button', { name: 'Turn off two-step verification' }).click();
    await mfa.getByRole('button', { name: 'Set up two-step verification' }).waitFor();
    expect((await api<{ name: string }>(admin, 'GET', '/api/v1/me')).body.name).toBe('Pat Profile');
    expect((await api<{ enabled: boolean }>(admin, 'GET', '/api/v1/me/mfa')).body.enabled).toBe(false);
    // The session loginAsAdmin opened is listed too; revoking it (after a confirmation) ends it.
    await page.reload();
    const other = page.getByRole('row').filter({ hasText: 'Revoke' });
    await other.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog', { name: 'Revoke this session?' }).getByRole('button', { name: 'Revoke' }).click();
    await eventually(() => page.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
    expect((await api(admin, 'GET', '/api/v1/me')).status).toBe(401);
  });

  it('several accounts: the picker at sign-in, the switcher in the header', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Picker', email: `picker-${unique()}@picker.test` });
    await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      const accountId = newId();
      await tx.insertInto('accounts').values({ id: accountId, name: 'Second' }).execute();
      await tx.insertInto('account_tenants').values({ tenant_id: admin.tenantId, account_id: accountId }).execute();
      const { accountAdminRoleId } = await t.app.services.rbac.ensureSystemRoles(tx, accountId);
      await t.app.services.rbac.assignRoleToUser(tx, admin.tenantId, { accountId, roleId: accountAdminRoleId, userId: admin.userId });
    });
    await freshPage();
    await signInWithPassword(admin.email, admin.password);
    await page.getByRole('heading', { name: 'Choose an account' }).waitFor();
    await checkPage('login-account-picker');
    await page.getByRole('radio', { name: 'Second' }).check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/\/console\/profile$/);
    const switcher = page.getByRole('combobox', { name: 'Account' });
    await eventually(() => switcher.inputValue()).toBe('Second');
    await switcher.click();
    await page.getByRole('option', { name: 'Main' }).click();
    await eventually(() => switcher.inputValue()).toBe('Main');
    // The new session is in Main: the sessions list says so.
    await eventually(() => page.getByRole('row', { name: /This session/ }).textContent()).toContain('Main');
  });

  it('users: search, create, edit, end sessions and deactivate with a confirmation', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Users', email: `users-${unique()}@users.test` });
    await freshPage();
    await signInWithPassword(admin.email, admin.password);
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('row', { name: new RegExp(admin.email) }).waitFor();
    await checkPage('console-users');
    await page.getByRole('button', { name: 'Create user' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create user' });
    await dialog.getByLabel('Email').fill('Carol@Users.test');
    await dialog.getByLabel('Name').fill('Carol Example');
    await dialog.getByLabel('Initial password').fill('a long enough initial password');
    await checkPage('console-users-create');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const carol = page.getByRole('row', { name: /carol@users\.test/ });
    await eventually(() => carol.textContent()).toContain('Carol Example');
    await eventually(() => carol.textContent()).toContain('Must change password');
    // A second user with the same email: the refusal is a human message inside the dialog.
    await page.getByRole('button', { name: 'Create user' }).click();
    await dialog.getByLabel('Email').fill('carol@users.test');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await eventually(() => dialog.getByRole('alert').textContent()).toContain('A user with this email address already exists.');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    // Search.
    await page.getByLabel('Search users').fill('carol');
    await page.getByRole('row', { name: new RegExp(admin.email) }).waitFor({ state: 'hidden' });
    await carol.waitFor({ state: 'visible' });
    // Edit.
    await carol.getByRole('button', { name: 'Edit carol@users.test' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit carol@users.test' });
    await edit.getByLabel('Name').fill('Carol Renamed');
    await edit.getByRole('button', { name: 'Save' }).click();
    await eventually(() => carol.textContent()).toContain('Carol Renamed');
    // End sessions asks first.
    await carol.getByRole('button', { name: 'End sessions' }).click();
    await page.getByRole('dialog', { name: 'End every session of carol@users.test?' }).getByRole('button', { name: 'End sessions' }).click();
    await page.getByText('0 session(s) ended.').waitFor();
    // Deactivate asks first; Cancel changes nothing.
    await carol.getByRole('button', { name: 'Deactivate' }).click();
    const confirm = page.getByRole('dialog', { name: 'Deactivate carol@users.test?' });
    await checkPage('console-users-deactivate-confirm');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await eventually(() => carol.textContent()).toContain('Active');
    await carol.getByRole('button', { name: 'Deactivate' }).click();
    await confirm.getByRole('button', { name: 'Deactivate' }).click();
    await eventually(() => carol.textContent()).toContain('Deactivated');
    const users = await api<{ items: { email: string; active: boolean; name: string }[] }>(admin, 'GET', '/api/v1/users?q=carol');
    expect(users.body.items).toMatchObject([{ email: 'carol@users.test', active: false, name: 'Carol Renamed' }]);
  });

  it('groups: create one, add a member found by search, remove them after a confirmation', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Groups', email: `groups-${unique()}@groups.test` });
    expect((await api(admin, 'POST', '/api/v1/users', { email: 'dana@groups.test', name: 'Dana' })).status).toBe(201);
    await freshPage();
    await signInWithPassword(admin.email, admin.password);
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: 'Groups' }).click();
    await page.getByText('No groups yet.').waitFor();
    await page.getByRole('textbox', { name: 'Group name' }).fill('Helpdesk');
    await page.getByRole('textbox', { name: 'Description' }).fill('First line');
    await page.getByRole('button', { name: 'Create group' }).click();
    const panel = page.getByRole('region', { name: 'Group Helpdesk' });
    await panel.getByText('No members yet.').waitFor();
    await panel.getByRole('combobox', { name: 'Add a member' }).fill('dana');
    await page.getByRole('option', { name: 'dana@groups.test' }).click();
    await panel.getByRole('row', { name: /dana@groups\.test/ }).waitFor();
    await eventually(() => page.getByRole('row', { name: /Helpdesk/ }).textContent()).toContain('1');
    await checkPage('console-groups');
    await panel.getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog', { name: 'Remove dana@groups.test from Helpdesk?' }).getByRole('button', { name: 'Remove' }).click();
    await panel.getByText('No members yet.').waitFor();
  });

  it('roles: a new role from a template, permissions by category, system roles read-only', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Roles', email: `roles-${unique()}@roles.test` });
    await freshPage();
    await signInWithPassword(admin.email, admin.password);
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: 'Roles' }).click();
    await page.getByRole('button', { name: 'View Account Administrator' }).click();
    const view = page.getByRole('dialog', { name: 'Account Administrator' });
    await eventually(() => view.getByRole('checkbox', { name: 'idp.manage' }).isDisabled()).toBe(true);
    await view.getByRole('button', { name: 'Close' }).first().click();
    await page.getByRole('button', { name: 'New role' }).click();
    const editor = page.getByRole('dialog', { name: 'New role' });
    await editor.getByRole('combobox', { name: 'Start from a template' }).click();
    await page.getByRole('option', { name: 'Read-Only Auditor' }).click();
    await eventually(() => editor.getByRole('checkbox', { name: 'audit.view' }).isChecked()).toBe(true);
    await editor.getByRole('checkbox', { name: 'idp.manage' }).check();
    await editor.getByRole('checkbox', { name: 'audit.view' }).uncheck();
    await editor.getByRole('textbox', { name: 'Name' }).fill('Auditor plus');
    await checkPage('console-roles-editor');
    await editor.getByRole('button', { name: 'Save role' }).click();
    await page.getByRole('row', { name: /Auditor plus/ }).waitFor();
    await checkPage('console-roles');
    const roles = await api<{ items: { name: string; permissions: string[] }[] }>(admin, 'GET', '/api/v1/roles');
    const created = roles.body.items.find((r) => r.name === 'Auditor plus')!;
    expect(created.permissions).toContain('idp.manage');
    expect(created.permissions).toContain('idp.view');
    expect(created.permissions).not.toContain('audit.view');
  });

  it('domains: add one, the TXT record to publish, Require SSO only once verified', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Domains', email: `domains-${unique()}@domains.test` });
    await freshPage();
    await signInWithPassword(admin.email, admin.password);
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: 'Domains' }).click();
    await page.getByText('No domains yet.').waitFor();
    await checkPage('console-domains-empty');
    await page.getByRole('textbox', { name: 'Domain' }).fill('gmail.com');
    await page.getByRole('button', { name: 'Add domain' }).click();
    await eventually(() => page.getByRole('alert').textContent()).toContain('Public mailbox domains cannot be added.');
    const domain = `d${unique()}.example`;
    await page.getByRole('textbox', { name: 'Domain' }).fill(domain);
    await page.getByRole('button', { name: 'Add domain' }).click();
    const card = page.getByTestId(`domain-${domain}`);
    await eventually(() => card.textContent()).toContain('Pending verification');
    await eventually(() => card.getByTestId('txt-name').textContent()).toMatch(`_tessera-verification.${domain}`);
    await eventually(() => card.getByTestId('txt-value').textContent()).toMatch(/^tessera-verification=/);
    await eventually(() => card.getByRole('switch', { name: /Require SSO/ }).isDisabled()).toBe(true);
    await checkPage('console-domains');
  });

  it('audit log: filter, event detail, export JSON and CSV', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Audit', email: `audit-${unique()}@audit.test` });
    await freshPage();
    await signInWithPassword(admin.email, admin.password);
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: 'Audit log' }).click();
    await eventually(() => page.getByTestId('chain-status').textContent()).toContain('Hash chain verified');
    await page.getByRole('row', { name: /auth\.login\.succeeded/ }).first().waitFor();
    await checkPage('console-audit');
    await page.getByRole('textbox', { name: 'Action' }).fill('auth.login');
    await page.getByRole('button', { name: 'Filter' }).click();
    await eventually(() => page.getByRole('row', { name: /user\.created/ }).count()).toBe(0);
    await page.getByRole('row', { name: /auth\.login\.succeeded/ }).first().getByRole('button', { name: /Details of event/ }).click();
    await page.getByTestId('event-details').waitFor({ state: 'visible' });
    await checkPage('console-audit-event');
    await page.keyboard.press('Escape');
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON' }).click()]);
    expect(json.suggestedFilename()).toBe('audit-events.json');
    const events = JSON.parse(await downloadText(json)) as { action: string }[];
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.action.startsWith('auth.login'))).toBe(true);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const csvText = await downloadText(csv);
    expect(csvText).toMatch(/auth\.login\.succeeded/);
    expect(csvText).not.toMatch(/user\.created/);
  });

  it('my access with its sources; security settings changed by a tenant administrator', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Security', email: `security-${unique()}@security.test` });
    await freshPage();
    await signInWithPassword(admin.email, admin.password);
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: 'My access' }).click();
    const row = page.getByRole('row', { name: /idp\.manage/ });
    await eventually(() => row.textContent()).toContain('Account Administrator · direct');
    await checkPage('console-my-access');
    await page.getByRole('link', { name: 'Security settings' }).click();
    await page.getByRole('switch', { name: /Require two-step verification/ }).check();
    await page.getByRole('textbox', { name: 'Session lifetime (hours)' }).fill('8');
    await page.getByRole('textbox', { name: 'Refresh lifetime (hours)' }).fill('10');
    await page.getByRole('button', { name: 'Save settings' }).click();
    // The refresh lifetime may not exceed the session's: the server's refusal is shown, nothing is saved.
    await page.getByRole('alert').waitFor();
    await page.getByRole('textbox', { name: 'Refresh lifetime (hours)' }).fill('4');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Security settings saved.').waitFor();
    await checkPage('console-security');
    const saved = await api<{ mfaRequired: boolean; sessionLifetimeSeconds: number; refreshLifetimeSeconds: number }>(admin, 'GET', '/api/v1/tenant/security-settings');
    expect(saved.body).toMatchObject({ mfaRequired: true, sessionLifetimeSeconds: 8 * 3600, refreshLifetimeSeconds: 4 * 3600 });
  });

  it('the tenant-specific sign-in URL /t/<slug>/login signs a user of several tenants into the one it names', async () => {
    const email = `several-${unique()}@several.test`;
    const suffix = unique().toLowerCase();
    await t.app.services.bootstrap.bootstrap({ tenantName: `Slug One ${suffix}`, accountName: 'Main', email, password: PASSWORD });
    const second = await t.app.services.bootstrap.bootstrap({ tenantName: `Slug Two ${suffix}`, accountName: 'Main', email, password: PASSWORD });
    const slug = (await t.app.services.tenants.getTenant(second.tenantId)).slug;
    expect(slug).toBe(`slug-two-${suffix}`);
    await freshPage();
    // At /login the same email and password are ambiguous.
    await signInWithPassword(email, PASSWORD);
    await eventually(() => page.getByRole('alert').textContent()).toContain(ERROR_MESSAGES['sessions.tenant_required']!.message);
    await freshPage();
    await page.goto(`${t.url}/t/${slug}/login`);
    await page.getByRole('heading', { name: `Sign in to Slug Two ${suffix}` }).waitFor();
    await checkPage('login-tenant-slug');
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel(/^Password/).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\/profile$/);
    const sessions = await t.app.db.ownerWork((tx) => tx.selectFrom('sessions').select('tenant_id').where('user_id', '=', second.userId).where('revoked_at', 'is', null).execute());
    expect(sessions.map((row) => row.tenant_id)).toEqual([second.tenantId]);
    // A slug no tenant has: a human message, no form.
    await page.goto(`${t.url}/t/no-such-${suffix}/login`);
    await eventually(() => page.getByRole('alert').textContent()).toContain(ERROR_MESSAGES['tenants.slug_not_found']!.message);
    expect(await page.getByLabel('Email').count()).toBe(0);
  });

  it('organizations: create, search, rename; a role scoped to one, assigned from the scope; the delete refused while in use', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Orgs', email: `orgs-${unique()}@orgs.test` });
    const dana = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email: 'dana@orgs.test', name: 'Dana', password: PASSWORD, mustChangePassword: false });
    expect(dana.status).toBe(201);
    await freshPage();
    await signInWithPassword(admin.email, admin.password);
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: 'Organizations' }).click();
    await page.getByText('No organizations yet.').waitFor();
    await checkPage('console-organizations-empty');
    for (const name of ['Paris office', 'Berlin office']) {
      await page.getByRole('button', { name: 'New organization' }).click();
      const dialog = page.getByRole('dialog', { name: 'New organization' });
      await dialog.getByRole('textbox', { name: 'Name' }).fill(name);
      await dialog.getByRole('button', { name: 'Save' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await page.getByRole('row', { name: new RegExp(name) }).waitFor();
    }
    // A duplicate name (case-insensitive) is refused with a human message.
    await page.getByRole('button', { name: 'New organization' }).click();
    const duplicate = page.getByRole('dialog', { name: 'New organization' });
    await duplicate.getByRole('textbox', { name: 'Name' }).fill('paris OFFICE');
    await duplicate.getByRole('button', { name: 'Save' }).click();
    await eventually(() => duplicate.getByRole('alert').textContent()).toContain(ERROR_MESSAGES['organizations.name_taken']!.message);
    await duplicate.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('textbox', { name: 'Search organizations' }).fill('pari');
    await page.getByRole('row', { name: /Berlin office/ }).waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Rename Paris office' }).click();
    const rename = page.getByRole('dialog', { name: 'Rename Paris office' });
    await rename.getByRole('textbox', { name: 'Name' }).fill('Paris HQ');
    await checkPage('console-organizations-rename');
    await rename.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('row', { name: /Paris HQ/ }).waitFor();
    await page.getByRole('textbox', { name: 'Search organizations' }).fill('');
    await page.getByRole('row', { name: /Berlin office/ }).waitFor();
    await checkPage('console-organizations');

    // A role scoped to Paris HQ.
    await page.getByRole('link', { name: 'Roles' }).click();
    await page.getByRole('button', { name: 'New role' }).click();
    const editor = page.getByRole('dialog', { name: 'New role' });
    await editor.getByRole('textbox', { name: 'Name' }).fill('Paris helpdesk');
    await editor.getByRole('combobox', { name: 'Scope' }).click();
    await page.getByRole('option', { name: 'Organization Paris HQ' }).click();
    await editor.getByRole('checkbox', { name: 'idp.view' }).check();
    await editor.getByRole('button', { name: 'Save role' }).click();
    await eventually(() => page.getByRole('row', { name: /Paris helpdesk/ }).textContent()).toContain('Organization Paris HQ');

    // Assigned to Dana from the organization's scope: only the roles of that scope are offered.
    await page.getByRole('link', { name: 'Role assignments' }).click();
    await page.getByRole('button', { name: 'Assign a role' }).click();
    const dialog = page.getByRole('dialog', { name: 'Assign a role' });
    await dialog.getByRole('textbox', { name: 'Search users' }).fill('dana');
    await dialog.getByRole('combobox', { name: 'User' }).click();
    await page.getByRole('option', { name: /dana@orgs\.test/ }).click();
    await dialog.getByRole('combobox', { name: 'Scope' }).click();
    await page.getByRole('option', { name: 'Organization Paris HQ' }).click();
    await dialog.getByRole('combobox', { name: 'Role' }).click();
    await eventually(() => page.getByRole('option').allTextContents()).toEqual(['Paris helpdesk']);
    await page.getByRole('option', { name: 'Paris helpdesk' }).click();
    await checkPage('console-assignments-org-scope');
    await dialog.getByRole('button', { name: 'Assign', exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await eventually(() => page.getByRole('row', { name: /dana@orgs\.test|Dana/ }).textContent()).toContain('Organization Paris HQ');
    await checkPage('console-assignments-scoped');

    // The organization cannot be deleted while the role is scoped to it: the refusal is a message, nothing changes.
    await page.getByRole('link', { name: 'Organizations' }).click();
    await page.getByRole('row', { name: /Paris HQ/ }).getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete the organization Paris HQ?' });
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await eventually(() => confirm.getByRole('alert').textContent()).toContain(ERROR_MESSAGES['organizations.in_use']!.message);
    await checkPage('console-organizations-in-use');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('row', { name: /Berlin office/ }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete the organization Berlin office?' }).getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('row', { name: /Berlin office/ }).waitFor({ state: 'hidden' });
    const left = await api<{ items: { name: string }[] }>(admin, 'GET', '/api/v1/organizations');
    expect(left.body.items.map((o) => o.name)).toEqual(['Paris HQ']);

    // Dana's access names the organization of each permission.
    await freshPage();
    await signInWithPassword('dana@orgs.test', PASSWORD);
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: 'My access' }).click();
    await eventually(() => page.getByRole('row', { name: /idp\.view/ }).textContent()).toContain('Paris helpdesk · direct · in Paris HQ');
    await eventually(() => page.getByText(/^Organizations:/).textContent()).toBe('Organizations: Paris HQ');
    await checkPage('console-my-access-organization');
  });

  it('audit log: the chain verified, then broken at the event changed in the database, found again with Verify now', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Chain', email: `chain-${unique()}@chain.test` });
    await freshPage();
    await signInWithPassword(admin.email, admin.password);
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: 'Audit log' }).click();
    const status = page.getByTestId('chain-status');
    await eventually(() => status.getAttribute('data-chain-ok')).toBe('true');
    expect(await status.textContent()).toMatch(/\d+ events verified, from the first event to event \d+/);
    // Someone with direct database access edits event 2 (the append-only trigger off, as the owner).
    await t.app.db.ownerWork(async (tx) => {
      await sql`alter table audit_events disable trigger audit_events_append_only`.execute(tx);
      await sql`update audit_events set outcome = 'failure' where tenant_id = ${admin.tenantId} and seq = 2`.execute(tx);
      await sql`alter table audit_events enable trigger audit_events_append_only`.execute(tx);
    });
    await status.getByRole('button', { name: 'Verify now' }).click();
    await eventually(() => status.getAttribute('data-chain-ok')).toBe('false');
    expect(await status.textContent()).toContain('Hash chain broken at event 2');
    expect(await page.getByTestId('chain-break').textContent()).toContain('Event 2: the event was changed after it was written');
    expect(await page.getByTestId('chain-break').textContent()).toContain('(hash_mismatch)');
    await checkPage('console-audit-chain-broken');
  });

  it('security settings: the sign-in slug changed and used; audit retention; the SIEM webhook with its secret shown once, then removed', async () => {
    const suffix = unique().toLowerCase();
    const admin = await loginAsAdmin(t, { tenantName: `Settings ${suffix}`, email: `settings-${unique()}@settings.test` });
    await freshPage();
    await signInWithPassword(admin.email, admin.password);
    await page.waitForURL(/\/console\/profile$/);
    await page.getByRole('link', { name: 'Security settings' }).click();
    const url = page.getByTestId('tenant-signin-url');
    await eventually(() => url.textContent()).toBe(`${t.url}/t/settings-${suffix}/login`);
    const slug = page.getByRole('textbox', { name: 'Slug' });
    await slug.fill('login');
    await page.getByRole('button', { name: 'Change slug' }).click();
    await eventually(() => page.getByRole('alert').first().textContent()).toContain(ERROR_MESSAGES['tenants.slug_reserved']!.message);
    await slug.fill(`acme-${suffix}`);
    await page.getByRole('button', { name: 'Change slug' }).click();
    await eventually(() => url.textContent()).toBe(`${t.url}/t/acme-${suffix}/login`);

    // Retention: out of bounds is refused with the rule; within them, saved.
    const retention = page.getByRole('textbox', { name: /Keep audit events/ });
    await eventually(() => retention.inputValue()).toBe('2557');
    await retention.fill('30');
    await page.getByRole('button', { name: 'Save retention' }).click();
    await eventually(() => page.getByRole('alert').first().textContent()).toContain(ERROR_MESSAGES['audit.invalid_settings']!.message);
    expect(await page.getByTestId('error-reason').textContent()).toContain('between 90 and 36500');
    await retention.fill('400');
    await page.getByRole('button', { name: 'Save retention' }).click();
    await page.getByText('Audit settings saved.').waitFor();

    // The webhook: its secret once, in a dialog with a copy button; never on the page afterwards.
    await page.getByRole('textbox', { name: 'Webhook URL' }).fill('https://siem.example.com/hooks/tessera?token=receiver-123');
    await page.getByRole('button', { name: 'Set webhook' }).click();
    const shown = page.getByRole('dialog', { name: 'Webhook signing secret' });
    const secret = (await shown.getByTestId('audit-webhook-secret').textContent())!;
    expect(secret.length).toBeGreaterThan(30);
    await shown.getByRole('button', { name: 'Copy Signing secret' }).waitFor();
    await checkPage('console-security-webhook-secret');
    await shown.getByRole('button', { name: 'I have copied it' }).click();
    await shown.waitFor({ state: 'hidden' });
    await eventually(() => page.getByTestId('audit-webhook-url').textContent()).toBe('Delivering to https://siem.example.com/hooks/tessera');
    await checkPage('console-security-audit');
    await page.reload();
    await page.getByTestId('audit-webhook-url').waitFor();
    expect(await page.content()).not.toContain(secret);
    const settings = await api(admin, 'GET', '/api/v1/audit/settings');
    expect(settings.body).toMatchObject({ retentionDays: 400, webhook: { url: 'https://siem.example.com/hooks/tessera' } });
    expect(JSON.stringify(settings.body)).not.toContain(secret);

    // Removing asks first.
    await page.getByRole('button', { name: 'Remove webhook' }).click();
    const confirm = page.getByRole('dialog', { name: 'Remove the SIEM webhook?' });
    await checkPage('console-security-webhook-remove');
    await confirm.getByRole('button', { name: 'Remove' }).click();
    await eventually(() => page.getByTestId('audit-webhook-url').textContent()).toBe('No webhook: events are not streamed.');
    expect((await api(admin, 'GET', '/api/v1/audit/settings')).body).toMatchObject({ webhook: null });

    // The new sign-in address works; the old one no longer does.
    await freshPage();
    await page.goto(`${t.url}/t/settings-${suffix}/login`);
    await eventually(() => page.getByRole('alert').textContent()).toContain(ERROR_MESSAGES['tenants.slug_not_found']!.message);
    await page.goto(`${t.url}/t/acme-${suffix}/login`);
    await page.getByRole('heading', { name: `Sign in to Settings ${suffix}` }).waitFor();
    await page.getByLabel('Email').fill(admin.email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel(/^Password/).fill(admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\/profile$/);
    await eventually(() => page.getByTestId('signed-in-as').textContent()).toMatch(admin.email);
  });

  it('a user without permissions sees only their profile', async () => {
    const admin = await loginAsAdmin(t, { tenantName: 'Plain', email: `plain-admin-${unique()}@plain.test` });
    const email = `plain-${unique()}@plain.test`;
    const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'Nothing', permissions: [] });
    const user = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email, password: PASSWORD, mustChangePassword: false });
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: role.body.id, userId: user.body.id })).status).toBe(201);
    await freshPage();
    await signInWithPassword(email, PASSWORD);
    await page.waitForURL(/\/console\/profile$/);
    const nav = page.getByRole('navigation', { name: 'Console' });
    await eventually(() => nav.getByRole('link').allTextContents()).toEqual(['My profile', 'My access']);
    await page.goto(`${t.url}/console/users`);
    await page.waitForURL(/\/console\/profile$/);
  });

  describe('single sign-on', () => {
    let admin: LoggedIn;
    let domain: string;
    let domainId: string;
    const connectionName = 'Okta';

    beforeAll(async () => {
      domain = `sso${unique()}.test`;
      admin = await loginAsAdmin(t, { tenantName: 'Sso', email: `root@${domain}` });
      await markDomainVerified(t, admin.tenantId, domain);
      const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: 'SSO users', permissions: ['idp.view'] });
      const created = await api<{ id: string }>(admin, 'POST', '/api/v1/sso/connections', { type: 'oidc', name: connectionName, enabled: true, domains: [domain], rules: [], defaultRoleId: role.body.id, oidc: { issuer: op.issuer, clientId: op.clientId, clientSecret: op.clientSecret } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const domains = await api<{ items: { id: string; domain: string }[] }>(admin, 'GET', '/api/v1/domains');
      domainId = domains.body.items.find((d) => d.domain === domain)!.id;
    });

    it('signs in through the real OpenID Provider found by discovery', async () => {
      const sub = `u-${unique()}`;
      op.addAccount(sub, { email: `alice@${domain}`, email_verified: true, name: 'Alice' });
      op.queueLogin(sub);
      await freshPage();
      await page.goto(`${t.url}/login`);
      await page.getByLabel('Email').fill(`alice@${domain}`);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('button', { name: `Continue with ${connectionName}` }).waitFor();
      // Not required: the password stays offered beside SSO.
      await page.getByLabel(/^Password/).waitFor({ state: 'visible' });
      await checkPage('login-sso-offered');
      await page.getByRole('button', { name: `Continue with ${connectionName}` }).click();
      await page.waitForURL(/\/console\/profile$/);
      await eventually(() => page.getByTestId('signed-in-as').textContent()).toMatch(`alice@${domain}`);
      // The role the connection gives (idp.view) shows Users and the security settings, not Domains or the audit log.
      const nav = page.getByRole('navigation', { name: 'Console' });
      await eventually(() => nav.getByRole('link').allTextContents()).toEqual(['My profile', 'My access', 'Users', 'Groups', 'Security settings']);
    });

    it('shows an SSO refusal as a human message on the sign-in page', async () => {
      await freshPage();
      await page.goto(`${t.url}/login?error=sso_domain`);
      await eventually(() => page.getByRole('alert').textContent()).toContain("Your identity provider did not give an email address of your organization's domains.");
      await checkPage('login-sso-error');
    });

    it('Require SSO hides the password behind the break-glass link', async () => {
      expect((await api(admin, 'PUT', '/api/v1/sso/break-glass', { userIds: [admin.userId] })).status).toBe(200);
      const on = await api(admin, 'PATCH', `/api/v1/domains/${domainId}`, { requireSso: true });
      expect(on.status, JSON.stringify(on.body)).toBe(200);
      await freshPage();
      await page.goto(`${t.url}/login`);
      await page.getByLabel('Email').fill(`bob@${domain}`);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('button', { name: `Continue with ${connectionName}` }).waitFor();
      await eventually(() => page.getByLabel(/^Password/).count()).toBe(0);
      await checkPage('login-sso-required');
      await page.getByRole('button', { name: 'Workspace owner? Sign in with password' }).click();
      await page.getByLabel(/^Password/).fill('not the password at all');
      await page.getByRole('button', { name: 'Sign in' }).click();
      // A refused password under Require SSO: the message says to use SSO, and the way stays offered.
      await eventually(() => page.getByRole('alert').textContent()).toContain('Your organization signs you in with single sign-on.');
      await page.getByRole('button', { name: `Continue with ${connectionName}` }).waitFor({ state: 'visible' });
    });
  });
});
