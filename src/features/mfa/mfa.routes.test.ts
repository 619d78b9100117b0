import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginAsPlainUser } from '../../../test/support/login.js';
import { newId } from '../../kernel/ids.js';

/** The code an authenticator app shows at `at` (RFC 6238: SHA-1, 30 s, 6 digits). */
function codeAt(secret: string, at: Date): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: at.getTime() });
}

interface Setup {
  secret: string;
  otpauthUri: string;
  qrCodeDataUrl: string;
}

describe.each(engines())('two-step verification over HTTP [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let otherAdmin: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    // Mid-step, so that one step of drift either way is unambiguous.
    t.clock.set('2026-06-01T09:00:15Z');
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    otherAdmin = await loginAsAdmin(t, { tenantName: 'Globex' });
  });
  afterAll(() => t.close());

  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);
  const nextStep = () => t.clock.advance(30_000);

  async function auditActions(tenantId: string): Promise<string[]> {
    const rows = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select('action').where('tenant_id', '=', tenantId).orderBy('seq').execute());
    return rows.map((r) => r.action);
  }

  async function loginMfa(who: LoggedIn, code: string) {
    const first = await callApi<{ status: string; challengeToken: string }>(t, null, 'POST', '/auth/login', { email: who.email, password: who.password, tenantId: who.tenantId });
    expect(first.body.status).toBe('mfa_required');
    return callApi<{ status: string }>(t, null, 'POST', '/auth/login/mfa', { challengeToken: first.body.challengeToken, code });
  }

  async function enroll(who: LoggedIn): Promise<{ secret: string; recoveryCodes: string[] }> {
    const setup = await api<Setup>(who, 'POST', '/api/v1/me/mfa/setup');
    expect(setup.status).toBe(200);
    const verify = await api<{ recoveryCodes: string[] }>(who, 'POST', '/api/v1/me/mfa/verify', { code: codeAt(setup.body.secret, t.clock.now()) });
    expect(verify.status).toBe(200);
    return { secret: setup.body.secret, recoveryCodes: verify.body.recoveryCodes };
  }

  it('sets up TOTP: secret, otpauth URI and a PNG QR code; not enabled until verified', async () => {
    const setup = await api<Setup>(admin, 'POST', '/api/v1/me/mfa/setup');
    expect(setup.status).toBe(200);
    expect(setup.headers.get('cache-control')).toBe('no-store');
    expect(setup.body.otpauthUri).toMatch(/^otpauth:\/\/totp\/Tessera:/);
    expect(new URL(setup.body.otpauthUri).searchParams.get('secret')).toBe(setup.body.secret);
    expect(setup.body.otpauthUri).toContain(encodeURIComponent(admin.email));
    const png = Buffer.from(setup.body.qrCodeDataUrl.replace(/^data:image\/png;base64,/, ''), 'base64');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect((await api<{ enabled: boolean }>(admin, 'GET', '/api/v1/me/mfa')).body.enabled).toBe(false);
    // Login is unchanged while setup is pending.
    const login = await callApi<{ status: string }>(t, null, 'POST', '/auth/login', { email: admin.email, password: admin.password, tenantId: admin.tenantId });
    expect(login.body.status).toBe('authenticated');
  });

  it('refuses a wrong first code (mfa.invalid_code) and enables with a right one, returning 10 recovery codes once', async () => {
    const setup = await api<Setup>(admin, 'POST', '/api/v1/me/mfa/setup');
    const wrong = await api(admin, 'POST', '/api/v1/me/mfa/verify', { code: codeAt(setup.body.secret, new Date(t.clock.now().getTime() + 120_000)) });
    expect(wrong.status).toBe(400);
    expect(errorCode(wrong)).toBe('mfa.invalid_code');
    expect((await api(admin, 'POST', '/api/v1/me/mfa/verify', { code: 'abcdef' })).status).toBe(400);
    const ok = await api<{ recoveryCodes: string[] }>(admin, 'POST', '/api/v1/me/mfa/verify', { code: codeAt(setup.body.secret, t.clock.now()) });
    expect(ok.status).toBe(200);
    expect(ok.body.recoveryCodes).toHaveLength(10);
    expect(await api<{ enabled: boolean; recoveryCodesRemaining: number }>(admin, 'GET', '/api/v1/me/mfa')).toMatchObject({ body: { enabled: true, recoveryCodesRemaining: 10 } });
    expect(errorCode(await api(admin, 'POST', '/api/v1/me/mfa/setup'))).toBe('mfa.already_enabled');
    expect(await auditActions(admin.tenantId)).toContain('mfa.enabled');
  });

  // RFC 6238 §5.2: a code is accepted at most once; recovery codes are single use.
  it('login then needs a TOTP code; a code works once, a recovery code works once', async () => {
    const user = await loginAsPlainUser(t, admin);
    const { secret, recoveryCodes } = await enroll(user);
    nextStep();
    const code = codeAt(secret, t.clock.now());
    expect((await loginMfa(user, code)).body.status).toBe('authenticated');
    const replay = await loginMfa(user, code);
    expect(errorCode(replay)).toBe('sessions.invalid_mfa_code');
    // One step of drift is accepted.
    nextStep();
    nextStep();
    expect((await loginMfa(user, codeAt(secret, new Date(t.clock.now().getTime() + 30_000)))).body.status).toBe('authenticated');
    expect((await loginMfa(user, recoveryCodes[0]!)).body.status).toBe('authenticated');
    expect(errorCode(await loginMfa(user, recoveryCodes[0]!))).toBe('sessions.invalid_mfa_code');
    expect((await api<{ recoveryCodesRemaining: number }>(user, 'GET', '/api/v1/me/mfa')).body.recoveryCodesRemaining).toBe(9);
  });

  it('disables with the current password only (identity.current_password_invalid), then login needs no code', async () => {
    const user = await loginAsPlainUser(t, admin);
    await enroll(user);
    const wrong = await api(user, 'POST', '/api/v1/me/mfa/disable', { currentPassword: 'not my password' });
    expect(wrong.status).toBe(403);
    expect(errorCode(wrong)).toBe('identity.current_password_invalid');
    expect((await api<{ enabled: boolean }>(user, 'GET', '/api/v1/me/mfa')).body.enabled).toBe(true);
    expect((await api(user, 'POST', '/api/v1/me/mfa/disable', { currentPassword: user.password })).status).toBe(204);
    expect((await api<{ enabled: boolean }>(user, 'GET', '/api/v1/me/mfa')).body.enabled).toBe(false);
    expect(errorCode(await api(user, 'POST', '/api/v1/me/mfa/disable', { currentPassword: user.password }))).toBe('mfa.not_enabled');
    const login = await callApi<{ status: string }>(t, null, 'POST', '/auth/login', { email: user.email, password: user.password, tenantId: user.tenantId });
    expect(login.body.status).toBe('authenticated');
    expect(await auditActions(admin.tenantId)).toContain('mfa.disabled');
  });

  it('a tenant administrator resets another user’s MFA; user.mfa_reset recorded', async () => {
    const user = await loginAsPlainUser(t, admin);
    await enroll(user);
    expect(errorCode(await api(user, 'DELETE', `/api/v1/users/${admin.userId}/mfa`))).toBe('permission_denied');
    expect((await api(admin, 'DELETE', `/api/v1/users/${user.userId}/mfa`)).status).toBe(204);
    expect((await api<{ enabled: boolean }>(user, 'GET', '/api/v1/me/mfa')).body.enabled).toBe(false);
    expect(await auditActions(admin.tenantId)).toContain('user.mfa_reset');
    // The user can set it up again.
    await enroll(user);
  });

  it('idp.manage without tenant administrator status cannot reset MFA (identity.tenant_admin_required)', async () => {
    const user = await loginAsPlainUser(t, admin);
    await enroll(user);
    await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      const roleId = newId();
      await tx.insertInto('roles').values({ account_id: admin.accountId, id: roleId, name: `Managers ${roleId}`, permissions: ['idp.manage'] }).execute();
      await tx.insertInto('role_assignments').values({ tenant_id: admin.tenantId, id: newId(), account_id: admin.accountId, role_id: roleId, user_id: user.userId }).execute();
    });
    const victim = await loginAsPlainUser(t, admin);
    nextStep();
    await enroll(victim);
    const res = await api(user, 'DELETE', `/api/v1/users/${victim.userId}/mfa`);
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('identity.tenant_admin_required');
    expect((await api<{ enabled: boolean }>(victim, 'GET', '/api/v1/me/mfa')).body.enabled).toBe(true);
  });

  // Tenant isolation: an administrator of tenant A addressing tenant B's user gets 404; nothing changes.
  it("answers 404 for another tenant's user and leaves its factor alone", async () => {
    nextStep();
    await enroll(otherAdmin);
    const res = await api(admin, 'DELETE', `/api/v1/users/${otherAdmin.userId}/mfa`);
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('not_found');
    expect((await api<{ enabled: boolean }>(otherAdmin, 'GET', '/api/v1/me/mfa')).body.enabled).toBe(true);
  });

  // DESIGN §4: the seed is encrypted with the tenant's data key; the raw column never holds it.
  it('stores the TOTP secret encrypted at rest', async () => {
    const user = await loginAsPlainUser(t, admin);
    const { secret } = await enroll(user);
    const row = await t.app.db.ownerWork((tx) => tx.selectFrom('user_mfa').select('totp_secret_enc').where('user_id', '=', user.userId).executeTakeFirstOrThrow());
    const raw = Buffer.from(row.totp_secret_enc);
    expect(raw.includes(Buffer.from(secret))).toBe(false);
    expect(raw.includes(Buffer.from(Secret.fromBase32(secret).bytes))).toBe(false);
  });

  it('needs a session for every /me/mfa route', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/me/mfa'],
      ['POST', '/api/v1/me/mfa/setup'],
      ['POST', '/api/v1/me/mfa/verify'],
      ['POST', '/api/v1/me/mfa/disable'],
    ] as const) {
      expect((await api(null, method, path, method === 'POST' ? {} : undefined)).status).toBe(401);
    }
  });
});
