import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginOverHttp } from '../../../test/support/login.js';
import { newId } from '../../kernel/ids.js';

const PASSWORD = 'granite lantern orbit 42';

interface Role { id: string; name: string; permissions: string[]; system: boolean }
interface Assignment { id: string; expired: boolean }

describe.each(engines())('access control over HTTP [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let other: LoggedIn;
  let adminRoleId: string;
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    other = await loginAsAdmin(t, { tenantName: 'Globex' });
    const roles = await api<{ items: Role[] }>(admin, 'GET', '/api/v1/roles');
    adminRoleId = roles.body.items.find((r) => r.system)!.id;
  });
  afterAll(() => t.close());

  async function newUser(email = `u-${newId().slice(-10)}@example.com`, isTenantAdmin = false): Promise<string> {
    const res = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email, password: PASSWORD, isTenantAdmin });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id;
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

  /** A user holding exactly `permissions` (one direct role), logged in. */
  async function userWith(permissions: string[], isTenantAdmin = false): Promise<LoggedIn & { roleId: string }> {
    const email = `p-${newId().slice(-10)}@example.com`;
    const userId = await newUser(email, isTenantAdmin);
    const r = await role(permissions);
    await assign({ roleId: r.id, userId });
    const session = await loginOverHttp(t, { email, password: PASSWORD, tenantId: admin.tenantId });
    return { ...session, email, password: PASSWORD, roleId: r.id };
  }

  async function auditActions(tenantId: string): Promise<string[]> {
    const rows = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select('action').where('tenant_id', '=', tenantId).orderBy('seq').execute());
    return rows.map((r) => r.action);
  }

  it('permission catalog: applications register keys idempotently and versioned; bad keys and keys in use are refused', async () => {
    const catalog = { permissions: [{ key: 'hosts.view', category: 'Hosts' }, { key: 'patches.deploy', category: 'Patches' }], templates: [{ key: 'patch_manager', name: 'Patch Manager', permissions: ['hosts.view', 'patches.deploy'] }] };
    const first = await api<{ version: number; changed: boolean }>(admin, 'PUT', '/api/v1/permissions', catalog);
    expect(first.body).toEqual({ version: 1, changed: true });
    expect((await api(admin, 'PUT', '/api/v1/permissions', catalog)).body).toEqual({ version: 1, changed: false });
    expect(errorCode(await api(admin, 'PUT', '/api/v1/permissions', { ...catalog, expectedVersion: 0 }))).toBe('rbac.catalog_version_conflict');
    expect(errorCode(await api(admin, 'PUT', '/api/v1/permissions', { permissions: [{ key: 'Hosts.View', category: 'Hosts' }] }))).toBe('rbac.invalid_permission_key');
    expect(errorCode(await api(admin, 'PUT', '/api/v1/permissions', { permissions: [{ key: 'idp.view', category: 'Mine' }] }))).toBe('rbac.invalid_permission_key');
    const listed = await api<{ version: number; permissions: { key: string; source: string }[] }>(admin, 'GET', '/api/v1/permissions');
    expect(listed.body.permissions.filter((p) => p.source === 'application').map((p) => p.key)).toEqual(['hosts.view', 'patches.deploy']);

    const templated = await role([], {});
    expect(templated.permissions).toEqual([]);
    const fromTemplate = await api<Role>(admin, 'POST', '/api/v1/roles', { name: 'Patchers', template: 'patch_manager' });
    expect(fromTemplate.body.permissions).toEqual(['hosts.view', 'patches.deploy']);
    // Removing a key a role uses: refused, unless forced (then taken out of the role).
    const removal = { permissions: [{ key: 'hosts.view', category: 'Hosts' }], templates: [] };
    expect(errorCode(await api(admin, 'PUT', '/api/v1/permissions', removal))).toBe('rbac.permission_in_use');
    expect((await api<{ version: number }>(admin, 'PUT', '/api/v1/permissions', { ...removal, force: true })).body.version).toBe(2);
    expect((await api<Role>(admin, 'GET', `/api/v1/roles/${fromTemplate.body.id}`)).body.permissions).toEqual(['hosts.view']);
    expect(await auditActions(admin.tenantId)).toContain('permission_catalog.updated');
  });

  it('roles: templates pre-fill, unknown keys are refused, the system role is immutable, a role in use cannot be deleted', async () => {
    const templates = await api<{ items: { key: string; permissions: string[] }[] }>(admin, 'GET', '/api/v1/role-templates');
    const auditor = templates.body.items.find((x) => x.key === 'read_only_auditor')!;
    expect(auditor.permissions.length).toBeGreaterThan(0);
    expect(auditor.permissions.every((k) => k.endsWith('.view'))).toBe(true);
    expect(auditor.permissions).toContain('idp.view');
    const created = await api<Role>(admin, 'POST', '/api/v1/roles', { name: 'Auditors', template: 'read_only_auditor' });
    expect(created.body.permissions).toEqual([...auditor.permissions].sort());
    expect(errorCode(await api(admin, 'POST', '/api/v1/roles', { name: 'Bad', permissions: ['nope.view'] }))).toBe('rbac.unknown_permission');
    expect(errorCode(await api(admin, 'POST', '/api/v1/roles', { name: 'Auditors', permissions: [] }))).toBe('rbac.role_name_taken');
    expect(errorCode(await api(admin, 'POST', '/api/v1/roles', { name: 'Nobody', template: 'no_such_template' }))).toBe('rbac.unknown_template');
    expect(errorCode(await api(admin, 'PATCH', `/api/v1/roles/${adminRoleId}`, { name: 'Mine' }))).toBe('rbac.system_role_immutable');
    expect(errorCode(await api(admin, 'DELETE', `/api/v1/roles/${adminRoleId}`))).toBe('rbac.system_role_immutable');
    const userId = await newUser();
    const a = await assign({ roleId: created.body.id, userId });
    expect(errorCode(await api(admin, 'DELETE', `/api/v1/roles/${created.body.id}`))).toBe('rbac.role_in_use');
    expect((await api(admin, 'DELETE', `/api/v1/assignments/${a.id}`)).status).toBe(204);
    expect((await api(admin, 'DELETE', `/api/v1/roles/${created.body.id}`)).status).toBe(204);
    const actions = await auditActions(admin.tenantId);
    for (const action of ['role.created', 'role.deleted', 'role_assignment.created', 'role_assignment.removed']) expect(actions).toContain(action);
  });

  it('every row of the permission table: the guard answers 403 permission_denied naming the missing key', async () => {
    const viewer = await userWith(['roles.view', 'idp.view', 'access_grants.view']);
    expect((await api(viewer, 'GET', '/api/v1/roles')).status).toBe(200);
    expect((await api(viewer, 'GET', '/api/v1/groups')).status).toBe(200);
    expect((await api(viewer, 'GET', '/api/v1/users')).status).toBe(200);
    expect((await api(viewer, 'GET', '/api/v1/assignments')).status).toBe(200);
    const denied: [string, string, unknown, string][] = [
      ['POST', '/api/v1/roles', { name: 'X', permissions: [] }, 'roles.create'],
      ['PATCH', `/api/v1/roles/${viewer.roleId}`, { name: 'Y' }, 'roles.edit'],
      ['DELETE', `/api/v1/roles/${viewer.roleId}`, undefined, 'roles.delete'],
      ['PUT', '/api/v1/permissions', { permissions: [] }, 'roles.edit'],
      ['POST', '/api/v1/groups', { name: 'G' }, 'idp.manage'],
      ['POST', '/api/v1/users', { email: 'x@example.com' }, 'idp.manage'],
      ['POST', '/api/v1/assignments', { roleId: viewer.roleId, userId: viewer.userId }, 'access_grants.manage'],
      ['GET', '/api/v1/audit/events', undefined, 'audit.view'],
      ['GET', '/api/v1/api-keys', undefined, 'security.manage'],
    ];
    for (const [method, path, body, key] of denied) {
      const res = await api<{ error: { message: string } }>(viewer, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(errorCode(res)).toBe('permission_denied');
      expect(res.body.error.message).toContain(key);
    }
    // idp.manage without tenant administration is not enough for groups (permission table: tenant admin).
    const manager = await userWith(['idp.manage']);
    expect(errorCode(await api(manager, 'POST', '/api/v1/groups', { name: `G ${newId()}` }))).toBe('identity.tenant_admin_required');
    // Own access: any authenticated user.
    expect((await api(manager, 'GET', '/api/v1/me/access')).status).toBe(200);
  });

  it('groups: inheritance with sources, stacking, member search, removal takes effect on the next request', async () => {
    const email = `g-${newId().slice(-10)}@example.com`;
    const userId = await newUser(email);
    const group = await api<{ id: string }>(admin, 'POST', '/api/v1/groups', { name: 'Helpdesk' });
    expect(group.status).toBe(201);
    expect(errorCode(await api(admin, 'POST', '/api/v1/groups', { name: 'HELPDESK' }))).toBe('identity.group_name_taken');
    expect((await api(admin, 'PUT', `/api/v1/groups/${group.body.id}/members/${userId}`)).status).toBe(204);
    const viewRoles = await role(['roles.view']);
    const viewGroups = await role(['idp.view', 'roles.view']);
    await assign({ roleId: viewRoles.id, userId });
    await assign({ roleId: viewGroups.id, groupId: group.body.id });
    const user = await loginOverHttp(t, { email, password: PASSWORD, tenantId: admin.tenantId });
    const access = await api<{ accounts: { permissions: { key: string; sources: { source: string; role: string }[] }[] }[] }>(user, 'GET', '/api/v1/me/access');
    const perms = Object.fromEntries(access.body.accounts[0]!.permissions.map((p) => [p.key, p.sources.map((s) => `${s.source}:${s.role}`).sort()]));
    expect(perms['roles.view']).toEqual([`direct:${viewRoles.name}`, `group:Helpdesk:${viewGroups.name}`].sort());
    expect(perms['idp.view']).toEqual([`group:Helpdesk:${viewGroups.name}`]);
    const members = await api<{ items: { email: string }[] }>(admin, 'GET', `/api/v1/groups/${group.body.id}/members?q=${email.slice(0, 8)}`);
    expect(members.body.items.map((m) => m.email)).toEqual([email]);
    expect((await api(user, 'GET', '/api/v1/groups')).status).toBe(200);
    expect((await api(admin, 'DELETE', `/api/v1/groups/${group.body.id}/members/${userId}`)).status).toBe(204);
    expect(errorCode(await api(user, 'GET', '/api/v1/groups'))).toBe('permission_denied');
    expect((await api(user, 'GET', '/api/v1/roles')).status).toBe(200);
    const actions = await auditActions(admin.tenantId);
    for (const action of ['group.created', 'group.member_added', 'group.member_removed']) expect(actions).toContain(action);
  });

  it('a user whose only role comes through a group can sign in to the account', async () => {
    const email = `go-${newId().slice(-10)}@example.com`;
    const userId = await newUser(email);
    const group = await api<{ id: string }>(admin, 'POST', '/api/v1/groups', { name: `Only ${newId().slice(-6)}` });
    await api(admin, 'PUT', `/api/v1/groups/${group.body.id}/members/${userId}`);
    await assign({ roleId: (await role(['idp.view'])).id, groupId: group.body.id });
    const user = await loginOverHttp(t, { email, password: PASSWORD, tenantId: admin.tenantId });
    expect(user.accountId).toBe(admin.accountId);
    expect((await api(user, 'GET', '/api/v1/users')).status).toBe(200);
  });

  it('org scoping: a role scoped to one organization grants only there', async () => {
    const orgId = newId();
    await t.app.db.tenantWork(admin.tenantId, (tx) => tx.insertInto('organizations').values({ account_id: admin.accountId, id: orgId, name: `Org ${orgId}` }).execute());
    const scoped = await role(['roles.view'], { organizationId: orgId });
    const userId = await newUser();
    await assign({ roleId: scoped.id, userId });
    const check = (org?: string) => api<{ results: { allowed: boolean; reason: string }[] }>(admin, 'POST', '/api/v1/authz/check', { user: userId, permission: 'roles.view', ...(org ? { org } : {}) });
    expect((await check(orgId)).body.results[0]!.allowed).toBe(true);
    expect((await check()).body.results[0]).toMatchObject({ allowed: false });
    expect((await check(newId())).body.results[0]!.allowed).toBe(false);
  });

  it('expiry: an assignment stops counting at the exact instant (injected clock); the job marks and records it', async () => {
    const user = await userWith([]);
    const r = await role(['audit.view']);
    const expiresAt = new Date(t.clock.now().getTime() + 60_000);
    expect(errorCode(await api(admin, 'POST', '/api/v1/assignments', { roleId: r.id, userId: user.userId, expiresAt: new Date(t.clock.now().getTime() - 1).toISOString() }))).toBe('rbac.expiry_in_past');
    const a = await assign({ roleId: r.id, userId: user.userId, expiresAt: expiresAt.toISOString() });
    const start = t.clock.now();
    t.clock.set(expiresAt.getTime() - 1);
    expect((await api(user, 'GET', '/api/v1/audit/events')).status).toBe(200);
    t.clock.set(expiresAt.getTime());
    expect(errorCode(await api(user, 'GET', '/api/v1/audit/events'))).toBe('permission_denied');
    expect(await t.app.services.rbac.assignments.expireDue()).toBeGreaterThanOrEqual(1);
    const listed = await api<{ items: Assignment[] }>(admin, 'GET', `/api/v1/assignments?userId=${user.userId}&includeExpired=true`);
    expect(listed.body.items.find((x) => x.id === a.id)?.expired).toBe(true);
    expect(await auditActions(admin.tenantId)).toContain('role_assignment.expired');
    t.clock.set(start);
  });

  it('explain: the chain user → group → assignment → role → permission, or what is missing', async () => {
    const userId = await newUser();
    const group = await api<{ id: string }>(admin, 'POST', '/api/v1/groups', { name: `Explainers ${newId().slice(-6)}` });
    await api(admin, 'PUT', `/api/v1/groups/${group.body.id}/members/${userId}`);
    const r = await role(['audit.export']);
    await assign({ roleId: r.id, groupId: group.body.id });
    const yes = await api<{ allowed: boolean; chains: { group: { id: string } | null; role: { name: string } }[] }>(admin, 'GET', `/api/v1/access/explain?user=${userId}&permission=audit.export`);
    expect(yes.body.allowed).toBe(true);
    expect(yes.body.chains[0]).toMatchObject({ group: { id: group.body.id }, role: { name: r.name } });
    const no = await api<{ allowed: boolean; missing: string }>(admin, 'GET', `/api/v1/access/explain?user=${userId}&permission=sso.manage`);
    expect(no.body.allowed).toBe(false);
    expect(no.body.missing).toContain(r.name);
  });

  it('last Account Administrator: protected through removal, deactivation, group removal and group deletion', async () => {
    const mine = await api<{ items: (Assignment & { roleId: string; principal: { id: string } })[] }>(admin, 'GET', `/api/v1/assignments?userId=${admin.userId}`);
    const adminAssignment = mine.body.items.find((a) => a.roleId === adminRoleId)!;
    expect(errorCode(await api(admin, 'DELETE', `/api/v1/assignments/${adminAssignment.id}`))).toBe('rbac.last_account_admin');
    // Deactivation by another tenant administrator (who is not an Account Administrator).
    const deputyEmail = `d-${newId().slice(-10)}@example.com`;
    const deputyId = await newUser(deputyEmail, true);
    await assign({ roleId: (await role(['idp.manage'])).id, userId: deputyId });
    const deputy = await loginOverHttp(t, { email: deputyEmail, password: PASSWORD, tenantId: admin.tenantId });
    expect(errorCode(await api(deputy, 'DELETE', `/api/v1/users/${admin.userId}`))).toBe('rbac.last_account_admin');
    expect(errorCode(await api(deputy, 'PATCH', `/api/v1/users/${admin.userId}`, { active: false }))).toBe('rbac.last_account_admin');
    // Through a group: the group becomes the only holder, then emptying or deleting it is refused.
    const group = await api<{ id: string }>(admin, 'POST', '/api/v1/groups', { name: `Admins ${newId().slice(-6)}` });
    await api(admin, 'PUT', `/api/v1/groups/${group.body.id}/members/${admin.userId}`);
    await assign({ roleId: adminRoleId, groupId: group.body.id });
    expect((await api(admin, 'DELETE', `/api/v1/assignments/${adminAssignment.id}`)).status).toBe(204);
    expect(errorCode(await api(admin, 'DELETE', `/api/v1/groups/${group.body.id}/members/${admin.userId}`))).toBe('rbac.last_account_admin');
    expect(errorCode(await api(admin, 'DELETE', `/api/v1/groups/${group.body.id}`))).toBe('rbac.last_account_admin');
    // An expiring assignment never counts as the one that keeps the account administered.
    expect((await api(admin, 'GET', '/api/v1/roles')).status).toBe(200);
    await assign({ roleId: adminRoleId, userId: admin.userId });
    expect((await api(admin, 'DELETE', `/api/v1/groups/${group.body.id}`)).status).toBe(204);
  });

  it('API keys: shown once, stored hashed, scoped, authenticate authz/check, revoked keys are refused', async () => {
    const userId = await newUser();
    await assign({ roleId: (await role(['idp.view'])).id, userId });
    const created = await api<{ id: string; key: string }>(admin, 'POST', '/api/v1/api-keys', { name: 'product', permissions: ['idp.view'] });
    expect(created.status).toBe(201);
    const stored = await t.app.db.ownerWork((tx) => tx.selectFrom('api_keys').selectAll().where('id', '=', created.body.id).executeTakeFirstOrThrow());
    expect(Buffer.from(stored.key_hash).toString('hex')).not.toContain(created.body.key);
    expect(JSON.stringify((await api(admin, 'GET', '/api/v1/api-keys')).body)).not.toContain(created.body.key);
    const byKey = { accessToken: created.body.key };
    const res = await api<{ results: { allowed: boolean }[] }>(byKey, 'POST', '/api/v1/authz/check', { checks: [{ user: userId, permission: 'idp.view' }, { user: admin.userId, permission: 'idp.view' }] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results.map((r) => r.allowed)).toEqual([true, true]);
    expect(errorCode(await api(byKey, 'POST', '/api/v1/authz/check', { user: userId, permission: 'idp.manage' }))).toBe('rbac.api_key_scope');
    expect((await api(admin, 'DELETE', `/api/v1/api-keys/${created.body.id}`)).status).toBe(204);
    expect(errorCode(await api(byKey, 'POST', '/api/v1/authz/check', { user: userId, permission: 'idp.view' }))).toBe('api_keys.invalid');
    expect(errorCode(await api({ accessToken: `tak1.${admin.tenantId}.${'A'.repeat(43)}` }, 'POST', '/api/v1/authz/check', { user: userId, permission: 'idp.view' }))).toBe('api_keys.invalid');
    const actions = await auditActions(admin.tenantId);
    expect(actions).toContain('api_key.created');
    expect(actions).toContain('api_key.revoked');
  });

  it('cross-tenant: an admin of another tenant gets 404 for our roles, assignments, groups and users, and nothing changes', async () => {
    const r = await role(['idp.view']);
    const userId = await newUser();
    const a = await assign({ roleId: r.id, userId });
    const group = await api<{ id: string }>(admin, 'POST', '/api/v1/groups', { name: `Private ${newId().slice(-6)}` });
    const attempts: [string, string, unknown?][] = [
      ['GET', `/api/v1/roles/${r.id}`],
      ['PATCH', `/api/v1/roles/${r.id}`, { name: 'Stolen' }],
      ['DELETE', `/api/v1/roles/${r.id}`],
      ['DELETE', `/api/v1/assignments/${a.id}`],
      ['POST', '/api/v1/assignments', { roleId: r.id, userId: other.userId }],
      ['POST', '/api/v1/assignments', { roleId: (await api<{ items: Role[] }>(other, 'GET', '/api/v1/roles')).body.items[0]!.id, userId }],
      ['GET', `/api/v1/groups/${group.body.id}`],
      ['DELETE', `/api/v1/groups/${group.body.id}`],
      ['PUT', `/api/v1/groups/${group.body.id}/members/${other.userId}`],
      ['GET', `/api/v1/users/${userId}/access`],
      ['GET', `/api/v1/access/explain?user=${userId}&permission=idp.view`],
    ];
    for (const [method, path, body] of attempts) expect((await api(other, method, path, body)).status, `${method} ${path}`).toBe(404);
    expect((await api<Role>(admin, 'GET', `/api/v1/roles/${r.id}`)).body.name).toBe(r.name);
    expect((await api<{ items: Assignment[] }>(admin, 'GET', `/api/v1/assignments?userId=${userId}`)).body.items.map((x) => x.id)).toEqual([a.id]);
    expect((await api(admin, 'GET', `/api/v1/groups/${group.body.id}`)).status).toBe(200);
  });

  it('describes its routes in the OpenAPI document', async () => {
    const doc = (await api<{ paths: Record<string, unknown> }>(null, 'GET', '/api/openapi.json')).body;
    for (const path of ['/api/v1/permissions', '/api/v1/roles/{id}', '/api/v1/groups/{id}/members/{userId}', '/api/v1/assignments', '/api/v1/me/access', '/api/v1/access/explain', '/api/v1/authz/check', '/api/v1/api-keys']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });
});
