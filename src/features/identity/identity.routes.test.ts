import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginAsPlainUser, loginOverHttp } from '../../../test/support/login.js';
import { newId } from '../../kernel/ids.js';
import type { User } from './identity.service.js';

const PASSWORD = 'violet staircase humming 7';

describe.each(engines())('users and profile over HTTP [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let otherAdmin: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    otherAdmin = await loginAsAdmin(t, { tenantName: 'Globex' });
  });
  afterAll(() => t.close());

  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  async function auditActions(tenantId: string): Promise<string[]> {
    const rows = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select('action').where('tenant_id', '=', tenantId).orderBy('seq').execute());
    return rows.map((r) => r.action);
  }

  /** Whether /auth/login accepts the password (a user without any account is told `sessions.no_accounts`). */
  async function passwordAccepted(email: string, password: string, tenantId = admin.tenantId): Promise<boolean> {
    const res = await callApi(t, null, 'POST', '/auth/login', { email, password, tenantId });
    if (res.status === 200 || errorCode(res) === 'sessions.no_accounts') return true;
    expect(errorCode(res)).toBe('sessions.invalid_credentials');
    return false;
  }

  /** A user holding `permissions` in the admin's account through a role; not a tenant administrator. */
  async function loginWithPermissions(permissions: string[]): Promise<LoggedIn> {
    const email = `perm-${newId().slice(-10)}@example.com`;
    const created = await api<User>(admin, 'POST', '/api/v1/users', { email, password: PASSWORD });
    expect(created.status).toBe(201);
    await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      const roleId = newId();
      await tx.insertInto('roles').values({ account_id: admin.accountId, id: roleId, name: `Role ${roleId}`, permissions }).execute();
      await tx.insertInto('role_assignments').values({ tenant_id: admin.tenantId, id: newId(), account_id: admin.accountId, role_id: roleId, user_id: created.body.id }).execute();
    });
    const session = await loginOverHttp(t, { email, password: PASSWORD, tenantId: admin.tenantId });
    return { ...session, email, password: PASSWORD };
  }

  it('creates a user (email case-folded, password hashed, no secret echoed) and records user.created', async () => {
    const res = await api<User>(admin, 'POST', '/api/v1/users', { email: 'Jane.Doe@Example.com', name: 'Jane Doe', phone: '+1 555 0100', password: PASSWORD });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ email: 'jane.doe@example.com', name: 'Jane Doe', phone: '+1 555 0100', active: true, isTenantAdmin: false, hasPassword: true });
    expect(JSON.stringify(res.body)).not.toContain(PASSWORD);
    const stored = await t.app.db.ownerWork((tx) => tx.selectFrom('users').select('password_hash').where('id', '=', res.body.id).executeTakeFirstOrThrow());
    expect(stored.password_hash).toMatch(/^\$argon2id\$/);
    expect(await auditActions(admin.tenantId)).toContain('user.created');
    expect(await passwordAccepted('jane.doe@example.com', PASSWORD)).toBe(true);
  });

  it('refuses a duplicate email, case-insensitively (identity.email_taken)', async () => {
    expect((await api(admin, 'POST', '/api/v1/users', { email: 'taken@example.com' })).status).toBe(201);
    const res = await api(admin, 'POST', '/api/v1/users', { email: 'TAKEN@example.com' });
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('identity.email_taken');
  });

  // DESIGN §4 password policy (NIST SP 800-63B §5.1.1.2): at least 8 characters, at most 128, refused if on a common-password list.
  it.each([
    ['too short', 'short7!'],
    ['too long', 'x'.repeat(129)],
    ['common', 'password123'],
    ['common, in other case', 'ILoveYou123'],
    ['the email itself', 'weak.user@example.com'],
  ])('refuses a password that is %s (identity.password_policy)', async (_label, password) => {
    const res = await api(admin, 'POST', '/api/v1/users', { email: 'weak.user@example.com', password });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(errorCode(res)).toBe('identity.password_policy');
  });

  it('accepts a password of exactly 8 and of exactly 128 characters', async () => {
    expect((await api(admin, 'POST', '/api/v1/users', { email: 'eight@example.com', password: 'q7#Lm2!x' })).status).toBe(201);
    expect((await api(admin, 'POST', '/api/v1/users', { email: 'long@example.com', password: 'Zq9-'.repeat(32) })).status).toBe(201);
  });

  it('lists users with search and pagination', async () => {
    for (const n of [1, 2, 3]) await api(admin, 'POST', '/api/v1/users', { email: `pager${n}@example.com`, name: `Pager Number ${n}` });
    const page1 = await api<{ items: User[]; total: number; limit: number; offset: number }>(admin, 'GET', '/api/v1/users?q=PAGER&limit=2');
    expect(page1.status).toBe(200);
    expect(page1.body.total).toBe(3);
    expect(page1.body.items.map((u) => u.email)).toEqual(['pager1@example.com', 'pager2@example.com']);
    const page2 = await api<{ items: User[] }>(admin, 'GET', '/api/v1/users?q=pager&limit=2&offset=2');
    expect(page2.body.items.map((u) => u.email)).toEqual(['pager3@example.com']);
    const byName = await api<{ items: User[] }>(admin, 'GET', '/api/v1/users?q=number%202');
    expect(byName.body.items.map((u) => u.email)).toEqual(['pager2@example.com']);
    // LIKE wildcards in the search are literal.
    expect((await api<{ total: number }>(admin, 'GET', '/api/v1/users?q=%25')).body.total).toBe(0);
    // Another tenant's users are never listed.
    const all = await api<{ items: User[] }>(admin, 'GET', '/api/v1/users?limit=200');
    expect(all.body.items.map((u) => u.email)).not.toContain(otherAdmin.email);
    expect((await api(admin, 'GET', '/api/v1/users?limit=0')).status).toBe(400);
  });

  it('reads and updates a user (name, phone, tenant administrator) and records user.updated', async () => {
    const created = await api<User>(admin, 'POST', '/api/v1/users', { email: 'edit.me@example.com' });
    const read = await api<User>(admin, 'GET', `/api/v1/users/${created.body.id}`);
    expect(read.body).toEqual(created.body);
    const updated = await api<User>(admin, 'PATCH', `/api/v1/users/${created.body.id}`, { name: 'Edited', phone: '+44 20 7946 0000', isTenantAdmin: true });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ name: 'Edited', phone: '+44 20 7946 0000', isTenantAdmin: true });
    expect(await auditActions(admin.tenantId)).toContain('user.updated');
    const demoted = await api<User>(admin, 'PATCH', `/api/v1/users/${created.body.id}`, { isTenantAdmin: false });
    expect(demoted.body.isTenantAdmin).toBe(false);
    expect((await api(admin, 'PATCH', `/api/v1/users/${created.body.id}`, { email: 'x@example.com' })).status).toBe(400);
  });

  it('refuses to delete or deactivate yourself (identity.cannot_delete_self)', async () => {
    const del = await api(admin, 'DELETE', `/api/v1/users/${admin.userId}`);
    expect(del.status).toBe(409);
    expect(errorCode(del)).toBe('identity.cannot_delete_self');
    const patch = await api(admin, 'PATCH', `/api/v1/users/${admin.userId}`, { active: false });
    expect(errorCode(patch)).toBe('identity.cannot_delete_self');
    expect((await api(admin, 'GET', '/api/v1/me')).status).toBe(200);
  });

  it('refuses to demote the last active tenant administrator (identity.last_tenant_admin), allows it when another remains', async () => {
    const res = await api(admin, 'PATCH', `/api/v1/users/${admin.userId}`, { isTenantAdmin: false });
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('identity.last_tenant_admin');
    expect((await api<User>(admin, 'GET', '/api/v1/me')).body.isTenantAdmin).toBe(true);

    // A second administrator is deactivated by the first: allowed (one remains). The deactivated one is
    // no longer counted, so the first still cannot demote itself.
    const second = await api<User>(admin, 'POST', '/api/v1/users', { email: 'second.admin@example.com', isTenantAdmin: true });
    expect((await api(admin, 'DELETE', `/api/v1/users/${second.body.id}`)).status).toBe(204);
    expect(errorCode(await api(admin, 'PATCH', `/api/v1/users/${admin.userId}`, { isTenantAdmin: false }))).toBe('identity.last_tenant_admin');
  });

  it('deactivates ("deletes") a user: the user can no longer sign in; user.deactivated recorded', async () => {
    const email = 'leaving@example.com';
    const created = await api<User>(admin, 'POST', '/api/v1/users', { email, password: PASSWORD });
    const del = await api(admin, 'DELETE', `/api/v1/users/${created.body.id}`);
    expect(del.status).toBe(204);
    expect((await api<User>(admin, 'GET', `/api/v1/users/${created.body.id}`)).body.active).toBe(false);
    expect(await passwordAccepted(email, PASSWORD)).toBe(false);
    expect(await auditActions(admin.tenantId)).toContain('user.deactivated');
    // Deleting again changes nothing and is not an error.
    expect((await api(admin, 'DELETE', `/api/v1/users/${created.body.id}`)).status).toBe(204);
  });

  it('resets a password: a generated one-time password (must change) or a given one; user.password_reset recorded', async () => {
    const email = 'forgetful@example.com';
    const created = await api<User>(admin, 'POST', '/api/v1/users', { email, password: PASSWORD });
    const generated = await api<{ generatedPassword?: string }>(admin, 'POST', `/api/v1/users/${created.body.id}/reset-password`, {});
    expect(generated.status).toBe(200);
    expect(generated.headers.get('cache-control')).toBe('no-store');
    const oneTime = generated.body.generatedPassword!;
    expect(oneTime.length).toBeGreaterThanOrEqual(16);
    expect((await api<User>(admin, 'GET', `/api/v1/users/${created.body.id}`)).body.mustChangePassword).toBe(true);
    expect(await passwordAccepted(email, PASSWORD)).toBe(false);
    expect(await passwordAccepted(email, oneTime)).toBe(true);

    const weak = await api(admin, 'POST', `/api/v1/users/${created.body.id}/reset-password`, { password: 'qwertyuiop' });
    expect(errorCode(weak)).toBe('identity.password_policy');
    const given = await api<{ generatedPassword?: string }>(admin, 'POST', `/api/v1/users/${created.body.id}/reset-password`, { password: 'amber lantern meadow 9', mustChangePassword: false });
    expect(given.body).toEqual({});
    expect(await passwordAccepted(email, 'amber lantern meadow 9')).toBe(true);
    expect(await auditActions(admin.tenantId)).toContain('user.password_reset');
    // DESIGN §6 rule 7: secrets never reach audit events.
    const events = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select('details').where('tenant_id', '=', admin.tenantId).execute());
    const recorded = JSON.stringify(events);
    for (const secret of [oneTime, 'amber lantern meadow 9', PASSWORD]) expect(recorded).not.toContain(secret);
  });

  it('needs idp.view to read users and idp.manage to change them (permission_denied)', async () => {
    const plain = await loginAsPlainUser(t, admin);
    expect(errorCode(await api(plain, 'GET', '/api/v1/users'))).toBe('permission_denied');
    expect(errorCode(await api(plain, 'POST', '/api/v1/users', { email: 'no@example.com' }))).toBe('permission_denied');
    expect((await api(null, 'GET', '/api/v1/users')).status).toBe(401);

    const viewer = await loginWithPermissions(['idp.view']);
    expect((await api(viewer, 'GET', '/api/v1/users')).status).toBe(200);
    expect(errorCode(await api(viewer, 'DELETE', `/api/v1/users/${plain.userId}`))).toBe('permission_denied');
  });

  it('idp.manage without tenant administrator status is refused (identity.tenant_admin_required)', async () => {
    const manager = await loginWithPermissions(['idp.view', 'idp.manage']);
    const res = await api(manager, 'POST', '/api/v1/users', { email: 'by.manager@example.com' });
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('identity.tenant_admin_required');
    expect(errorCode(await api(manager, 'PATCH', `/api/v1/users/${manager.userId}`, { isTenantAdmin: true }))).toBe('identity.tenant_admin_required');
    expect((await api<User>(admin, 'GET', `/api/v1/users/${manager.userId}`)).body.isTenantAdmin).toBe(false);
  });

  // Tenant isolation: another tenant's user is not found, never forbidden, and nothing changes.
  it("answers 404 for another tenant's user on every route and changes nothing", async () => {
    const target = otherAdmin.userId;
    const before = await t.app.db.ownerWork((tx) => tx.selectFrom('users').selectAll().where('id', '=', target).executeTakeFirstOrThrow());
    const calls = [
      api(admin, 'GET', `/api/v1/users/${target}`),
      api(admin, 'PATCH', `/api/v1/users/${target}`, { name: 'Hijacked', isTenantAdmin: false }),
      api(admin, 'DELETE', `/api/v1/users/${target}`),
      api(admin, 'POST', `/api/v1/users/${target}/reset-password`, { password: 'amber lantern meadow 9' }),
    ];
    for (const res of await Promise.all(calls)) {
      expect(res.status).toBe(404);
      expect(errorCode(res)).toBe('not_found');
    }
    const after = await t.app.db.ownerWork((tx) => tx.selectFrom('users').selectAll().where('id', '=', target).executeTakeFirstOrThrow());
    expect(after).toEqual(before);
    expect((await api(otherAdmin, 'GET', '/api/v1/me')).status).toBe(200);
  });

  it('GET/PATCH /api/v1/me: own profile (name, phone), nothing else', async () => {
    const me = await api<User>(admin, 'GET', '/api/v1/me');
    expect(me.body).toMatchObject({ id: admin.userId, email: admin.email, isTenantAdmin: true });
    const patched = await api<User>(admin, 'PATCH', '/api/v1/me', { name: 'Ada Admin', phone: '+1 555 0199' });
    expect(patched.body).toMatchObject({ name: 'Ada Admin', phone: '+1 555 0199' });
    expect((await api(admin, 'PATCH', '/api/v1/me', { isTenantAdmin: false })).status).toBe(400);
    expect((await api(admin, 'PATCH', '/api/v1/me', { phone: 'call me maybe' })).status).toBe(400);
    const plain = await loginAsPlainUser(t, admin);
    expect((await api<User>(plain, 'PATCH', '/api/v1/me', { name: 'Plain Too' })).body.name).toBe('Plain Too');
  });

  it('changes your own password: the current one is required, the policy applies', async () => {
    const user = await loginAsPlainUser(t, admin);
    const wrong = await api(user, 'POST', '/api/v1/me/password', { currentPassword: 'not it at all', newPassword: 'amber lantern meadow 9' });
    expect(wrong.status).toBe(403);
    expect(errorCode(wrong)).toBe('identity.current_password_invalid');
    const weak = await api(user, 'POST', '/api/v1/me/password', { currentPassword: user.password, newPassword: 'football' });
    expect(errorCode(weak)).toBe('identity.password_policy');
    const ok = await api(user, 'POST', '/api/v1/me/password', { currentPassword: user.password, newPassword: 'amber lantern meadow 9' });
    expect(ok.status).toBe(204);
    expect(errorCode(await callApi(t, null, 'POST', '/auth/login', { email: user.email, password: user.password, tenantId: admin.tenantId }))).toBe('sessions.invalid_credentials');
    await loginOverHttp(t, { email: user.email, password: 'amber lantern meadow 9', tenantId: admin.tenantId });
    // The session that made the change stays.
    expect((await api(user, 'GET', '/api/v1/me')).status).toBe(200);
    expect(await auditActions(admin.tenantId)).toContain('user.password_changed');
  });

  it('describes its routes in the OpenAPI document', async () => {
    const doc = (await api<{ paths: Record<string, unknown> }>(null, 'GET', '/api/openapi.json')).body;
    for (const path of ['/api/v1/users', '/api/v1/users/{userId}', '/api/v1/users/{userId}/reset-password', '/api/v1/me', '/api/v1/me/password', '/api/v1/me/mfa/setup', '/api/v1/users/{userId}/mfa', '/api/v1/tenant/security-settings']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });

  // DESIGN §3 (de-provisioning applies to the next request) and OWASP ASVS v4 §3.3.3: deactivating a user or
  // resetting the password revokes all the user's sessions at once; a password change revokes the user's other
  // sessions. The very next request with the old token is refused.
  describe('session revocation', () => {
    const me = (who: { accessToken: string }) => api(who, 'GET', '/api/v1/me');

    it('deactivating (DELETE) ends every session of the user on the next request', async () => {
      const user = await loginAsPlainUser(t, admin);
      const second = await loginOverHttp(t, { email: user.email, password: user.password, tenantId: admin.tenantId });
      expect((await me(user)).status).toBe(200);
      expect((await me(second)).status).toBe(200);
      expect((await api(admin, 'DELETE', `/api/v1/users/${user.userId}`)).status).toBe(204);
      for (const who of [user, second]) {
        const res = await me(who);
        expect(res.status).toBe(401);
        expect(errorCode(res)).toBe('invalid_token');
      }
    });

    it('deactivating through PATCH active=false ends the sessions too', async () => {
      const user = await loginAsPlainUser(t, admin);
      expect((await me(user)).status).toBe(200);
      expect((await api(admin, 'PATCH', `/api/v1/users/${user.userId}`, { active: false })).status).toBe(200);
      expect(errorCode(await me(user))).toBe('invalid_token');
      const sessions = await t.app.db.ownerWork((tx) => tx.selectFrom('sessions').select(['revoked_at', 'revoked_reason']).where('user_id', '=', user.userId).execute());
      expect(sessions.length).toBeGreaterThan(0);
      expect(sessions.every((s) => s.revoked_at !== null && s.revoked_reason === 'user_deactivated')).toBe(true);
    });

    it('a password reset by an administrator ends every session of the user', async () => {
      const user = await loginAsPlainUser(t, admin);
      expect((await me(user)).status).toBe(200);
      expect((await api(admin, 'POST', `/api/v1/users/${user.userId}/reset-password`, {})).status).toBe(200);
      expect(errorCode(await me(user))).toBe('invalid_token');
    });

    it('changing your own password ends your other sessions, not this one', async () => {
      const user = await loginAsPlainUser(t, admin);
      const other = await loginOverHttp(t, { email: user.email, password: user.password, tenantId: admin.tenantId });
      expect((await me(other)).status).toBe(200);
      expect((await api(user, 'POST', '/api/v1/me/password', { currentPassword: user.password, newPassword: 'amber lantern meadow 9' })).status).toBe(204);
      expect((await me(user)).status).toBe(200);
      expect(errorCode(await me(other))).toBe('invalid_token');
    });

    it('a refused change revokes nothing', async () => {
      const user = await loginAsPlainUser(t, admin);
      const other = await loginOverHttp(t, { email: user.email, password: user.password, tenantId: admin.tenantId });
      expect(errorCode(await api(user, 'POST', '/api/v1/me/password', { currentPassword: 'wrong password!', newPassword: 'amber lantern meadow 9' }))).toBe(
        'identity.current_password_invalid',
      );
      expect((await me(other)).status).toBe(200);
    });
  });
});
