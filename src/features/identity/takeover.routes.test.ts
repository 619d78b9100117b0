import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode, type JsonResponse } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../../../test/support/login.js';
import { newId } from '../../kernel/ids.js';

const PASSWORD = 'copper harbour lantern 31';

interface Role { id: string; system: boolean }

/**
 * The takeover rule over real HTTP (rbac's grant-rule.ts, `assertMayActAs`): an administrator action that
 * lets the actor act as another user or take over their credentials (password reset, MFA reset,
 * reactivation) needs at least that user's access. The attack of the review: a tenant administrator with
 * `idp.manage` who is not an Account Administrator resets an Account Administrator's password (or MFA), signs
 * in as them and holds everything. Each attempt answers 403 `rbac.target_exceeds_own_access`, changes
 * nothing and is audited as `access.takeover.refused`; on a user holding less it works (control), and an
 * Account Administrator may do it to another (control).
 */
describe.each(engines())('no takeover of a more privileged user [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let adminRoleId: string;
  /** Tenant administrator with idp.view + idp.manage, not Account Administrator. */
  let helpdesk: LoggedIn;
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Takeover' });
    adminRoleId = (await api<{ items: Role[] }>(admin, 'GET', '/api/v1/roles')).body.items.find((r) => r.system)!.id;
    helpdesk = await userWith(['idp.view', 'idp.manage'], { isTenantAdmin: true });
  });
  afterAll(() => t.close());

  /** A user created by the admin, holding `permissions` through a direct role (or Account Administrator), logged in. */
  async function userWith(permissions: string[] | 'account_admin', options: { isTenantAdmin?: boolean; viaGroup?: boolean } = {}): Promise<LoggedIn> {
    const email = `u-${newId().slice(-10)}@example.com`;
    const created = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email, password: PASSWORD, isTenantAdmin: options.isTenantAdmin ?? false });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    let roleId = adminRoleId;
    if (permissions !== 'account_admin') {
      const role = await api<Role>(admin, 'POST', '/api/v1/roles', { name: `Role ${newId().slice(-10)}`, permissions });
      expect(role.status, JSON.stringify(role.body)).toBe(201);
      roleId = role.body.id;
    }
    if (options.viaGroup) {
      const group = await api<{ id: string }>(admin, 'POST', '/api/v1/groups', { name: `Group ${newId().slice(-10)}` });
      expect((await api(admin, 'POST', '/api/v1/assignments', { roleId, groupId: group.body.id })).status).toBe(201);
      expect((await api(admin, 'PUT', `/api/v1/groups/${group.body.id}/members/${created.body.id}`)).status).toBe(204);
    } else {
      expect((await api(admin, 'POST', '/api/v1/assignments', { roleId, userId: created.body.id })).status).toBe(201);
    }
    const session = await loginOverHttp(t, { email, password: PASSWORD, tenantId: admin.tenantId });
    return { ...session, email, password: PASSWORD };
  }

  /** Turns on TOTP for `who` (its sign-in is recent, so no step-up password is needed). */
  async function enrollMfa(who: LoggedIn): Promise<void> {
    const setup = await api<{ secret: string }>(who, 'POST', '/api/v1/me/mfa/setup');
    expect(setup.status).toBe(200);
    const code = TOTP.generate({ secret: Secret.fromBase32(setup.body.secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: t.clock.now().getTime() });
    expect((await api(who, 'POST', '/api/v1/me/mfa/verify', { code })).status).toBe(200);
  }

  /** Everything a takeover could change about the user, and the tenant's access. */
  async function snapshot(userId: string): Promise<string> {
    return t.app.db.ownerWork(async (tx) =>
      JSON.stringify({
        user: await tx.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow(),
        mfa: await tx.selectFrom('user_mfa').selectAll().where('user_id', '=', userId).execute(),
        recovery: await tx.selectFrom('mfa_recovery_codes').selectAll().where('user_id', '=', userId).orderBy('code_hash').execute(),
        sessions: await tx.selectFrom('sessions').select(['id', 'revoked_at']).where('user_id', '=', userId).orderBy('id').execute(),
        assignments: await tx.selectFrom('role_assignments').select(['id', 'role_id', 'user_id', 'group_id']).where('tenant_id', '=', admin.tenantId).orderBy('id').execute(),
      }),
    );
  }

  async function lastEvent() {
    return t.app.db.ownerWork((tx) =>
      tx.selectFrom('audit_events').select(['action', 'actor_id', 'outcome', 'error_code', 'target_type', 'target_id', 'details']).where('tenant_id', '=', admin.tenantId).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow(),
    );
  }

  /** The attempt answers 403 rbac.target_exceeds_own_access, changes nothing and records access.takeover.refused. */
  async function refused(who: LoggedIn, target: { userId: string }, attempt: () => Promise<JsonResponse>, expected: { change: string; missing?: string[]; accountAdminRequired?: boolean }) {
    const before = await snapshot(target.userId);
    const res = await attempt();
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(errorCode(res)).toBe('rbac.target_exceeds_own_access');
    expect(await snapshot(target.userId)).toBe(before);
    const event = await lastEvent();
    expect(event).toMatchObject({ action: 'access.takeover.refused', actor_id: who.userId, outcome: 'failure', error_code: 'rbac.target_exceeds_own_access', target_type: 'user', target_id: target.userId });
    expect(event.details).toMatchObject({ change: expected.change, accounts: [admin.accountId], missing: expected.missing ?? [], accountAdminRequired: expected.accountAdminRequired ?? true, tenantAdminRequired: false });
  }

  /** Whether the user's session still works and their password still signs in. */
  async function untouched(who: LoggedIn): Promise<void> {
    expect((await api(who, 'GET', '/api/v1/me/access')).status).toBe(200);
    const login = await callApi<{ status: string }>(t, null, 'POST', '/auth/login', { email: who.email, password: who.password, tenantId: who.tenantId });
    expect(login.status).toBe(200);
  }

  it("password reset: idp.manage cannot reset an Account Administrator's password; a lesser user's, yes; another Account Administrator's, by one, yes", async () => {
    const boss = await userWith('account_admin');
    await refused(helpdesk, boss, () => api(helpdesk, 'POST', `/api/v1/users/${boss.userId}/reset-password`, {}), { change: 'user.password_reset' });
    await refused(helpdesk, boss, () => api(helpdesk, 'POST', `/api/v1/users/${boss.userId}/reset-password`, { password: 'chosen by the attacker 9', mustChangePassword: false }), { change: 'user.password_reset' });
    await untouched(boss);
    // Account Administrator through a group: the same.
    const groupBoss = await userWith('account_admin', { viaGroup: true });
    await refused(helpdesk, groupBoss, () => api(helpdesk, 'POST', `/api/v1/users/${groupBoss.userId}/reset-password`, {}), { change: 'user.password_reset' });
    // Control: a user holding less.
    const viewer = await userWith(['idp.view']);
    expect((await api(helpdesk, 'POST', `/api/v1/users/${viewer.userId}/reset-password`, {})).status).toBe(200);
    // Control: an Account Administrator on another.
    expect((await api(admin, 'POST', `/api/v1/users/${boss.userId}/reset-password`, {})).status).toBe(200);
  });

  it('the target\'s keys count, not only Account Administrator: a user holding a key the actor lacks is refused', async () => {
    const auditor = await userWith(['idp.view', 'audit.export']);
    await refused(helpdesk, auditor, () => api(helpdesk, 'POST', `/api/v1/users/${auditor.userId}/reset-password`, {}), { change: 'user.password_reset', missing: ['audit.export'], accountAdminRequired: false });
    expect((await api(admin, 'POST', `/api/v1/users/${auditor.userId}/reset-password`, {})).status).toBe(200);
  });

  it("MFA reset: idp.manage cannot remove an Account Administrator's authenticator; a lesser user's, yes; by an Account Administrator, yes", async () => {
    const boss = await userWith('account_admin');
    await enrollMfa(boss);
    await refused(helpdesk, boss, () => api(helpdesk, 'DELETE', `/api/v1/users/${boss.userId}/mfa`), { change: 'user.mfa_reset' });
    expect((await api<{ enabled: boolean }>(boss, 'GET', '/api/v1/me/mfa')).body.enabled).toBe(true);
    const viewer = await userWith(['idp.view']);
    await enrollMfa(viewer);
    expect((await api(helpdesk, 'DELETE', `/api/v1/users/${viewer.userId}/mfa`)).status).toBe(204);
    expect((await api(admin, 'DELETE', `/api/v1/users/${boss.userId}/mfa`)).status).toBe(204);
  });

  it('reactivation: idp.manage cannot bring back a deactivated Account Administrator (nor reset the dormant one\'s password); deactivating and ending sessions are allowed', async () => {
    const boss = await userWith('account_admin');
    // Removing access takes nothing: allowed to a tenant administrator (the last-administrator rules still hold).
    expect((await api(helpdesk, 'DELETE', `/api/v1/users/${boss.userId}/sessions`)).status).toBe(200);
    expect((await api(helpdesk, 'PATCH', `/api/v1/users/${boss.userId}`, { active: false })).status).toBe(200);
    // Deactivated, the user is judged by what its assignments give once active again.
    await refused(helpdesk, boss, () => api(helpdesk, 'POST', `/api/v1/users/${boss.userId}/reset-password`, {}), { change: 'user.password_reset' });
    await refused(helpdesk, boss, () => api(helpdesk, 'PATCH', `/api/v1/users/${boss.userId}`, { active: true }), { change: 'user.reactivate' });
    // Other fields of a deactivated user, and of an active one, are not a takeover.
    expect((await api(helpdesk, 'PATCH', `/api/v1/users/${boss.userId}`, { name: 'Renamed' })).status).toBe(200);
    // Control: a lesser user; and an Account Administrator reactivates the administrator.
    const viewer = await userWith(['idp.view']);
    expect((await api(helpdesk, 'PATCH', `/api/v1/users/${viewer.userId}`, { active: false })).status).toBe(200);
    expect((await api(helpdesk, 'PATCH', `/api/v1/users/${viewer.userId}`, { active: true })).status).toBe(200);
    expect((await api(admin, 'PATCH', `/api/v1/users/${boss.userId}`, { active: true })).status).toBe(200);
  });

  it('acting on oneself goes through the self-service routes; no administrator route changes an email; only tenant administrators reach these routes', async () => {
    for (const [method, path] of [['POST', `/api/v1/users/${helpdesk.userId}/reset-password`], ['DELETE', `/api/v1/users/${helpdesk.userId}/mfa`]] as const) {
      const before = await snapshot(helpdesk.userId);
      const res = await api(helpdesk, method, path, method === 'POST' ? {} : undefined);
      expect(res.status, JSON.stringify(res.body)).toBe(403);
      expect(errorCode(res)).toBe('identity.self_service_required');
      expect(await snapshot(helpdesk.userId)).toBe(before);
    }
    const viewer = await userWith(['idp.view']);
    expect(errorCode(await api(helpdesk, 'PATCH', `/api/v1/users/${viewer.userId}`, { email: 'elsewhere@example.net' }))).toBe('invalid_request');
    // idp.manage without the tenant-administrator flag: neither a reset nor making anyone (oneself) tenant administrator.
    const manager = await userWith(['idp.view', 'idp.manage']);
    expect(errorCode(await api(manager, 'POST', `/api/v1/users/${viewer.userId}/reset-password`, {}))).toBe('identity.tenant_admin_required');
    expect(errorCode(await api(manager, 'PATCH', `/api/v1/users/${manager.userId}`, { isTenantAdmin: true }))).toBe('identity.tenant_admin_required');
  });
});
