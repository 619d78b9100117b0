import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { type LoggedIn, loginAsAdmin, loginAsPlainUser, loginChangingPassword } from '../../../test/support/login.js';
import { call, enrollTotp } from '../../../test/support/sessions-http.js';
import { newId } from '../../kernel/ids.js';
import { match } from '../../../test/support/matchers.js';

// Login-phase tokens bound to the user's security state, single use, step-up, the forced password change, and
// who may end another user's sessions — over real HTTP, on every engine.
describe.each(engines())('tokens bound to the security state [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t);
  });
  afterAll(() => t.close());
  // Tests below advance the clock past the access token's lifetime: the administrator signs in afresh.
  beforeEach(async () => {
    admin = { ...admin, accessToken: (await login(admin)).body.session.accessToken };
  });

  const login = (who: { email: string; password: string }) => call(t, 'POST', '/auth/login', { body: { email: who.email, password: who.password } });

  /**
   * A plain user (signed in, in the administrator's account) who may also enter a second account, with no
   * permission there: its next login answers an identity token and no session (one account would be entered at once).
   */
  async function userWithTwoAccounts(): Promise<LoggedIn> {
    const user = await loginAsPlainUser(t, admin);
    await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      const accountId = newId();
      const roleId = newId();
      await tx.insertInto('accounts').values({ id: accountId, name: `Second ${accountId.slice(-6)}` }).execute();
      await tx.insertInto('account_tenants').values({ tenant_id: admin.tenantId, account_id: accountId }).execute();
      await tx.insertInto('roles').values({ account_id: accountId, id: roleId, name: 'No permissions', permissions: [] }).execute();
      await tx.insertInto('role_assignments').values({ tenant_id: admin.tenantId, id: newId(), account_id: accountId, role_id: roleId, user_id: user.userId }).execute();
    });
    return user;
  }
  const select = (identityToken: string, accountId: string) => call(t, 'POST', '/auth/select-account', { token: identityToken, body: { accountId } });

  // OWASP ASVS v4 §3.3.3: after a credential change or "log out everywhere", nothing issued before may open a session.
  it.each([
    ['an admin password reset', (u: LoggedIn) => call(t, 'POST', `/api/v1/users/${u.userId}/reset-password`, { token: admin.accessToken, body: { password: 'a brand new password 7', mustChangePassword: false } })],
    ['an admin revoke-all', (u: LoggedIn) => call(t, 'DELETE', `/api/v1/users/${u.userId}/sessions`, { token: admin.accessToken })],
    ['a deactivation (then reactivation)', async (u: LoggedIn) => {
      await call(t, 'PATCH', `/api/v1/users/${u.userId}`, { token: admin.accessToken, body: { active: false } });
      return call(t, 'PATCH', `/api/v1/users/${u.userId}`, { token: admin.accessToken, body: { active: true } });
    }],
    ['an MFA reset', (u: LoggedIn) => call(t, 'DELETE', `/api/v1/users/${u.userId}/mfa`, { token: admin.accessToken })],
    ['the user revoking all other sessions', (u: LoggedIn) => call(t, 'DELETE', '/api/v1/me/sessions', { token: u.accessToken, body: { currentPassword: u.password } })],
  ])('an identity token issued before %s is refused', async (_label, change) => {
    const user = await userWithTwoAccounts();
    const earlier = await login(user);
    expect(earlier.body.identityToken).toBeDefined();
    const changed = await change(user);
    expect(changed.status).toBeLessThan(300);
    const late = await select(earlier.body.identityToken, admin.accountId);
    expect(late.status).toBe(401);
    expect(late.body.error.code).toBe('invalid_token');
  });

  it('an MFA challenge issued before an MFA reset or a password reset is refused', async () => {
    const user = await loginAsPlainUser(t, admin);
    const { recoveryCodes } = await enrollTotp(t, admin.tenantId, user.userId);
    const challenge = await login(user);
    expect(challenge.body.status).toBe('mfa_required');
    await call(t, 'POST', `/api/v1/users/${user.userId}/reset-password`, { token: admin.accessToken, body: { password: user.password, mustChangePassword: false } });
    const late = await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: challenge.body.challengeToken, code: recoveryCodes[0] } });
    expect(late.status).toBe(401);
    expect(late.body.error.code).toBe('invalid_token');
    // The recovery code was not spent by the refused attempt: a new challenge takes it.
    const again = await login(user);
    expect((await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: again.body.challengeToken, code: recoveryCodes[0] } })).status).toBe(200);
  });

  // RFC 7519 §4.1.7: each login-phase token is spent once.
  it('an identity token picks one account once; a refused choice leaves it usable', async () => {
    const user = await userWithTwoAccounts();
    const first = await login(user);
    const refused = await select(first.body.identityToken, newId());
    expect(refused.body.error.code).toBe('sessions.no_account_access');
    const ok = await select(first.body.identityToken, admin.accountId);
    expect(ok.status).toBe(200);
    const twice = await select(first.body.identityToken, admin.accountId);
    expect(twice.status).toBe(401);
    expect(twice.body.error.code).toBe('invalid_token');
  });

  it('an MFA challenge token completes one login; a wrong code leaves it usable', async () => {
    const user = await loginAsPlainUser(t, admin);
    const { recoveryCodes } = await enrollTotp(t, admin.tenantId, user.userId);
    const challenge = await login(user);
    const wrong = await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: challenge.body.challengeToken, code: 'aaaaa-bbbbb' } });
    expect(wrong.body.error.code).toBe('sessions.invalid_mfa_code');
    expect((await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: challenge.body.challengeToken, code: recoveryCodes[0] } })).status).toBe(200);
    const twice = await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: challenge.body.challengeToken, code: recoveryCodes[1] } });
    expect(twice.status).toBe(401);
    expect(twice.body.error.code).toBe('invalid_token');
  });

  // Real concurrency only on PostgreSQL with a pool (PGlite serializes every unit of work).
  describe.skipIf(engine !== 'postgres')('in parallel', () => {
    it('the same identity token sent 6 times at once opens exactly one session', async () => {
      const user = await userWithTwoAccounts();
      const first = await login(user);
      const answers = await Promise.all(Array.from({ length: 6 }, () => select(first.body.identityToken, admin.accountId)));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      // The others lost the race for the token (spent), or were refused by the challenge's attempt throttle
      // before any code was judged; several were admitted at once, so the race itself was run.
      const codes = answers.filter((x) => x.status !== 200).map((a) => a.body.error.code);
      expect(codes.filter((c) => c === 'invalid_token').length).toBeGreaterThan(0);
      for (const code of codes) expect(['invalid_token', 'sessions.too_many_attempts']).toContain(code);
    });

    it('one challenge token with 6 different recovery codes at once completes exactly one login', async () => {
      const user = await loginAsPlainUser(t, admin);
      const { recoveryCodes } = await enrollTotp(t, admin.tenantId, user.userId);
      const challenge = await login(user);
      const answers = await Promise.all(recoveryCodes.slice(0, 6).map((code) => call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: challenge.body.challengeToken, code } })));
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      // The others lost the race for the token (spent), or were refused by the challenge's attempt throttle
      // before any code was judged; several were admitted at once, so the race itself was run.
      const codes = answers.filter((x) => x.status !== 200).map((a) => a.body.error.code);
      expect(codes.filter((c) => c === 'invalid_token').length).toBeGreaterThan(0);
      for (const code of codes) expect(['invalid_token', 'sessions.too_many_attempts']).toContain(code);
    });
  });

  describe('step-up (auth_time within 5 minutes, or the current password)', () => {
    /** A session whose login is older than 5 minutes: its access token renewed by refresh (auth_time carried). */
    async function staleSession(): Promise<LoggedIn> {
      const user = await loginAsPlainUser(t, admin);
      t.clock.advance(301_000);
      const refreshed = await call(t, 'POST', '/auth/refresh', { cookie: user.refreshCookie });
      expect(refreshed.status).toBe(200);
      return { ...user, accessToken: refreshed.body.accessToken, refreshCookie: refreshed.refreshCookie! };
    }

    it('MFA setup: an old login needs the password; a wrong one is refused; a fresh login needs none', async () => {
      const stale = await staleSession();
      const bare = await call(t, 'POST', '/api/v1/me/mfa/setup', { token: stale.accessToken });
      expect(bare.status).toBe(403);
      expect(bare.body.error.code).toBe('sessions.step_up_required');
      const wrong = await call(t, 'POST', '/api/v1/me/mfa/setup', { token: stale.accessToken, body: { currentPassword: 'not my password' } });
      expect(wrong.body.error.code).toBe('identity.current_password_invalid');
      const withPassword = await call(t, 'POST', '/api/v1/me/mfa/setup', { token: stale.accessToken, body: { currentPassword: stale.password } });
      expect(withPassword.status).toBe(200);
      expect(withPassword.body.otpauthUri).toMatch(/^otpauth:\/\/totp\//);

      const fresh = await loginAsPlainUser(t, admin);
      expect((await call(t, 'POST', '/api/v1/me/mfa/setup', { token: fresh.accessToken })).status).toBe(200);
    });

    it('switching accounts does not renew auth_time', async () => {
      const user = await loginAsPlainUser(t, admin);
      t.clock.advance(290_000);
      const switched = await call(t, 'POST', '/auth/switch-account', { token: user.accessToken, body: { accountId: admin.accountId } });
      expect(switched.status).toBe(200);
      t.clock.advance(20_000);
      expect((await call(t, 'POST', '/api/v1/me/mfa/setup', { token: switched.body.accessToken })).body.error.code).toBe('sessions.step_up_required');
    });

    it('revoking all other sessions: an old login needs the password', async () => {
      const stale = await staleSession();
      const bare = await call(t, 'DELETE', '/api/v1/me/sessions', { token: stale.accessToken });
      expect(bare.status).toBe(403);
      expect(bare.body.error.code).toBe('sessions.step_up_required');
      const ok = await call(t, 'DELETE', '/api/v1/me/sessions', { token: stale.accessToken, body: { currentPassword: stale.password } });
      expect(ok.status).toBe(200);
    });
  });

  describe('forced password change', () => {
    async function mustChange(): Promise<{ user: LoggedIn; oneTime: string }> {
      const user = await loginAsPlainUser(t, admin);
      const reset = await call(t, 'POST', `/api/v1/users/${user.userId}/reset-password`, { token: admin.accessToken, body: {} });
      return { user, oneTime: reset.body.generatedPassword };
    }

    it('login answers password_change_required with no session; the token works nowhere else', async () => {
      const { user, oneTime } = await mustChange();
      const r = await login({ email: user.email, password: oneTime });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ status: 'password_change_required', passwordChangeToken: match.anyString(), expiresIn: 600 });
      expect(r.refreshCookie).toBeUndefined();
      const token = r.body.passwordChangeToken;
      expect((await call(t, 'GET', '/api/v1/me', { token })).body.error.code).toBe('invalid_token');
      expect((await select(token, admin.accountId)).body.error.code).toBe('invalid_token');
      expect((await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: token, code: '123456' } })).body.error.code).toBe('invalid_token');
    });

    it('the change is policy-checked, then completes the login once; the new password works, the old does not', async () => {
      const { user, oneTime } = await mustChange();
      const token = (await login({ email: user.email, password: oneTime })).body.passwordChangeToken;
      const weak = await call(t, 'POST', '/auth/password/change', { body: { passwordChangeToken: token, newPassword: 'qwertyuiop' } });
      expect(weak.body.error.code).toBe('identity.password_policy');
      const done = await call(t, 'POST', '/auth/password/change', { body: { passwordChangeToken: token, newPassword: 'violet harbor engine 31' } });
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ status: 'authenticated', mustChangePassword: false, session: { accountId: admin.accountId } });
      expect(done.refreshCookie).toBeDefined();
      expect((await call(t, 'GET', '/api/v1/me', { token: done.body.session.accessToken })).body.mustChangePassword).toBe(false);
      const twice = await call(t, 'POST', '/auth/password/change', { body: { passwordChangeToken: token, newPassword: 'another fine password 8' } });
      expect(twice.body.error.code).toBe('invalid_token');
      expect((await login({ email: user.email, password: oneTime })).body.error.code).toBe('sessions.invalid_credentials');
      expect((await login({ email: user.email, password: 'violet harbor engine 31' })).body.status).toBe('authenticated');
    });
  });

  it('the bootstrap administrator with a generated one-time password changes it at the first login', async () => {
    const email = `first-${newId().slice(-12)}@example.com`;
    const created = await t.app.services.bootstrap.bootstrap({ tenantName: 'Fresh', accountName: 'Main', email });
    expect(created.generatedPassword).toBeDefined();
    const session = await loginChangingPassword(t, { email, password: created.generatedPassword!, newPassword: 'silver canyon lamp 55', tenantId: created.tenantId });
    expect((await call(t, 'GET', '/api/v1/me', { token: session.accessToken })).body).toMatchObject({ email, mustChangePassword: false });
  });

  it('ending every session of a user needs a tenant administrator, not idp.manage alone', async () => {
    const manager = await loginAsPlainUser(t, admin);
    await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      const roleId = newId();
      await tx.insertInto('roles').values({ account_id: admin.accountId, id: roleId, name: `Managers ${roleId}`, permissions: ['idp.manage'] }).execute();
      await tx.insertInto('role_assignments').values({ tenant_id: admin.tenantId, id: newId(), account_id: admin.accountId, role_id: roleId, user_id: manager.userId }).execute();
    });
    const refused = await call(t, 'DELETE', `/api/v1/users/${admin.userId}/sessions`, { token: manager.accessToken });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('identity.tenant_admin_required');
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: admin.accessToken })).status).toBe(200);
  });
});
