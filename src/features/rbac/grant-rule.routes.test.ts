import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode, type JsonResponse } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../../../test/support/login.js';
import { newId } from '../../kernel/ids.js';

const PASSWORD = 'granite lantern orbit 42';

interface Role { id: string; name: string; permissions: string[]; system: boolean; organizationId: string | null }
interface Assignment { id: string; roleId: string }
type Who = LoggedIn & { roleId: string; assignmentId: string };

/**
 * The grant rule over real HTTP (grant-rule.ts): nobody gives anyone, themselves included, access they do
 * not hold in the scope affected, on every path that gives access. Each attack is answered 403
 * `rbac.grant_exceeds_own_access` naming what is missing, changes nothing, and is audited as
 * `access.grant.refused`; the same change by an Account Administrator succeeds (control).
 */
describe.each(engines())('the grant rule over HTTP [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let adminRoleId: string;
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Grantor' });
    adminRoleId = (await api<{ items: Role[] }>(admin, 'GET', '/api/v1/roles')).body.items.find((r) => r.system)!.id;
  });
  afterAll(() => t.close());

  async function newUser(isTenantAdmin = false, email = `u-${newId().slice(-10)}@example.com`): Promise<{ id: string; email: string }> {
    const res = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email, password: PASSWORD, isTenantAdmin });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return { id: res.body.id, email };
  }

  async function role(permissions: string[], extra: Record<string, unknown> = {}): Promise<Role> {
    const res = await api<Role>(admin, 'POST', '/api/v1/roles', { name: `Role ${newId().slice(-10)}`, permissions, ...extra });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  async function assign(body: Record<string, unknown>): Promise<Assignment> {
    const res = await api<Assignment>(admin, 'POST', '/api/v1/assignments', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  async function group(): Promise<string> {
    const res = await api<{ id: string }>(admin, 'POST', '/api/v1/groups', { name: `Group ${newId().slice(-10)}` });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  /** A user holding exactly `permissions` through one direct role (optionally expiring), logged in. */
  async function userWith(permissions: string[], options: { isTenantAdmin?: boolean; expiresAt?: Date; organizationId?: string } = {}): Promise<Who> {
    const user = await newUser(options.isTenantAdmin ?? false);
    const r = await role(permissions, options.organizationId ? { organizationId: options.organizationId } : {});
    const a = await assign({ roleId: r.id, userId: user.id, ...(options.expiresAt ? { expiresAt: options.expiresAt.toISOString() } : {}) });
    const session = await loginOverHttp(t, { email: user.email, password: PASSWORD, tenantId: admin.tenantId });
    return { ...session, email: user.email, password: PASSWORD, roleId: r.id, assignmentId: a.id };
  }

  async function organization(): Promise<string> {
    const id = newId();
    await t.app.db.tenantWork(admin.tenantId, (tx) => tx.insertInto('organizations').values({ account_id: admin.accountId, id, name: `Org ${id}` }).execute());
    return id;
  }

  /** Everything a grant could change in the tenant and its account, and the account's authorization epoch. */
  async function snapshot(): Promise<string> {
    return t.app.db.ownerWork(async (tx) =>
      JSON.stringify({
        roles: await tx.selectFrom('roles').select(['id', 'name', 'permissions', 'organization_id']).where('account_id', '=', admin.accountId).orderBy('id').execute(),
        assignments: await tx.selectFrom('role_assignments').select(['id', 'role_id', 'user_id', 'group_id', 'expires_at']).where('tenant_id', '=', admin.tenantId).orderBy('id').execute(),
        members: await tx.selectFrom('group_members').select(['group_id', 'user_id']).where('tenant_id', '=', admin.tenantId).orderBy('group_id').orderBy('user_id').execute(),
        keys: await tx.selectFrom('api_keys').select(['id', 'permissions']).where('tenant_id', '=', admin.tenantId).orderBy('id').execute(),
        epoch: (await tx.selectFrom('accounts').select('authz_epoch').where('id', '=', admin.accountId).executeTakeFirstOrThrow()).authz_epoch,
      }),
    );
  }

  async function lastEvent() {
    return t.app.db.ownerWork((tx) =>
      tx.selectFrom('audit_events').select(['action', 'actor_id', 'outcome', 'error_code', 'target_type', 'target_id', 'details']).where('tenant_id', '=', admin.tenantId).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow(),
    );
  }

  /**
   * Runs the attack: it must answer 403 rbac.grant_exceeds_own_access naming `missing` (and the Account
   * Administrator requirement when asked), leave the database as it was, and record access.grant.refused.
   */
  async function refused(who: LoggedIn, attack: () => Promise<JsonResponse>, expected: { missing: string[]; accountAdminRequired?: boolean; change: string }) {
    const before = await snapshot();
    const res = (await attack()) as JsonResponse<{ error: { message: string } }>;
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(errorCode(res)).toBe('rbac.grant_exceeds_own_access');
    for (const key of expected.missing) expect(res.body.error.message).toContain(key);
    if (expected.accountAdminRequired) expect(res.body.error.message).toContain('Account Administrator');
    expect(await snapshot()).toBe(before);
    const event = await lastEvent();
    expect(event).toMatchObject({ action: 'access.grant.refused', actor_id: who.userId, outcome: 'failure', error_code: 'rbac.grant_exceeds_own_access' });
    expect(event.details).toMatchObject({ change: expected.change, missing: [...expected.missing].sort(), accountAdminRequired: expected.accountAdminRequired ?? false, accounts: [admin.accountId] });
  }

  it('assignments: access_grants.manage alone cannot give Account Administrator (to oneself or a group) nor a role holding more', async () => {
    const granter = await userWith(['access_grants.manage']);
    const assignAdminToSelf = () => api(granter, 'POST', '/api/v1/assignments', { roleId: adminRoleId, userId: granter.userId });
    await refused(granter, assignAdminToSelf, { missing: [], accountAdminRequired: true, change: 'role_assignment.create' });
    const g = await group();
    await refused(granter, () => api(granter, 'POST', '/api/v1/assignments', { roleId: adminRoleId, groupId: g }), { missing: [], accountAdminRequired: true, change: 'role_assignment.create' });
    const bigger = await role(['audit.export', 'access_grants.manage', 'security.manage']);
    await refused(granter, () => api(granter, 'POST', '/api/v1/assignments', { roleId: bigger.id, userId: granter.userId }), { missing: ['audit.export', 'security.manage'], change: 'role_assignment.create' });
    // Even holding every Tessera key through a custom role does not make one an Account Administrator.
    const everything = await userWith((await api<{ permissions: { key: string }[] }>(admin, 'GET', '/api/v1/permissions')).body.permissions.map((p) => p.key));
    await refused(everything, () => api(everything, 'POST', '/api/v1/assignments', { roleId: adminRoleId, userId: everything.userId }), { missing: [], accountAdminRequired: true, change: 'role_assignment.create' });
    // Still no audit access after the refused attempt.
    expect(errorCode(await api(granter, 'GET', '/api/v1/audit/events'))).toBe('permission_denied');
    // Within one's own access it works: the role's keys are all held.
    const within = await role(['access_grants.manage']);
    expect((await api(granter, 'POST', '/api/v1/assignments', { roleId: within.id, userId: (await newUser()).id })).status).toBe(201);
    // Control: the Account Administrator gives both.
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: adminRoleId, groupId: g })).status).toBe(201);
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: bigger.id, userId: granter.userId })).status).toBe(201);
  });

  it('role edits: adding keys one does not hold to one\'s own role is refused; removing keys and adding held ones is allowed', async () => {
    const editor = await userWith(['roles.view', 'roles.edit']);
    const escalate = () => api(editor, 'PATCH', `/api/v1/roles/${editor.roleId}`, { permissions: ['roles.view', 'roles.edit', 'security.manage', 'audit.export', 'access_grants.manage', 'idp.manage'] });
    await refused(editor, escalate, { missing: ['access_grants.manage', 'audit.export', 'idp.manage', 'security.manage'], change: 'role.update' });
    expect(errorCode(await api(editor, 'GET', '/api/v1/audit/events'))).toBe('permission_denied');
    // A role the editor does not hold but others do: only keys the editor holds may be added to it.
    const others = await role(['idp.view']);
    await refused(editor, () => api(editor, 'PATCH', `/api/v1/roles/${others.id}`, { permissions: ['idp.view', 'idp.manage'] }), { missing: ['idp.manage'], change: 'role.update' });
    expect((await api<Role>(editor, 'PATCH', `/api/v1/roles/${others.id}`, { permissions: ['idp.view', 'roles.view'] })).body.permissions).toEqual(['idp.view', 'roles.view']);
    expect((await api<Role>(editor, 'PATCH', `/api/v1/roles/${others.id}`, { permissions: [] })).body.permissions).toEqual([]);
    // Control.
    expect((await api<Role>(admin, 'PATCH', `/api/v1/roles/${others.id}`, { permissions: ['idp.manage'] })).status).toBe(200);
  });

  it('organization scope: keys held in one organization are given only there; widening a role\'s scope gives all its keys anew', async () => {
    const orgA = await organization();
    const orgB = await organization();
    // roles.create and roles.edit account-wide; hosts-style keys (audit.view here) only in organization A.
    const editor = await userWith(['roles.view', 'roles.create', 'roles.edit']);
    const inA = await role(['audit.view'], { organizationId: orgA });
    await assign({ roleId: inA.id, userId: editor.userId });
    const created = await api<Role>(editor, 'POST', '/api/v1/roles', { name: `In A ${newId().slice(-6)}`, permissions: ['audit.view'], organizationId: orgA });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await refused(editor, () => api(editor, 'POST', '/api/v1/roles', { name: `In B ${newId().slice(-6)}`, permissions: ['audit.view'], organizationId: orgB }), { missing: ['audit.view'], change: 'role.create' });
    await refused(editor, () => api(editor, 'POST', '/api/v1/roles', { name: `Wide ${newId().slice(-6)}`, permissions: ['audit.view'] }), { missing: ['audit.view'], change: 'role.create' });
    // Moving the role from organization A to the whole account, or to organization B, gives audit.view there.
    await refused(editor, () => api(editor, 'PATCH', `/api/v1/roles/${created.body.id}`, { organizationId: null }), { missing: ['audit.view'], change: 'role.update' });
    await refused(editor, () => api(editor, 'PATCH', `/api/v1/roles/${created.body.id}`, { organizationId: orgB }), { missing: ['audit.view'], change: 'role.update' });
    // Narrowing an account-wide role to an organization gives nothing new.
    const wide = await role(['roles.view']);
    expect((await api(editor, 'PATCH', `/api/v1/roles/${wide.id}`, { organizationId: orgA })).status).toBe(200);
    // Control.
    expect((await api(admin, 'PATCH', `/api/v1/roles/${created.body.id}`, { organizationId: null })).status).toBe(200);
  });

  it('role templates: creating a role from a template holding more than the creator is refused', async () => {
    const creator = await userWith(['roles.view', 'roles.create']);
    const templates = (await api<{ items: { key: string; permissions: string[] }[] }>(admin, 'GET', '/api/v1/role-templates')).body.items;
    for (const key of ['read_only_auditor', 'account_administrator']) {
      const missing = templates.find((x) => x.key === key)!.permissions.filter((k) => k !== 'roles.view' && k !== 'roles.create');
      expect(missing.length).toBeGreaterThan(0);
      await refused(creator, () => api(creator, 'POST', '/api/v1/roles', { name: `From ${key} ${newId().slice(-6)}`, template: key }), { missing, change: 'role.create' });
    }
    // Control.
    expect((await api(admin, 'POST', '/api/v1/roles', { name: `Auditors ${newId().slice(-6)}`, template: 'read_only_auditor' })).status).toBe(201);
  });

  it('group membership: a tenant administrator cannot add themselves (or anyone) to a group holding more than they hold', async () => {
    const manager = await userWith(['idp.view', 'idp.manage'], { isTenantAdmin: true });
    const auditors = await group();
    await assign({ roleId: (await role(['audit.view', 'audit.export', 'idp.view'])).id, groupId: auditors });
    await refused(manager, () => api(manager, 'PUT', `/api/v1/groups/${auditors}/members/${manager.userId}`), { missing: ['audit.export', 'audit.view'], change: 'group.member_add' });
    const someone = await newUser();
    await refused(manager, () => api(manager, 'PUT', `/api/v1/groups/${auditors}/members/${someone.id}`), { missing: ['audit.export', 'audit.view'], change: 'group.member_add' });
    expect(errorCode(await api(manager, 'GET', '/api/v1/audit/events'))).toBe('permission_denied');
    // A group carrying Account Administrator: only an Account Administrator adds members.
    const admins = await group();
    await assign({ roleId: adminRoleId, groupId: admins });
    await refused(manager, () => api(manager, 'PUT', `/api/v1/groups/${admins}/members/${manager.userId}`), { missing: [], accountAdminRequired: true, change: 'group.member_add' });
    // A group whose roles the manager holds: allowed.
    const viewers = await group();
    await assign({ roleId: (await role(['idp.view'])).id, groupId: viewers });
    expect((await api(manager, 'PUT', `/api/v1/groups/${viewers}/members/${someone.id}`)).status).toBe(204);
    // Control.
    expect((await api(admin, 'PUT', `/api/v1/groups/${auditors}/members/${manager.userId}`)).status).toBe(204);
    expect((await api(manager, 'GET', '/api/v1/audit/events')).status).toBe(200);
  });

  it('API keys: scopes beyond the creator are refused; a key is narrowed on its next use when its creator is demoted, and dies with the creator', async () => {
    const creator = await userWith(['security.manage', 'idp.view']);
    await refused(creator, () => api(creator, 'POST', '/api/v1/api-keys', { name: 'too wide', permissions: ['idp.view', 'idp.manage', 'audit.export'] }), { missing: ['audit.export', 'idp.manage'], change: 'api_key.create' });

    const viewer = await newUser();
    const key = await api<{ key: string }>(creator, 'POST', '/api/v1/api-keys', { name: 'product', permissions: ['idp.view', 'security.manage'] });
    expect(key.status, JSON.stringify(key.body)).toBe(201);
    const byKey = { accessToken: key.body.key };
    const check = (permission: string) => api<{ results: { allowed: boolean }[] }>(byKey, 'POST', '/api/v1/authz/check', { user: viewer.id, permission });
    expect((await check('idp.view')).status).toBe(200);
    expect((await check('security.manage')).status).toBe(200);
    // Demote the creator: the key loses security.manage on the very next request.
    expect((await api(admin, 'PATCH', `/api/v1/roles/${creator.roleId}`, { permissions: ['idp.view'] })).status).toBe(200);
    expect(errorCode(await check('security.manage'))).toBe('rbac.api_key_scope');
    expect((await check('idp.view')).status).toBe(200);
    // Give it back: the key's own scope is kept, only narrowed by the creator's current access.
    expect((await api(admin, 'PATCH', `/api/v1/roles/${creator.roleId}`, { permissions: ['idp.view', 'security.manage'] })).status).toBe(200);
    expect((await check('security.manage')).status).toBe(200);
    // Deactivate the creator: the key answers for nothing.
    expect((await api(admin, 'PATCH', `/api/v1/users/${creator.userId}`, { active: false })).status).toBe(200);
    expect(errorCode(await check('idp.view'))).toBe('rbac.api_key_scope');

    // Control: an Account Administrator's key with any scope.
    expect((await api(admin, 'POST', '/api/v1/api-keys', { name: 'admin', permissions: ['idp.manage', 'audit.export'] })).status).toBe(201);
  });

  it('time: an expiring elevation cannot be turned into a lasting one, for oneself or anyone', async () => {
    const until = new Date(t.clock.now().getTime() + 3_600_000);
    const jit = await userWith(['access_grants.manage', 'audit.view'], { expiresAt: until });
    const auditView = await role(['audit.view']);
    const target = await newUser();
    await refused(jit, () => api(jit, 'POST', '/api/v1/assignments', { roleId: auditView.id, userId: target.id }), { missing: ['audit.view'], change: 'role_assignment.create' });
    await refused(jit, () => api(jit, 'POST', '/api/v1/assignments', { roleId: jit.roleId, userId: jit.userId, expiresAt: new Date(until.getTime() + 1).toISOString() }), {
      missing: ['access_grants.manage', 'audit.view'],
      change: 'role_assignment.create',
    });
    // Up to the end of one's own assignment: allowed.
    expect((await api(jit, 'POST', '/api/v1/assignments', { roleId: auditView.id, userId: target.id, expiresAt: until.toISOString() })).status).toBe(201);
    // Control.
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: auditView.id, userId: target.id })).status).toBe(201);
  });

  it('last Account Administrator: an expiring assignment never counts, so removing the only lasting one is refused', async () => {
    const boss = await loginAsAdmin(t, { tenantName: 'Expiring' });
    const roles = await api<{ items: Role[] }>(boss, 'GET', '/api/v1/roles');
    const bossRole = roles.body.items.find((r) => r.system)!.id;
    const lasting = (await api<{ items: Assignment[] }>(boss, 'GET', `/api/v1/assignments?userId=${boss.userId}`)).body.items.find((a) => a.roleId === bossRole)!;
    const expiring = await api<Assignment>(boss, 'POST', '/api/v1/assignments', { roleId: bossRole, userId: boss.userId, expiresAt: new Date(t.clock.now().getTime() + 86_400_000).toISOString() });
    expect(expiring.status).toBe(201);
    const res = await api(boss, 'DELETE', `/api/v1/assignments/${lasting.id}`);
    expect(res.status).toBe(409);
    expect(errorCode(res)).toBe('rbac.last_account_admin');
    expect((await api<{ items: Assignment[] }>(boss, 'GET', `/api/v1/assignments?userId=${boss.userId}`)).body.items.map((a) => a.id).sort()).toEqual([lasting.id, expiring.body.id].sort());
  });
});
