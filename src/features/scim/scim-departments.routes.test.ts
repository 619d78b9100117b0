import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode, requestJson } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin } from '../../../test/support/login.js';
import { newId } from '../../kernel/ids.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

type Dir = { id: string; token: string };

describe.each(engines())('SCIM department → role mappings over HTTP [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  function scim<T = { id: string }>(dir: Dir, method: string, path: string, body?: unknown) {
    return requestJson<T>(t.url, method, `/scim/v2/${dir.id}${path}`, {
      token: dir.token,
      headers: body === undefined ? {} : { 'content-type': 'application/scim+json' },
      ...(body === undefined ? {} : { body }),
    });
  }
  const patchUser = (dir: Dir, id: string, operations: unknown[]) => scim(dir, 'PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: operations });

  async function directory(name: string): Promise<Dir> {
    const d = await api<{ id: string }>(admin, 'POST', '/api/v1/scim/directories', { name: `${name} ${newId().slice(-6)}` });
    expect(d.status, JSON.stringify(d.body)).toBe(201);
    const tok = await api<{ token: string }>(admin, 'POST', `/api/v1/scim/directories/${d.body.id}/tokens`);
    return { id: d.body.id, token: tok.body.token };
  }

  async function user(dir: Dir, department?: string): Promise<string> {
    const userName = `d-${newId().slice(-10)}@acme.test`;
    const res = await scim(dir, 'POST', '/Users', {
      schemas: [CORE_USER, ...(department === undefined ? [] : [ENTERPRISE])],
      userName,
      emails: [{ value: userName, primary: true }],
      ...(department === undefined ? {} : { [ENTERPRISE]: { department } }),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id;
  }

  async function role(name: string, permissions: string[]): Promise<string> {
    const r = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `${name} ${newId().slice(-6)}`, permissions });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.id;
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
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a department mapping gives its role to the users of that department (trimmed, case-insensitive), now and later', async () => {
    const finance = await role('Finance', ['audit.view']);
    const dir = await directory('Dept');
    const before = await user(dir, 'Finance');
    const other = await user(dir, 'Sales');
    const none = await user(dir);
    const path = `/api/v1/scim/directories/${dir.id}/role-mappings`;
    const put = await api(admin, 'PUT', path, { mappings: [{ department: '  FINANCE ', roleId: finance }] });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect((await api(admin, 'GET', path)).body).toEqual({ mappings: [{ department: 'FINANCE', roleId: finance }], defaultRoleId: null });
    expect(await holds(before, 'audit.view')).toBe(true);
    expect(await holds(other, 'audit.view')).toBe(false);
    expect(await holds(none, 'audit.view')).toBe(false);
    // A user provisioned after the mapping, with the department spelt otherwise.
    expect(await holds(await user(dir, ' finance'), 'audit.view')).toBe(true);
    // The department's group is the directory's, not one of the IdP's Groups.
    const groups = await scim<{ totalResults: number }>(dir, 'GET', '/Groups');
    expect(groups.body.totalResults).toBe(0);
    // Removing the mapping removes the role.
    expect((await api(admin, 'PUT', path, { mappings: [] })).status).toBe(200);
    expect(await holds(before, 'audit.view')).toBe(false);
  });

  it('a department move through PATCH (with a path, and Entra ID path-less URN key) and PUT moves the role on the next request', async () => {
    const finance = await role('Finance', ['audit.view']);
    const sales = await role('Sales', ['idp.view']);
    const dir = await directory('Moves');
    const u = await user(dir, 'Finance');
    const path = `/api/v1/scim/directories/${dir.id}/role-mappings`;
    expect((await api(admin, 'PUT', path, { mappings: [{ department: 'Finance', roleId: finance }, { department: 'sales', roleId: sales }] })).status).toBe(200);
    expect(await holds(u, 'audit.view')).toBe(true);
    expect(await holds(u, 'idp.view')).toBe(false);

    // Okta: PATCH replace with the URN-prefixed path.
    expect((await patchUser(dir, u, [{ op: 'replace', path: `${ENTERPRISE}:department`, value: 'Sales' }])).status).toBe(200);
    expect(await holds(u, 'audit.view')).toBe(false);
    expect(await holds(u, 'idp.view')).toBe(true);

    // Entra ID: path-less Replace with the URN-prefixed key.
    const entra = await patchUser(dir, u, [{ op: 'Replace', value: { [`${ENTERPRISE}:department`]: 'Finance' } }]);
    expect(entra.status, JSON.stringify(entra.body)).toBe(200);
    expect(await holds(u, 'audit.view')).toBe(true);
    expect(await holds(u, 'idp.view')).toBe(false);

    // Removing the department takes the role away.
    expect((await patchUser(dir, u, [{ op: 'remove', path: `${ENTERPRISE}:department` }])).status).toBe(200);
    expect(await holds(u, 'audit.view')).toBe(false);

    // PUT replacing the document with a department.
    const current = await scim<Record<string, unknown>>(dir, 'GET', `/Users/${u}`);
    const { id: _id, meta: _meta, ...doc } = current.body;
    const put = await scim(dir, 'PUT', `/Users/${u}`, { ...doc, schemas: [CORE_USER, ENTERPRISE], [ENTERPRISE]: { department: 'SALES' } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(await holds(u, 'idp.view')).toBe(true);
    expect(await holds(u, 'audit.view')).toBe(false);

    // DELETE of the user: it leaves the department's group (and is deactivated).
    expect((await scim(dir, 'DELETE', `/Users/${u}`)).status).toBe(204);
    expect(await holds(u, 'idp.view')).toBe(false);
  });

  it('refuses Account Administrator, a mapping naming both or neither of group and department, and a department mapped twice to a role', async () => {
    const dir = await directory('Guarded');
    const path = `/api/v1/scim/directories/${dir.id}/role-mappings`;
    const accountAdmin = await t.app.db.ownerWork((tx) => tx.selectFrom('roles').select('id').where('account_id', '=', admin.accountId).where('system_key', '=', 'account_admin').executeTakeFirstOrThrow());
    const u = await user(dir, 'Owners');
    const refused = await api(admin, 'PUT', path, { mappings: [{ department: 'Owners', roleId: accountAdmin.id }] });
    expect(errorCode(refused)).toBe('scim.role_forbidden');
    expect(await holds(u, 'account.manage')).toBe(false);
    const r = await role('Any', ['idp.view']);
    expect((await api(admin, 'PUT', path, { mappings: [{ group: 'g', department: 'Owners', roleId: r }] })).status).toBe(400);
    expect((await api(admin, 'PUT', path, { mappings: [{ roleId: r }] })).status).toBe(400);
    expect(errorCode(await api(admin, 'PUT', path, { mappings: [{ department: 'Owners', roleId: r }, { department: ' owners', roleId: r }] }))).toBe('scim.invalid_mapping');
    // A group and a department of the same name are different mappings.
    expect((await api(admin, 'PUT', path, { mappings: [{ group: 'Owners', roleId: r }, { department: 'Owners', roleId: r }] })).status).toBe(200);
    expect(await holds(u, 'idp.view')).toBe(true);
    // Deleting the directory removes the department group and its role.
    expect((await api(admin, 'DELETE', `/api/v1/scim/directories/${dir.id}`)).status).toBe(204);
    expect(await holds(u, 'idp.view')).toBe(false);
    const leftover = await t.app.db.ownerWork((tx) => tx.selectFrom('groups').select('id').where('tenant_id', '=', admin.tenantId).where('name', 'like', `SCIM ${dir.id}%`).execute());
    expect(leftover).toEqual([]);
  });
});
