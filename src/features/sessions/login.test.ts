import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { createPlainUser, loginAsAdmin, loginAsPlainUser, type LoggedIn } from '../../../test/support/login.js';
import { type AccessClaims, auditActions, call, enrollTotp, jwtPart, setSecurityPolicy, totpCode } from '../../../test/support/sessions-http.js';

// Two-phase login (DESIGN §2 "Session": account selection after authentication), over real HTTP, on every engine.
describe.each(engines())('login [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t);
  });
  afterAll(() => t.close());

  it('with exactly one account, the session is created at once (access token, refresh cookie) and no identity token is issued', async () => {
    // Its own tenant: another test gives the suite's administrator a second account.
    const solo = await loginAsAdmin(t, { tenantName: 'Solo' });
    const r = await call(t, 'POST', '/auth/login', { body: { email: solo.email, password: solo.password } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'authenticated', tenantId: solo.tenantId, userId: solo.userId, accounts: [{ id: solo.accountId, name: 'Main' }] });
    expect(r.body.accounts).toHaveLength(1);
    // No step takes one (another account is entered with switch-account): one signature per login.
    expect(r.body.identityToken).toBeUndefined();
    expect(r.body.expiresIn).toBeUndefined();
    expect(r.body.session).toMatchObject({ tokenType: 'Bearer', accountId: solo.accountId, expiresIn: 300 });
    expect(r.refreshCookie).toMatch(/^tessera_refresh=rt1\./);
    const me = await call(t, 'GET', '/api/v1/me/sessions', { token: r.body.session.accessToken });
    expect(me.status).toBe(200);
  });

  it('the access token carries iss, sub, tid, acc, sid, exp, iat, jti and is signed with the current key (RS256)', async () => {
    const header = jwtPart(admin.accessToken, 0);
    const payload = jwtPart<AccessClaims>(admin.accessToken, 1);
    const jwks = (await call(t, 'GET', '/.well-known/jwks.json')).body;
    expect(header).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: jwks.keys[0]!.kid });
    expect(payload).toMatchObject({ iss: t.config.publicUrl, sub: admin.userId, tid: admin.tenantId, acc: admin.accountId });
    expect(payload.exp - payload.iat).toBe(300);
    expect(typeof payload.sid).toBe('string');
    expect(typeof payload.jti).toBe('string');
  });

  it('wrong password, unknown email and inactive user all answer sessions.invalid_credentials with the same message', async () => {
    await createPlainUser(t, admin, { email: 'inactive@example.com', password: 'inactive password', active: false });
    const answers = [
      await call(t, 'POST', '/auth/login', { body: { email: admin.email, password: 'wrong password!', tenantId: admin.tenantId } }),
      await call(t, 'POST', '/auth/login', { body: { email: 'nobody@example.com', password: 'wrong password!' } }),
      await call(t, 'POST', '/auth/login', { body: { email: 'inactive@example.com', password: 'inactive password' } }),
    ];
    for (const a of answers) {
      expect(a.status).toBe(401);
      expect(a.body.error).toMatchObject({ code: 'sessions.invalid_credentials', message: 'Invalid email or password' });
    }
    // Every login outcome in a known tenant is an audit event, failures included (written in their own unit of
    // work): the tenant-specific wrong password, and the inactive user whose password was right.
    const events = await auditActions(t, admin.tenantId);
    expect(events.filter((e) => e.action === 'auth.login.failed' && e.error_code === 'sessions.invalid_credentials').length).toBeGreaterThanOrEqual(2);
    expect(events.some((e) => e.action === 'auth.login.succeeded' && e.target_id === admin.userId)).toBe(true);
  });

  it('a user with no role anywhere: sessions.no_accounts', async () => {
    await createPlainUser(t, admin, { email: 'norole@example.com', password: 'no role password', withRole: false });
    const r = await call(t, 'POST', '/auth/login', { body: { email: 'norole@example.com', password: 'no role password' } });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('sessions.no_accounts');
    expect((await auditActions(t, admin.tenantId)).some((e) => e.action === 'auth.login.failed' && e.error_code === 'sessions.no_accounts')).toBe(true);
  });

  it('an account entered only through a group counts; an expired assignment does not', async () => {
    const viaGroup = await createPlainUser(t, admin, { email: 'grouped@example.com', password: 'grouped password', withRole: false });
    const expired = await createPlainUser(t, admin, { email: 'expired@example.com', password: 'expired password', withRole: false });
    await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      const groupId = crypto.randomUUID();
      const now = t.clock.now();
      const role = await tx.selectFrom('roles').select('id').where('account_id', '=', admin.accountId).where('system_key', '=', 'account_admin').executeTakeFirstOrThrow();
      await sql`insert into groups (tenant_id, id, name, created_at, updated_at) values (${admin.tenantId}, ${groupId}, 'Operators', ${now}, ${now})`.execute(tx);
      await sql`insert into group_members (tenant_id, group_id, user_id, created_at) values (${admin.tenantId}, ${groupId}, ${viaGroup}, ${now})`.execute(tx);
      await sql`insert into role_assignments (tenant_id, id, account_id, role_id, group_id) values (${admin.tenantId}, ${crypto.randomUUID()}, ${admin.accountId}, ${role.id}, ${groupId})`.execute(tx);
      await sql`insert into role_assignments (tenant_id, id, account_id, role_id, user_id, expires_at) values (${admin.tenantId}, ${crypto.randomUUID()}, ${admin.accountId}, ${role.id}, ${expired}, ${new Date(now.getTime() - 1000)})`.execute(tx);
    });
    const grouped = await call(t, 'POST', '/auth/login', { body: { email: 'grouped@example.com', password: 'grouped password' } });
    expect(grouped.body).toMatchObject({ status: 'authenticated', accounts: [{ id: admin.accountId }], session: { accountId: admin.accountId } });
    const gone = await call(t, 'POST', '/auth/login', { body: { email: 'expired@example.com', password: 'expired password' } });
    expect(gone.body.error.code).toBe('sessions.no_accounts');
  });

  it('several accounts: an identity token, then select-account; an identity token is not a session', async () => {
    const second = await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      const accountId = crypto.randomUUID();
      await tx.insertInto('accounts').values({ id: accountId, name: 'Second' }).execute();
      await tx.insertInto('account_tenants').values({ tenant_id: admin.tenantId, account_id: accountId }).execute();
      const { accountAdminRoleId } = await t.app.services.rbac.ensureSystemRoles(tx, accountId);
      await t.app.services.rbac.assignRoleToUser(tx, admin.tenantId, { accountId, roleId: accountAdminRoleId, userId: admin.userId });
      return accountId;
    });
    const r = await call(t, 'POST', '/auth/login', { body: { email: admin.email, password: admin.password } });
    expect(r.status).toBe(200);
    expect(r.body.session).toBeUndefined();
    expect(r.refreshCookie).toBeUndefined();
    expect(r.body.identityToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(r.body.expiresIn).toBe(300);
    expect(r.body.accounts.map((a: { id: string }) => a.id).sort()).toEqual([admin.accountId, second].sort());

    const refused = await call(t, 'GET', '/api/v1/me/sessions', { token: r.body.identityToken });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'sessions.account_context_required', message: 'Please select an account context first' });

    const noAccess = await call(t, 'POST', '/auth/select-account', { token: r.body.identityToken, body: { accountId: crypto.randomUUID() } });
    expect(noAccess.status).toBe(403);
    expect(noAccess.body.error.code).toBe('sessions.no_account_access');

    const chosen = await call(t, 'POST', '/auth/select-account', { token: r.body.identityToken, body: { accountId: second } });
    expect(chosen.status).toBe(200);
    expect(chosen.body).toMatchObject({ tokenType: 'Bearer', accountId: second });
    expect(chosen.refreshCookie).toBeDefined();
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: chosen.body.accessToken })).status).toBe(200);

    // An access token is not an identity token.
    const wrongKind = await call(t, 'POST', '/auth/select-account', { token: chosen.body.accessToken, body: { accountId: second } });
    expect(wrongKind.body.error.code).toBe('invalid_token');

    // Switching: a new session in the other account; the old one ends.
    const switched = await call(t, 'POST', '/auth/switch-account', { token: chosen.body.accessToken, body: { accountId: admin.accountId } });
    expect(switched.status).toBe(200);
    expect(switched.body.accountId).toBe(admin.accountId);
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: chosen.body.accessToken })).body.error.code).toBe('invalid_token');
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: switched.body.accessToken })).status).toBe(200);
    const denied = await call(t, 'POST', '/auth/switch-account', { token: switched.body.accessToken, body: { accountId: crypto.randomUUID() } });
    expect(denied.body.error.code).toBe('sessions.no_account_access');
  });

  it('a user with TOTP: mfa_required, then a code; a replayed code and a wrong code answer sessions.invalid_mfa_code', async () => {
    const user = await loginAsPlainUser(t, admin);
    const { secret, recoveryCodes } = await enrollTotp(t, admin.tenantId, user.userId);
    const first = await call(t, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    expect(first.body).toMatchObject({ status: 'mfa_required' });
    expect(first.refreshCookie).toBeUndefined();
    // The challenge token is not a session.
    expect((await call(t, 'GET', '/api/v1/me/sessions', { token: first.body.challengeToken })).body.error.code).toBe('invalid_token');

    const wrong = await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: first.body.challengeToken, code: '000000' === totpCode(t, secret) ? '111111' : '000000' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('sessions.invalid_mfa_code');

    const code = totpCode(t, secret);
    const ok = await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: first.body.challengeToken, code } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'authenticated', session: { accountId: admin.accountId } });
    expect(ok.refreshCookie).toBeDefined();

    // RFC 6238 §5.2: the verifier must not accept the second attempt of the same OTP.
    const again = await call(t, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    const replay = await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: again.body.challengeToken, code } });
    expect(replay.body.error.code).toBe('sessions.invalid_mfa_code');

    // A recovery code works once.
    const rc = await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: again.body.challengeToken, code: recoveryCodes[0] } });
    expect(rc.status).toBe(200);
    // (A new challenge: the one just used is spent.)
    const third = await call(t, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    const rcAgain = await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: third.body.challengeToken, code: recoveryCodes[0] } });
    expect(rcAgain.body.error.code).toBe('sessions.invalid_mfa_code');

    const events = await auditActions(t, admin.tenantId);
    expect(events.some((e) => e.action === 'auth.mfa.failed' && e.target_id === user.userId)).toBe(true);
  });

  it('a challenge token expires', async () => {
    const user = await loginAsPlainUser(t, admin);
    const { secret } = await enrollTotp(t, admin.tenantId, user.userId);
    const first = await call(t, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    t.clock.advance(301_000);
    const late = await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: first.body.challengeToken, code: totpCode(t, secret) } });
    expect(late.body.error.code).toBe('invalid_token');
  });

  it('a tenant that requires MFA enrolls a user without it during login; only a verified first code completes it', async () => {
    const other = await loginAsAdmin(t, { tenantName: 'Strict' });
    const user = await loginAsPlainUser(t, other);
    await setSecurityPolicy(t, other.tenantId, { mfaRequired: true });
    const first = await call(t, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    expect(first.body).toMatchObject({ status: 'mfa_enrollment_required' });
    expect(first.body.enrollment.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    expect(first.body.enrollment.qrCodeDataUrl).toMatch(/^data:image\/(png|svg\+xml);base64,/);
    const wrong = await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: first.body.challengeToken, code: '000000' === totpCode(t, first.body.enrollment.secret) ? '111111' : '000000' } });
    expect(wrong.body.error.code).toBe('sessions.invalid_mfa_code');
    const ok = await call(t, 'POST', '/auth/login/mfa', { body: { challengeToken: first.body.challengeToken, code: totpCode(t, first.body.enrollment.secret) } });
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('authenticated');
    expect(ok.body.recoveryCodes).toHaveLength(10);
    expect(ok.refreshCookie).toBeDefined();
    t.clock.advance(30_000);
    const next = await call(t, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    expect(next.body.status).toBe('mfa_required');
  });

  it('an email in several tenants: the right password finds its tenant; a match in two needs tenantId; nothing is revealed otherwise', async () => {
    const a = await loginAsAdmin(t, { tenantName: 'Tenant A' });
    const b = await loginAsAdmin(t, { tenantName: 'Tenant B' });
    await createPlainUser(t, a, { email: 'shared@example.com', password: 'password in A' });
    await createPlainUser(t, b, { email: 'shared@example.com', password: 'password in B' });
    const inB = await call(t, 'POST', '/auth/login', { body: { email: 'SHARED@example.com', password: 'password in B' } });
    expect(inB.body).toMatchObject({ status: 'authenticated', tenantId: b.tenantId });
    const wrong = await call(t, 'POST', '/auth/login', { body: { email: 'shared@example.com', password: 'not the password' } });
    expect(wrong.body.error.code).toBe('sessions.invalid_credentials');
    const withTenant = await call(t, 'POST', '/auth/login', { body: { email: 'shared@example.com', password: 'password in B', tenantId: a.tenantId } });
    expect(withTenant.body.error.code).toBe('sessions.invalid_credentials');

    await createPlainUser(t, a, { email: 'same@example.com', password: 'same password' });
    await createPlainUser(t, b, { email: 'same@example.com', password: 'same password' });
    const ambiguous = await call(t, 'POST', '/auth/login', { body: { email: 'same@example.com', password: 'same password' } });
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body.error.code).toBe('sessions.tenant_required');
    const chosen = await call(t, 'POST', '/auth/login', { body: { email: 'same@example.com', password: 'same password', tenantId: a.tenantId } });
    expect(chosen.body).toMatchObject({ status: 'authenticated', tenantId: a.tenantId });
  });

  it('repeated failures slow down, then lock, per account, whether or not the account exists', async () => {
    // A fresh 15-minute window for every counter, this address's included: earlier tests' failures from
    // 127.0.0.1 must not decide what this one sees.
    t.clock.advance(16 * 60_000);
    for (const email of [admin.email, 'ghost@example.com']) {
      const answers = [];
      for (let i = 0; i < 12; i++) {
        answers.push(await call(t, 'POST', '/auth/login', { body: { email, password: `wrong ${i}`, tenantId: admin.tenantId } }));
        // Wait out the growing delay (not the lock) so each attempt is counted.
        t.clock.advance(61_000);
      }
      // Three free failures, then delays (waited out), then the lock at the tenth: the same for a real and a
      // ghost account; the attempts after it are refused with the wait.
      expect(answers.map((r) => r.status)).toEqual([...Array<number>(10).fill(401), 429, 429]);
      for (const r of answers.slice(10)) {
        expect(r.body.error.code).toBe('sessions.too_many_attempts');
        expect(Number(r.response.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      // Locked: even the right password is refused until the lock ends.
      const locked = await call(t, 'POST', '/auth/login', { body: { email, password: admin.password } });
      expect(locked.status).toBe(429);
      expect(locked.body.error.code).toBe('sessions.too_many_attempts');
      t.clock.advance(15 * 60_000);
    }
    const after = await call(t, 'POST', '/auth/login', { body: { email: admin.email, password: admin.password } });
    expect(after.status).toBe(200);
    const events = await auditActions(t, admin.tenantId);
    expect(events.some((e) => e.action === 'auth.login.locked' && e.target_id === admin.userId)).toBe(true);
  });

  it('a growing delay between failures answers 429 with Retry-After before the lock', async () => {
    const email = 'slow@example.com';
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(t, 'POST', '/auth/login', { body: { email, password: 'wrong password' } })).status);
    // Failures 1–4 are answered; the fourth sets a 1 s wait, so the fifth, at once, is throttled.
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    t.clock.advance(2_000);
    expect((await call(t, 'POST', '/auth/login', { body: { email, password: 'wrong password' } })).status).toBe(401);
  });
});
