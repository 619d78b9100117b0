import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginAsPlainUser } from '../../../test/support/login.js';
import { SECURITY_DEFAULTS, type SecuritySettings } from './security-settings.js';

describe.each(engines())('tenant security settings over HTTP [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
  });
  afterAll(() => t.close());

  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);
  const PATH = '/api/v1/tenant/security-settings';

  // Tests that read or change a tenant's settings work on a tenant of their own: none depends on what an
  // earlier test left behind.
  const ownTenant = (name: string) => loginAsAdmin(t, { tenantName: name });

  it('reads the defaults of a tenant that configured nothing', async () => {
    const admin = await ownTenant('Defaults');
    const res = await api<SecuritySettings>(admin, 'GET', PATH);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(SECURITY_DEFAULTS);
  });

  it('changes only the given fields, only for the own tenant, and records the change', async () => {
    const admin = await ownTenant('Changes');
    const otherAdmin = await ownTenant('Untouched');
    const res = await api<SecuritySettings>(admin, 'PATCH', PATH, { mfaRequired: true, sessionLifetimeSeconds: 3600, refreshLifetimeSeconds: 1800 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...SECURITY_DEFAULTS, mfaRequired: true, sessionLifetimeSeconds: 3600, refreshLifetimeSeconds: 1800 });
    expect((await api<SecuritySettings>(admin, 'GET', PATH)).body.mfaRequired).toBe(true);
    expect((await api<SecuritySettings>(otherAdmin, 'GET', PATH)).body).toEqual(SECURITY_DEFAULTS);
    const events = await t.app.db.ownerWork((tx) =>
      tx.selectFrom('audit_events').select(['action', 'details']).where('tenant_id', '=', admin.tenantId).where('action', '=', 'tenant.security_settings.updated').execute(),
    );
    expect(events).toHaveLength(1);
    expect(events[0]!.details).toMatchObject({ changes: { mfaRequired: { from: false, to: true }, sessionLifetimeSeconds: { from: 43200, to: 3600 } } });
    // Other keys of tenants.settings are kept.
    await api(admin, 'PATCH', PATH, { mfaRequired: false });
  });

  it.each<[string, Record<string, unknown>]>([
    ['a refresh lifetime longer than the session', { refreshLifetimeSeconds: 999_999 }],
    ['a lifetime below the minimum', { sessionLifetimeSeconds: 10 }],
    ['a domain restriction without domains', { restrictEmailDomains: true }],
    ['an invalid domain', { allowedEmailDomains: ['not a domain'] }],
    ['a wrong type', { mfaRequired: 'yes' }],
    ['an unknown field', { unknownSetting: true }],
  ])('refuses %s with invalid_request and changes nothing', async (_label, patch) => {
    const before = (await api<SecuritySettings>(admin, 'GET', PATH)).body;
    const res = await api(admin, 'PATCH', PATH, patch);
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('invalid_request');
    expect((await api<SecuritySettings>(admin, 'GET', PATH)).body).toEqual(before);
  });

  // Product rule (tenant security settings, restrictEmailDomains): an email whose domain does not match the tenant's configured domains is refused.
  it('restricts user emails to the allowed domains (email_domain_mismatch)', async () => {
    const admin = await ownTenant('Restricted');
    const set = await api<SecuritySettings>(admin, 'PATCH', PATH, { allowedEmailDomains: ['Acme.example', 'acme.test'], restrictEmailDomains: true });
    expect(set.body.allowedEmailDomains).toEqual(['acme.example', 'acme.test']);
    const refused = await api(admin, 'POST', '/api/v1/users', { email: 'someone@evil.example' });
    expect(refused.status).toBe(422);
    expect(errorCode(refused)).toBe('email_domain_mismatch');
    // A subdomain or look-alike is not the domain.
    expect(errorCode(await api(admin, 'POST', '/api/v1/users', { email: 'someone@mail.acme.example' }))).toBe('email_domain_mismatch');
    expect(errorCode(await api(admin, 'POST', '/api/v1/users', { email: 'someone@acme.example.evil' }))).toBe('email_domain_mismatch');
    expect((await api(admin, 'POST', '/api/v1/users', { email: 'Someone@ACME.example' })).status).toBe(201);
    await api(admin, 'PATCH', PATH, { restrictEmailDomains: false });
    expect((await api(admin, 'POST', '/api/v1/users', { email: 'someone@evil.example' })).status).toBe(201);
  });

  it('requires idp.view to read and a tenant administrator to change', async () => {
    const admin = await ownTenant('Guarded');
    const plain = await loginAsPlainUser(t, admin);
    expect(errorCode(await api(plain, 'GET', PATH))).toBe('permission_denied');
    expect(errorCode(await api(plain, 'PATCH', PATH, { mfaRequired: true }))).toBe('permission_denied');
    expect((await api(null, 'GET', PATH)).status).toBe(401);
  });

  it('mfaRequired set here sends a user without TOTP through enrollment at login', async () => {
    const otherAdmin = await ownTenant('Enforced');
    const user = await loginAsPlainUser(t, otherAdmin);
    expect((await api(otherAdmin, 'PATCH', PATH, { mfaRequired: true })).status).toBe(200);
    const login = await api<{ status: string; challengeToken: string; enrollment: { secret: string; otpauthUri: string; qrCodeDataUrl: string } }>(
      null,
      'POST',
      '/auth/login',
      { email: user.email, password: user.password, tenantId: user.tenantId },
    );
    expect(login.body.status).toBe('mfa_enrollment_required');
    expect(login.body.enrollment.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    const code = TOTP.generate({ secret: Secret.fromBase32(login.body.enrollment.secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: t.clock.now().getTime() });
    const done = await api<{ status: string }>(null, 'POST', '/auth/login/mfa', { challengeToken: login.body.challengeToken, code });
    expect(done.body.status).toBe('authenticated');
    await api(otherAdmin, 'PATCH', PATH, { mfaRequired: false });
  });
});
