import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode, requestJson } from '../../../test/support/http.js';
import { createPlainUser, type LoggedIn, loginAsAdmin, loginOverHttp } from '../../../test/support/login.js';
import { newId } from '../../kernel/ids.js';
import { membersWanted } from './groups.service.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

interface ScimGroup {
  id: string;
  displayName: string;
  externalId?: string;
  members?: { value: string; $ref?: string; type?: string }[];
  meta: { resourceType: string; location: string; version: string };
  [key: string]: unknown;
}
interface ListResponse<T> {
  totalResults: number;
  itemsPerPage: number;
  Resources: T[];
}

describe.each(engines())('SCIM 2.0 /Groups and group → role mappings over HTTP [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let dirA: { id: string; token: string };
  let dirB: { id: string; token: string };
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  function scim<T = ScimGroup>(dir: { id: string; token: string }, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    return requestJson<T>(t.url, method, `/scim/v2/${dir.id}${path}`, {
      token: dir.token,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }), ...headers },
      ...(body === undefined ? {} : { body }),
    });
  }
  const patch = (dir: { id: string; token: string }, id: string, operations: unknown[], headers: Record<string, string> = {}) =>
    scim(dir, 'PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: operations }, headers);

  async function directory(who: LoggedIn, name: string) {
    const d = await api<{ id: string }>(who, 'POST', '/api/v1/scim/directories', { name });
    expect(d.status, JSON.stringify(d.body)).toBe(201);
    const tok = await api<{ token: string }>(who, 'POST', `/api/v1/scim/directories/${d.body.id}/tokens`);
    return { id: d.body.id, token: tok.body.token };
  }

  async function user(dir: { id: string; token: string }, label = 'u'): Promise<string> {
    const userName = `${label}-${newId().slice(-10)}@acme.test`;
    const res = await scim<{ id: string }>(dir, 'POST', '/Users', { schemas: [CORE_USER], userName, emails: [{ value: userName, primary: true }], active: true });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id;
  }

  async function group(dir: { id: string; token: string }, displayName: string, members: string[] = []): Promise<ScimGroup> {
    const res = await scim(dir, 'POST', '/Groups', { schemas: [CORE_GROUP], displayName, externalId: `ext-${displayName}`, members: members.map((value) => ({ value, display: 'ignored' })) });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  const memberIds = async (id: string) => ((await scim(dirA, 'GET', `/Groups/${id}`)).body.members ?? []).map((m) => m.value).sort();
  const sorted = (...ids: string[]) => [...ids].sort();
  const memberIds2 = async (dir: { id: string; token: string }, id: string) => ((await scim(dir, 'GET', `/Groups/${id}`)).body.members ?? []).map((m) => m.value).sort();

  async function auditOf(targetId: string) {
    return t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'actor_type', 'details']).where('tenant_id', '=', admin.tenantId).where('target_id', '=', targetId).orderBy('seq').execute());
  }

  /** Whether the user holds the permission now (access control's own answer, read fresh per request). */
  async function holds(userId: string, permission: string): Promise<boolean> {
    const res = await api<{ results: { allowed: boolean }[] }>(admin, 'POST', '/api/v1/authz/check', { user: userId, permission });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.results[0]!.allowed;
  }

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    dirA = await directory(admin, 'Okta');
    dirB = await directory(admin, 'Entra ID');
  });
  afterAll(async () => {
    await t?.close();
  });

  it("a User's groups (RFC 7643 §4.1.2): read-only, the directory's groups it is a member of, filterable; not the everyone group", async () => {
    type Groups = { groups?: { value: string; display: string; $ref: string; type: string }[] };
    const dir = await directory(admin, `Groups attr ${newId().slice(-6)}`);
    const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `Everyone ${newId().slice(-6)}`, permissions: ['idp.view'] });
    // A default role: the user is also in the directory's everyone group, which is not one of the IdP's groups.
    expect((await api(admin, 'PUT', `/api/v1/scim/directories/${dir.id}/role-mappings`, { mappings: [], defaultRoleId: role.body.id })).status).toBe(200);
    const u = await user(dir);
    const other = await user(dir);
    const none = await scim<Groups>(dir, 'GET', `/Users/${u}`);
    expect(none.body.groups).toBeUndefined();
    const g1 = await group(dir, `Zeta ${dir.id.slice(-6)}`, [u]);
    const g2 = await group(dir, `Alpha ${dir.id.slice(-6)}`, [u, other]);
    const got = await scim<Groups>(dir, 'GET', `/Users/${u}`);
    expect(got.body.groups).toEqual([
      { value: g2.id, display: g2.displayName, $ref: g2.meta.location, type: 'direct' },
      { value: g1.id, display: g1.displayName, $ref: g1.meta.location, type: 'direct' },
    ]);
    // Follows renames and membership changes of the Group resource.
    expect((await patch(dir, g1.id, [{ op: 'replace', value: { displayName: `Eta ${dir.id.slice(-6)}` } }])).status).toBe(200);
    expect((await patch(dir, g2.id, [{ op: 'remove', path: `members[value eq "${u}"]` }])).status).toBe(200);
    const after = await scim<Groups>(dir, 'GET', `/Users/${u}`);
    expect(after.body.groups?.map((g) => [g.value, g.display])).toEqual([[g1.id, `Eta ${dir.id.slice(-6)}`]]);
    // Filterable (in SQL), and listed on every resource of a list.
    const byGroup = await scim<ListResponse<{ id: string } & Groups>>(dir, 'GET', `/Users?filter=${encodeURIComponent(`groups[value eq "${g2.id}"]`)}`);
    expect(byGroup.body.Resources.map((r) => r.id)).toEqual([other]);
    expect(byGroup.body.Resources[0]!.groups?.map((g) => g.value)).toEqual([g2.id]);
    const byName = await scim<ListResponse<{ id: string }>>(dir, 'GET', `/Users?filter=${encodeURIComponent(`groups.display eq "eta ${dir.id.slice(-6)}"`)}`);
    expect(byName.body.Resources.map((r) => r.id)).toEqual([u]);
    // Read-only: a PATCH of it is `mutability`; a PUT or POST carrying it ignores it.
    const refused = await scim<{ scimType?: string }>(dir, 'PATCH', `/Users/${u}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'groups', value: [{ value: g2.id }] }] });
    expect(refused.status).toBe(400);
    expect(refused.body.scimType).toBe('mutability');
    const userName = `posted-${newId().slice(-8)}@acme.test`;
    const posted = await scim<{ id: string } & Groups>(dir, 'POST', '/Users', { schemas: [CORE_USER], userName, emails: [{ value: userName, primary: true }], groups: [{ value: g1.id }] });
    expect(posted.status).toBe(201);
    expect(posted.body.groups).toBeUndefined();
    expect(await memberIds2(dir, g1.id)).toEqual([u]);
  });

  it('replays Okta group push: create with members, get, filter by displayName, PUT replacing the whole membership, rename, delete; audited', async () => {
    const [u1, u2, u3] = [await user(dirA), await user(dirA), await user(dirA)];
    const created = await scim(dirA, 'POST', '/Groups', { schemas: [CORE_GROUP], displayName: 'Okta Engineers', members: [{ value: u1, display: 'one' }, { value: u2 }] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(created.headers.get('location')).toBe(created.body.meta.location);
    expect(created.headers.get('etag')).toBe(created.body.meta.version);
    expect(created.body).toMatchObject({ schemas: [CORE_GROUP], displayName: 'Okta Engineers', meta: { resourceType: 'Group' } });
    const id = created.body.id;
    expect(created.body.members?.map((m) => m.value).sort()).toEqual(sorted(u1, u2));
    expect(created.body.members?.[0]).toMatchObject({ type: 'User', $ref: expect.stringContaining(`/Users/`) as unknown });

    // It is an identity group of the tenant, with the same members.
    const identityGroup = await api<{ name: string; memberCount: number }>(admin, 'GET', `/api/v1/groups/${id}`);
    expect(identityGroup.body).toMatchObject({ name: 'Okta Engineers', memberCount: 2 });

    const found = await scim<ListResponse<ScimGroup>>(dirA, 'GET', `/Groups?filter=${encodeURIComponent('displayName eq "okta engineers"')}`);
    expect(found.body.totalResults).toBe(1);
    expect(found.body.Resources[0]!.id).toBe(id);

    // Okta pushes a group's membership with PUT: the whole list.
    const put = await scim(dirA, 'PUT', `/Groups/${id}`, { schemas: [CORE_GROUP], id, displayName: 'Okta Engineers', members: [{ value: u2 }, { value: u3 }] });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(await memberIds(id)).toEqual(sorted(u2, u3));

    const renamed = await patch(dirA, id, [{ op: 'replace', value: { id, displayName: 'Okta Platform' } }]);
    expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
    expect(renamed.body.displayName).toBe('Okta Platform');
    expect((await api<{ name: string }>(admin, 'GET', `/api/v1/groups/${id}`)).body.name).toBe('Okta Platform');

    expect((await scim(dirA, 'DELETE', `/Groups/${id}`)).status).toBe(204);
    expect((await scim(dirA, 'GET', `/Groups/${id}`)).status).toBe(404);
    expect((await api(admin, 'GET', `/api/v1/groups/${id}`)).status).toBe(404);

    const events = await auditOf(id);
    expect(events.map((e) => e.action)).toEqual(['scim.group.created', 'scim.group.updated', 'scim.group.updated', 'scim.group.deleted']);
    expect(events.every((e) => e.actor_type === 'scim_directory')).toBe(true);
    expect(events[0]!.details).toMatchObject({ membersAdded: 2, membersRemoved: 0 });
    expect(events[1]!.details).toMatchObject({ method: 'put', membersAdded: 1, membersRemoved: 1, addedIds: [u3], removedIds: [u1] });
    expect(events[2]!.details).toMatchObject({ method: 'patch', attributes: ['displayName'], membersAdded: 0 });
  });

  it("replays Entra ID's shapes: Add members in a batch, Remove with a value array, members[value eq] removal, Replace displayName, the membership probe", async () => {
    const [u1, u2, u3, u4] = [await user(dirA), await user(dirA), await user(dirA), await user(dirA)];
    const g = await group(dirA, `Entra ${newId().slice(-6)}`);
    expect(g.members).toEqual([]);
    const add = await patch(dirA, g.id, [{ op: 'Add', path: 'members', value: [{ value: u1 }, { value: u2 }, { value: u3 }, { value: u4 }] }]);
    expect(add.status, JSON.stringify(add.body)).toBe(200);
    expect(await memberIds(g.id)).toEqual(sorted(u1, u2, u3, u4));

    // Entra ID's membership probe: a filter on id and members, without loading the members.
    const probe = (u: string) => scim<ListResponse<ScimGroup>>(dirA, 'GET', `/Groups?filter=${encodeURIComponent(`id eq "${g.id}" and members[value eq "${u}"]`)}&excludedAttributes=members`);
    const hit = await probe(u1);
    expect(hit.body.totalResults).toBe(1);
    expect(hit.body.Resources[0]).not.toHaveProperty('members');
    expect((await scim<ListResponse<ScimGroup>>(dirA, 'GET', `/Groups?filter=${encodeURIComponent(`members.value eq "${u2}"`)}`)).body.Resources.map((r) => r.id)).toEqual([g.id]);

    const removed = await patch(dirA, g.id, [{ op: 'Remove', path: 'members', value: [{ value: u1 }, { value: u2 }] }]);
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(await memberIds(g.id)).toEqual(sorted(u3, u4));
    expect((await probe(u1)).body.totalResults).toBe(0);

    expect((await patch(dirA, g.id, [{ op: 'remove', path: `members[value eq "${u3}"]` }])).status).toBe(200);
    expect(await memberIds(g.id)).toEqual([u4]);

    const replaced = await patch(dirA, g.id, [{ op: 'Replace', path: 'displayName', value: `${g.displayName} renamed` }]);
    expect(replaced.body.displayName).toBe(`${g.displayName} renamed`);
    // One event per request, with the counts.
    const events = (await auditOf(g.id)).filter((e) => e.action === 'scim.group.updated');
    expect(events.map((e) => [(e.details as { membersAdded: number }).membersAdded, (e.details as { membersRemoved: number }).membersRemoved])).toEqual([[4, 0], [0, 2], [0, 1], [0, 0]]);
  });

  it('excludedAttributes=members and attributes leave members out; the projection rule decides whether they are read', async () => {
    const u = await user(dirA);
    const g = await group(dirA, `Large ${newId().slice(-6)}`, [u]);
    const list = await scim<ListResponse<ScimGroup>>(dirA, 'GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq "${g.displayName}"`)}`);
    expect(list.body.Resources[0]).toMatchObject({ id: g.id, displayName: g.displayName });
    expect(list.body.Resources[0]).not.toHaveProperty('members');
    expect((await scim(dirA, 'GET', `/Groups/${g.id}?attributes=displayName`)).body).not.toHaveProperty('members');
    expect(membersWanted({ excludedAttributes: 'members' })).toBe(false);
    expect(membersWanted({ excludedAttributes: `${CORE_GROUP}:members` })).toBe(false);
    expect(membersWanted({ attributes: 'displayName' })).toBe(false);
    expect(membersWanted({ attributes: 'members.value' })).toBe(true);
    expect(membersWanted({})).toBe(true);
  });

  it('members must be users of this directory; displayName is unique; If-Match; tenant and directory isolation', async () => {
    const mine = await user(dirA);
    const theirs = await user(dirB, 'b');
    const bad = await scim(dirA, 'POST', '/Groups', { schemas: [CORE_GROUP], displayName: `Bad ${newId().slice(-6)}`, members: [{ value: theirs }] });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ scimType: 'invalidValue' });
    expect((await scim(dirA, 'POST', '/Groups', { schemas: [CORE_GROUP], displayName: 'Nested', members: [{ value: mine, type: 'Group' }] })).status).toBe(400);

    const g = await group(dirA, `Unique ${newId().slice(-6)}`, [mine]);
    const dup = await scim(dirA, 'POST', '/Groups', { schemas: [CORE_GROUP], displayName: g.displayName.toUpperCase() });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ scimType: 'uniqueness' });
    // A hand-made identity group's name is taken too (SCIM never takes over a group an administrator made).
    expect((await api(admin, 'POST', '/api/v1/groups', { name: 'Hand made' })).status).toBe(201);
    expect((await scim(dirA, 'POST', '/Groups', { schemas: [CORE_GROUP], displayName: 'Hand made' })).body).toMatchObject({ status: '409', scimType: 'uniqueness' });

    expect((await patch(dirA, g.id, [{ op: 'add', path: 'members', value: [{ value: theirs }] }], { 'if-match': g.meta.version })).status).toBe(400);
    expect((await patch(dirA, g.id, [{ op: 'replace', path: 'displayName', value: 'x' }], { 'if-match': 'W/"999"' })).status).toBe(412);

    // Directory B's token sees and changes nothing of A's groups.
    expect((await scim(dirB, 'GET', `/Groups/${g.id}`)).status).toBe(404);
    expect((await scim<ListResponse<ScimGroup>>(dirB, 'GET', '/Groups')).body.Resources.map((r) => r.id)).not.toContain(g.id);
    expect((await patch(dirB, g.id, [{ op: 'add', path: 'members', value: [{ value: theirs }] }])).status).toBe(404);
    expect((await scim(dirB, 'DELETE', `/Groups/${g.id}`)).status).toBe(404);
    expect(await memberIds(g.id)).toEqual([mine]);

    // A user leaving the directory leaves its groups.
    expect((await scim(dirA, 'DELETE', `/Users/${mine}`)).status).toBe(204);
    expect(await memberIds(g.id)).toEqual([]);
  });

  it('maps groups to roles through the grant rule; membership moves access on the next request; the default role reaches every user', async () => {
    const role = async (name: string, permissions: string[]) => {
      const r = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `${name} ${newId().slice(-6)}`, permissions });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body.id;
    };
    const admins = await role('SCIM admins', ['idp.manage', 'idp.view']);
    const auditors = await role('SCIM auditors', ['audit.view']);
    const member = await role('SCIM member', ['idp.view']);
    const dir = await directory(admin, `Mapped ${newId().slice(-6)}`);
    const [alice, bob, carol] = [await user(dir, 'alice'), await user(dir, 'bob'), await user(dir, 'carol')];
    const adminsGroup = await group(dir, `claresia-admins-${dir.id.slice(-4)}`, [alice]);

    const path = `/api/v1/scim/directories/${dir.id}/role-mappings`;
    const auditorsName = `claresia-auditors-${dir.id.slice(-4)}`;
    const put = await api(admin, 'PUT', path, { mappings: [{ group: adminsGroup.displayName.toUpperCase(), roleId: admins }, { group: auditorsName, roleId: auditors }], defaultRoleId: member });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect((await api(admin, 'GET', path)).body).toEqual({ mappings: [{ group: adminsGroup.displayName.toUpperCase(), roleId: admins }, { group: auditorsName, roleId: auditors }], defaultRoleId: member });

    expect(await holds(alice, 'idp.manage')).toBe(true);
    expect(await holds(bob, 'idp.manage')).toBe(false);
    expect(await holds(bob, 'idp.view')).toBe(true); // everyone else → member
    expect(await holds(carol, 'audit.view')).toBe(false);

    // A group the IdP pushes after the mapping was set carries its role from the start.
    const auditorsGroup = await group(dir, auditorsName, [carol]);
    expect(await holds(carol, 'audit.view')).toBe(true);
    // Membership moves access: bob joins the admins, alice leaves.
    await patch(dir, adminsGroup.id, [{ op: 'add', path: 'members', value: [{ value: bob }] }, { op: 'remove', path: `members[value eq "${alice}"]` }]);
    expect(await holds(bob, 'idp.manage')).toBe(true);
    expect(await holds(alice, 'idp.manage')).toBe(false);
    expect(await holds(alice, 'idp.view')).toBe(true);
    // A user provisioned later holds the default role.
    expect(await holds(await user(dir, 'dave'), 'idp.view')).toBe(true);
    // Renaming a group away from its mapping takes the role away; deleting the group too.
    await patch(dir, auditorsGroup.id, [{ op: 'replace', path: 'displayName', value: 'no longer mapped' }]);
    expect(await holds(carol, 'audit.view')).toBe(false);
    await patch(dir, auditorsGroup.id, [{ op: 'replace', path: 'displayName', value: auditorsName }]);
    expect(await holds(carol, 'audit.view')).toBe(true);
    expect((await scim(dir, 'DELETE', `/Groups/${auditorsGroup.id}`)).status).toBe(204);
    expect(await holds(carol, 'audit.view')).toBe(false);

    // Removing the mappings removes the roles they gave.
    expect((await api(admin, 'PUT', path, { mappings: [] })).status).toBe(200);
    expect(await holds(bob, 'idp.manage')).toBe(false);
    expect(await holds(bob, 'idp.view')).toBe(false);

    const events = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['action', 'actor_id']).where('tenant_id', '=', admin.tenantId).where('target_id', '=', dir.id).where('action', '=', 'scim.role_mappings.updated').execute());
    expect(events).toEqual([{ action: 'scim.role_mappings.updated', actor_id: admin.userId }, { action: 'scim.role_mappings.updated', actor_id: admin.userId }]);
  });

  it('checks the grant rule again when a mapped group appears later: beyond the configuring administrator now, skipped and audited', async () => {
    const dir = await directory(admin, `Late ${newId().slice(-6)}`);
    const strong = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `Late strong ${newId().slice(-6)}`, permissions: ['idp.manage'] });
    const scimOnly = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `Late SCIM ${newId().slice(-6)}`, permissions: ['scim.manage'] });
    // A tenant administrator holding both roles sets the mappings (the grant rule passes then)...
    const email = `late-${newId().slice(-8)}@acme.test`;
    const granterId = await createPlainUser(t, admin, { email, password: 'late admin password 42' });
    await t.app.db.tenantWork(admin.tenantId, (tx) => tx.updateTable('users').set({ is_tenant_admin: true }).where('tenant_id', '=', admin.tenantId).where('id', '=', granterId).execute());
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: scimOnly.body.id, userId: granterId })).status).toBe(201);
    const strongAssignment = await api<{ id: string }>(admin, 'POST', '/api/v1/assignments', { roleId: strong.body.id, userId: granterId });
    expect(strongAssignment.status).toBe(201);
    const granter = await loginOverHttp(t, { email, password: 'late admin password 42', tenantId: admin.tenantId });
    const suffix = dir.id.slice(-6);
    const put = await api(granter, 'PUT', `/api/v1/scim/directories/${dir.id}/role-mappings`, { mappings: [{ group: `late-strong-${suffix}`, roleId: strong.body.id }, { group: `late-scim-${suffix}`, roleId: scimOnly.body.id }] });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    // ... then loses idp.manage before the IdP pushes the groups.
    expect((await api(admin, 'DELETE', `/api/v1/assignments/${strongAssignment.body.id}`)).status).toBe(204);
    const u = await user(dir);
    const gStrong = await group(dir, `late-strong-${suffix}`, [u]);
    const gScim = await group(dir, `late-scim-${suffix}`, [u]);
    expect(await holds(u, 'idp.manage')).toBe(false);
    expect(await holds(u, 'scim.manage')).toBe(true);
    const refusals = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select(['actor_type', 'actor_id', 'target_id', 'details']).where('tenant_id', '=', admin.tenantId).where('action', '=', 'access.grant.refused').where('target_id', '=', gStrong.id).execute());
    // Refused at each application while beyond the granter: at its own creation and at the next group's.
    expect(refusals).toHaveLength(2);
    expect(refusals[0]).toMatchObject({ actor_type: 'system', actor_id: `scim:${dir.id}`, details: { change: 'scim.role_mappings.apply', roleId: strong.body.id, missing: ['idp.manage'], granterId } });
    expect((await auditOf(gScim.id)).map((a) => a.action)).not.toContain('access.grant.refused');
    // Given back, the next apply (a rename of the group) grants it.
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: strong.body.id, userId: granterId })).status).toBe(201);
    expect((await patch(dir, gStrong.id, [{ op: 'replace', value: { displayName: `LATE-strong-${suffix}` } }])).status).toBe(200);
    expect(await holds(u, 'idp.manage')).toBe(true);
  });

  it('refuses Account Administrator, unknown roles, and roles beyond the configuring administrator (audited); needs a tenant administrator', async () => {
    const dir = await directory(admin, `Guarded ${newId().slice(-6)}`);
    const path = `/api/v1/scim/directories/${dir.id}/role-mappings`;
    const accountAdmin = await t.app.db.ownerWork((tx) => tx.selectFrom('roles').select('id').where('account_id', '=', admin.accountId).where('system_key', '=', 'account_admin').executeTakeFirstOrThrow());
    expect(errorCode(await api(admin, 'PUT', path, { mappings: [{ group: 'owners', roleId: accountAdmin.id }] }))).toBe('scim.role_forbidden');
    expect(errorCode(await api(admin, 'PUT', path, { mappings: [], defaultRoleId: accountAdmin.id }))).toBe('scim.role_forbidden');
    expect(errorCode(await api(admin, 'PUT', path, { mappings: [{ group: 'x', roleId: newId() }] }))).toBe('scim.role_not_found');

    const strong = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `Strong ${newId().slice(-6)}`, permissions: ['idp.manage'] });
    const scimOnly = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `SCIM only ${newId().slice(-6)}`, permissions: ['scim.manage'] });
    // A tenant administrator who holds scim.manage but not idp.manage.
    const email = `limited-${newId().slice(-8)}@acme.test`;
    const limitedId = await createPlainUser(t, admin, { email, password: 'limited admin password 42' });
    await t.app.db.tenantWork(admin.tenantId, (tx) => tx.updateTable('users').set({ is_tenant_admin: true }).where('tenant_id', '=', admin.tenantId).where('id', '=', limitedId).execute());
    expect((await api(admin, 'POST', '/api/v1/assignments', { roleId: scimOnly.body.id, userId: limitedId })).status).toBe(201);
    const limited = await loginOverHttp(t, { email, password: 'limited admin password 42', tenantId: admin.tenantId });
    const refused = await api(limited, 'PUT', path, { mappings: [{ group: 'g', roleId: strong.body.id }] });
    expect(refused.status).toBe(403);
    expect(errorCode(refused)).toBe('rbac.grant_exceeds_own_access');
    expect((await api(limited, 'PUT', path, { mappings: [{ group: 'g', roleId: scimOnly.body.id }] })).status).toBe(200);
    const refusals = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_events').select('details').where('tenant_id', '=', admin.tenantId).where('action', '=', 'access.grant.refused').where('actor_id', '=', limitedId).execute());
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.details).toMatchObject({ change: 'scim.role_mappings', missing: ['idp.manage'] });

    // Not a tenant administrator (scim.manage alone does not configure a directory).
    await t.app.db.tenantWork(admin.tenantId, (tx) => tx.updateTable('users').set({ is_tenant_admin: false }).where('tenant_id', '=', admin.tenantId).where('id', '=', limitedId).execute());
    expect(errorCode(await api(limited, 'PUT', path, { mappings: [] }))).toBe('identity.tenant_admin_required');
  });

  it('adds 1,000 members in one PATCH, and removes them in one', async () => {
    const dir = await directory(admin, `Bulk ${newId().slice(-6)}`);
    const caller = await t.app.services.scimDirectories.authenticate(dir.id, dir.token);
    const info = { ip: '127.0.0.1', userAgent: null };
    const ids: string[] = [];
    // Setup through the service (1,000 HTTP round trips add nothing to what this test proves).
    for (let i = 0; i < 1000; i++) {
      const userName = `bulk-${i}-${dir.id.slice(-6)}@acme.test`;
      ids.push((await t.app.services.scimUsers.create(caller, info, { userName, emails: [{ value: userName, primary: true }] })).resource.id as string);
    }
    const g = await group(dir, `Bulk group ${dir.id.slice(-6)}`);
    const add = await patch(dir, g.id, [{ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }]);
    expect(add.status, JSON.stringify(add.body).slice(0, 500)).toBe(200);
    expect(add.body.members).toHaveLength(1000);
    const listed = await scim<ListResponse<ScimGroup>>(dir, 'GET', `/Groups?excludedAttributes=members`);
    expect(listed.body.Resources).toEqual([expect.not.objectContaining({ members: expect.anything() as unknown })]);
    const events = (await auditOf(g.id)).filter((e) => e.action === 'scim.group.updated');
    expect(events[0]!.details).toMatchObject({ membersAdded: 1000, idsTruncated: true });
    expect((events[0]!.details as { addedIds: string[] }).addedIds).toHaveLength(50);
    const removed = await patch(dir, g.id, [{ op: 'remove', path: 'members', value: ids.map((value) => ({ value })) }]);
    expect(removed.status).toBe(200);
    expect(removed.body.members).toEqual([]);
  }, 120_000);

  it.runIf(engine === 'postgres')('two PATCHes on one group at the same time lose no member (PostgreSQL, real parallel requests)', async () => {
    const dir = await directory(admin, `Race ${newId().slice(-6)}`);
    const users: string[] = [];
    for (let i = 0; i < 20; i++) users.push(await user(dir, `race${i}`));
    for (let round = 0; round < 5; round++) {
      const g = await group(dir, `Race ${round} ${dir.id.slice(-6)}`);
      const left = users.slice(0, 10);
      const right = users.slice(10);
      const results = await Promise.all([
        ...left.map((u) => patch(dir, g.id, [{ op: 'add', path: 'members', value: [{ value: u }] }])),
        ...right.map((u) => patch(dir, g.id, [{ op: 'Add', path: 'members', value: [{ value: u }] }])),
      ]);
      expect(results.map((r) => r.status)).toEqual(users.map(() => 200));
      expect((await scim(dir, 'GET', `/Groups/${g.id}`)).body.members?.map((m) => m.value).sort()).toEqual([...users].sort());
    }
  }, 120_000);

  it('lists with a ListResponse and paginates', async () => {
    const res = await scim<ListResponse<ScimGroup> & { schemas: string[] }>(dirA, 'GET', '/Groups?startIndex=1&count=1&sortBy=displayName');
    expect(res.status).toBe(200);
    expect(res.body.schemas).toEqual([LIST]);
    expect(res.body.itemsPerPage).toBe(1);
    expect(res.body.totalResults).toBeGreaterThan(1);
    expect((await scim(dirA, 'GET', `/Groups?filter=${encodeURIComponent('members[display eq "x"]')}`)).status).toBe(400);
  });
});
