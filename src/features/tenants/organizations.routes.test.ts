import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi, errorCode } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin, loginAsPlainUser, loginOverHttp } from '../../../test/support/login.js';
import { newId } from '../../kernel/ids.js';
import * as store from './organizations.store.js';

const PASSWORD = 'quartz meadow signal 42';

interface Organization { id: string; name: string; createdAt: string; updatedAt: string }
interface OrganizationList { items: Organization[]; total: number; limit: number; offset: number }
interface Access { accounts: { accountId: string; organizations: { id: string; name: string }[]; permissions: { key: string; sources: { organizationId: string | null }[] }[] }[] }

describe.each(engines())('organizations over HTTP [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  let other: LoggedIn;
  const api = <T = unknown>(who: { accessToken: string } | null, method: string, path: string, body?: unknown) => callApi<T>(t, who, method, path, body);

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t, { tenantName: 'Acme' });
    other = await loginAsAdmin(t, { tenantName: 'Globex' });
  });
  afterAll(() => t.close());

  async function create(name: string, who: LoggedIn = admin): Promise<Organization> {
    const res = await api<Organization>(who, 'POST', '/api/v1/organizations', { name });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  /** A user of the admin's tenant holding one direct role (`extra` may scope it to an organization), logged in. */
  async function userWith(permissions: string[], extra: Record<string, unknown> = {}): Promise<LoggedIn & { roleId: string }> {
    const email = `o-${newId().slice(-10)}@example.com`;
    const user = await api<{ id: string }>(admin, 'POST', '/api/v1/users', { email, password: PASSWORD });
    expect(user.status, JSON.stringify(user.body)).toBe(201);
    const role = await api<{ id: string }>(admin, 'POST', '/api/v1/roles', { name: `Role ${newId().slice(-10)}`, permissions, ...extra });
    expect(role.status, JSON.stringify(role.body)).toBe(201);
    const assignment = await api(admin, 'POST', '/api/v1/assignments', { roleId: role.body.id, userId: user.body.id });
    expect(assignment.status, JSON.stringify(assignment.body)).toBe(201);
    const session = await loginOverHttp(t, { email, password: PASSWORD, tenantId: admin.tenantId });
    return { ...session, email, password: PASSWORD, roleId: role.body.id };
  }

  async function auditOf(tenantId: string, targetId: string): Promise<string[]> {
    const rows = await t.app.db.ownerWork((tx) =>
      tx.selectFrom('audit_events').select('action').where('tenant_id', '=', tenantId).where('target_id', '=', targetId).orderBy('seq').execute(),
    );
    return rows.map((r) => r.action);
  }

  it('creates, reads, searches, pages and renames, each change audited', async () => {
    const berlin = await create('  Berlin Office ');
    expect(berlin.name).toBe('Berlin Office');
    await create('berlin lab');
    await create('Paris');

    expect((await api<Organization>(admin, 'GET', `/api/v1/organizations/${berlin.id}`)).body).toEqual(berlin);
    const found = await api<OrganizationList>(admin, 'GET', '/api/v1/organizations?q=BERLIN');
    expect(found.body.total).toBe(2);
    expect(found.body.items.map((o) => o.name)).toEqual(['Berlin Office', 'berlin lab']);
    const page = await api<OrganizationList>(admin, 'GET', '/api/v1/organizations?q=berlin&limit=1&offset=1');
    expect(page.body).toMatchObject({ total: 2, limit: 1, offset: 1 });
    expect(page.body.items.map((o) => o.name)).toEqual(['berlin lab']);
    // `%` and `_` are searched for literally.
    expect((await api<OrganizationList>(admin, 'GET', '/api/v1/organizations?q=%25')).body.total).toBe(0);
    expect((await api(admin, 'GET', '/api/v1/organizations?limit=0')).status).toBe(400);

    t.clock.advance(1000);
    const renamed = await api<Organization>(admin, 'PATCH', `/api/v1/organizations/${berlin.id}`, { name: 'Berlin HQ' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: berlin.id, name: 'Berlin HQ', createdAt: berlin.createdAt });
    expect(renamed.body.updatedAt).not.toBe(berlin.updatedAt);
    // The same name again changes nothing and records nothing; a change of case is a rename.
    expect((await api<Organization>(admin, 'PATCH', `/api/v1/organizations/${berlin.id}`, { name: 'Berlin HQ' })).status).toBe(200);
    expect((await api<Organization>(admin, 'PATCH', `/api/v1/organizations/${berlin.id}`, { name: 'BERLIN HQ' })).body.name).toBe('BERLIN HQ');

    expect((await api(admin, 'DELETE', `/api/v1/organizations/${berlin.id}`)).status).toBe(204);
    expect(errorCode(await api(admin, 'GET', `/api/v1/organizations/${berlin.id}`))).toBe('not_found');
    expect(errorCode(await api(admin, 'DELETE', `/api/v1/organizations/${berlin.id}`))).toBe('not_found');

    expect(await auditOf(admin.tenantId, berlin.id)).toEqual(['organization.created', 'organization.updated', 'organization.updated', 'organization.deleted']);
    const [updated] = await t.app.db.ownerWork((tx) =>
      tx.selectFrom('audit_events').select('details').where('tenant_id', '=', admin.tenantId).where('target_id', '=', berlin.id).where('action', '=', 'organization.updated').orderBy('seq').execute(),
    );
    expect(updated!.details).toEqual({ accountId: admin.accountId, changes: { name: { from: 'Berlin Office', to: 'Berlin HQ' } } });
  });

  it('a name is 1–200 characters (invalid_request)', async () => {
    for (const name of ['', '   ', 'x'.repeat(201)]) {
      const res = await api(admin, 'POST', '/api/v1/organizations', { name });
      expect(res.status).toBe(400);
      expect(errorCode(res)).toBe('invalid_request');
    }
    expect(errorCode(await api(admin, 'POST', '/api/v1/organizations', {}))).toBe('invalid_request');
    expect((await create('y'.repeat(200))).name).toHaveLength(200);
    const org = await create(`Short ${newId().slice(-6)}`);
    expect(errorCode(await api(admin, 'PATCH', `/api/v1/organizations/${org.id}`, { name: '' }))).toBe('invalid_request');
    expect(errorCode(await api(admin, 'GET', '/api/v1/organizations/not-a-uuid'))).toBe('invalid_request');
  });

  it('a name is unique in the account, case-insensitively (organizations.name_taken)', async () => {
    const lisbon = await create('Lisbon');
    const taken = await api(admin, 'POST', '/api/v1/organizations', { name: ' LISBON' });
    expect(taken.status).toBe(409);
    expect(errorCode(taken)).toBe('organizations.name_taken');
    const porto = await create('Porto');
    const renamed = await api(admin, 'PATCH', `/api/v1/organizations/${porto.id}`, { name: 'lisbon' });
    expect(renamed.status).toBe(409);
    expect(errorCode(renamed)).toBe('organizations.name_taken');
    expect((await api<Organization>(admin, 'GET', `/api/v1/organizations/${porto.id}`)).body.name).toBe('Porto');
    expect((await api<OrganizationList>(admin, 'GET', '/api/v1/organizations?q=lisbon')).body.items.map((o) => o.id)).toEqual([lisbon.id]);
    // Unique per account: another tenant's account may use the name.
    expect((await create('Lisbon', other)).name).toBe('Lisbon');
  });

  it('a role scoped to a new organization reaches its assignee in /me/access; deleting the organization then is refused (organizations.in_use)', async () => {
    const org = await create('Madrid');
    const assignee = await userWith(['roles.view'], { organizationId: org.id });
    const access = await api<Access>(assignee, 'GET', '/api/v1/me/access');
    expect(access.status).toBe(200);
    const account = access.body.accounts.find((a) => a.accountId === admin.accountId)!;
    expect(account.organizations).toContainEqual({ id: org.id, name: 'Madrid' });
    expect(account.permissions.find((p) => p.key === 'roles.view')!.sources.map((s) => s.organizationId)).toEqual([org.id]);

    // A rename shows on the next read; the grant (held by id) is unchanged.
    expect((await api(admin, 'PATCH', `/api/v1/organizations/${org.id}`, { name: 'Madrid Norte' })).status).toBe(200);
    const after = (await api<Access>(assignee, 'GET', '/api/v1/me/access')).body.accounts.find((a) => a.accountId === admin.accountId)!;
    expect(after.organizations).toContainEqual({ id: org.id, name: 'Madrid Norte' });

    const refused = await api<{ error: { message: string } }>(admin, 'DELETE', `/api/v1/organizations/${org.id}`);
    expect(refused.status).toBe(409);
    expect(errorCode(refused)).toBe('organizations.in_use');
    expect(refused.body.error.message).toBe('1 role is scoped to this organization; delete it or change its organizationId (PATCH /api/v1/roles/{id}) first.');
    expect((await api(admin, 'GET', `/api/v1/organizations/${org.id}`)).status).toBe(200);
    expect((await api(admin, 'GET', `/api/v1/roles/${assignee.roleId}`)).status).toBe(200);
    expect(await auditOf(admin.tenantId, org.id)).toEqual(['organization.created', 'organization.updated']);

    // What the message says to do: move the role to the whole account, then the delete goes through.
    expect((await api(admin, 'PATCH', `/api/v1/roles/${assignee.roleId}`, { organizationId: null })).status).toBe(200);
    expect((await api(admin, 'DELETE', `/api/v1/organizations/${org.id}`)).status).toBe(204);
    const gone = (await api<Access>(assignee, 'GET', '/api/v1/me/access')).body.accounts.find((a) => a.accountId === admin.accountId)!;
    expect(gone.organizations.map((o) => o.id)).not.toContain(org.id);
    expect(gone.permissions.find((p) => p.key === 'roles.view')!.sources.map((s) => s.organizationId)).toEqual([null]);
  });

  it('organizations.view reads, organizations.manage changes; anything else is permission_denied and changes nothing', async () => {
    const org = await create('Rome');
    const plain = await loginAsPlainUser(t, admin);
    const viewer = await userWith(['organizations.view']);
    // A role scoped to an organization grants nothing account-wide: the guard checks the whole account.
    const scopedManager = await userWith(['organizations.view', 'organizations.manage'], { organizationId: org.id });

    for (const who of [plain, viewer, scopedManager]) {
      const attempts = [
        api(who, 'POST', '/api/v1/organizations', { name: 'Intruder' }),
        api(who, 'PATCH', `/api/v1/organizations/${org.id}`, { name: 'Intruder' }),
        api(who, 'DELETE', `/api/v1/organizations/${org.id}`),
      ];
      if (who !== viewer) attempts.push(api(who, 'GET', '/api/v1/organizations'), api(who, 'GET', `/api/v1/organizations/${org.id}`));
      for (const res of await Promise.all(attempts)) {
        expect(res.status).toBe(403);
        expect(errorCode(res)).toBe('permission_denied');
      }
    }
    expect((await api<OrganizationList>(viewer, 'GET', '/api/v1/organizations?q=rome')).body.items.map((o) => o.id)).toEqual([org.id]);
    expect((await api<Organization>(viewer, 'GET', `/api/v1/organizations/${org.id}`)).body.name).toBe('Rome');
    expect((await api<OrganizationList>(admin, 'GET', '/api/v1/organizations?q=intruder')).body.total).toBe(0);
    expect(await auditOf(admin.tenantId, org.id)).toEqual(['organization.created']);
    expect((await api(null, 'GET', '/api/v1/organizations')).status).toBe(401);
  });

  it('the catalog holds both keys; Account Administrator holds them, Read-Only Auditor only organizations.view', async () => {
    const catalog = await api<{ permissions: { key: string; category: string }[] }>(admin, 'GET', '/api/v1/permissions');
    expect(catalog.body.permissions.filter((p) => p.key.startsWith('organizations.'))).toEqual([
      expect.objectContaining({ key: 'organizations.view', category: 'Organizations' }),
      expect.objectContaining({ key: 'organizations.manage', category: 'Organizations' }),
    ]);
    const templates = await api<{ items: { key: string; permissions: string[] }[] }>(admin, 'GET', '/api/v1/role-templates');
    const auditor = templates.body.items.find((x) => x.key === 'read_only_auditor')!;
    expect(auditor.permissions).toContain('organizations.view');
    expect(auditor.permissions).not.toContain('organizations.manage');
    const mine = (await api<Access>(admin, 'GET', '/api/v1/me/access')).body.accounts[0]!.permissions.map((p) => p.key);
    expect(mine).toEqual(expect.arrayContaining(['organizations.view', 'organizations.manage']));
  });

  // DESIGN §4: tenant isolation — another tenant's organization is not found (never forbidden) and nothing changes.
  it('another tenant can neither see nor change an organization, nor scope a role to it', async () => {
    const org = await create('Vienna');
    for (const res of [
      await api(other, 'GET', `/api/v1/organizations/${org.id}`),
      await api(other, 'PATCH', `/api/v1/organizations/${org.id}`, { name: 'Stolen' }),
      await api(other, 'DELETE', `/api/v1/organizations/${org.id}`),
      await api(other, 'POST', '/api/v1/roles', { name: `Cross ${newId().slice(-6)}`, permissions: [], organizationId: org.id }),
    ]) {
      expect(res.status).toBe(404);
      expect(errorCode(res)).toBe('not_found');
    }
    expect((await api<OrganizationList>(other, 'GET', '/api/v1/organizations?q=vienna')).body.total).toBe(0);
    expect((await api<Organization>(admin, 'GET', `/api/v1/organizations/${org.id}`)).body.name).toBe('Vienna');
    expect(await auditOf(admin.tenantId, org.id)).toEqual(['organization.created']);
    expect(await auditOf(other.tenantId, org.id)).toEqual([]);
  });

  // The routes act on the session's account only: another account linked to the same tenant is out of reach too.
  it("another account of the same tenant keeps its organizations out of the session's account", async () => {
    const otherAccountId = newId();
    const foreignOrgId = newId();
    await t.app.db.tenantWork(admin.tenantId, async (tx) => {
      await tx.insertInto('accounts').values({ id: otherAccountId, name: 'Second account' }).execute();
      await tx.insertInto('account_tenants').values({ tenant_id: admin.tenantId, account_id: otherAccountId }).execute();
      await tx.insertInto('organizations').values({ account_id: otherAccountId, id: foreignOrgId, name: 'Elsewhere' }).execute();
    });
    for (const res of [
      await api(admin, 'GET', `/api/v1/organizations/${foreignOrgId}`),
      await api(admin, 'PATCH', `/api/v1/organizations/${foreignOrgId}`, { name: 'Moved' }),
      await api(admin, 'DELETE', `/api/v1/organizations/${foreignOrgId}`),
    ]) {
      expect(errorCode(res)).toBe('not_found');
    }
    expect((await api<OrganizationList>(admin, 'GET', '/api/v1/organizations?q=elsewhere')).body.total).toBe(0);
    // The same name is free in the session's account: uniqueness is per account.
    expect((await create('Elsewhere')).name).toBe('Elsewhere');
    const row = await t.app.db.tenantWork(admin.tenantId, (tx) => store.findOrganization(tx, otherAccountId, foreignOrgId));
    expect(row?.name).toBe('Elsewhere');
  });

  it('the routes are in the OpenAPI document', async () => {
    const doc = (await api<{ paths: Record<string, unknown> }>(null, 'GET', '/api/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/organizations', '/api/v1/organizations/{id}']));
  });

  // A delete racing a role being scoped to the organization must not cascade into that role (the roles'
  // foreign key is ON DELETE CASCADE): the delete locks the organization before counting its roles. PGlite
  // runs one transaction at a time, so the race exists only on PostgreSQL.
  it.runIf(engine === 'postgres')('a delete racing a role being scoped to the organization is refused, and the role survives', async () => {
    const org = await create('Athens');
    const roleId = newId();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const roleInserted = new Promise<void>((resolve) => (inserted = resolve));
    const scoping = t.app.db.tenantWork(admin.tenantId, async (tx) => {
      await tx.insertInto('roles').values({ account_id: admin.accountId, id: roleId, name: `Racing ${roleId.slice(-6)}`, organization_id: org.id, permissions: [] }).execute();
      inserted();
      await gate;
    });
    await roleInserted;
    const deleting = api(admin, 'DELETE', `/api/v1/organizations/${org.id}`);
    // Let the scoping transaction commit only once the delete is waiting for a lock on the organization.
    for (;;) {
      const waiting = await t.app.db.ownerWork((tx) =>
        sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(tx),
      );
      if (waiting.rows[0]!.n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    release();
    await scoping;
    const refused = await deleting;
    expect(errorCode(refused)).toBe('organizations.in_use');
    expect((await api<{ organizationId: string }>(admin, 'GET', `/api/v1/roles/${roleId}`)).body.organizationId).toBe(org.id);
    expect((await api(admin, 'GET', `/api/v1/organizations/${org.id}`)).status).toBe(200);
  });

  it('store: another tenant sees nothing, through the account filter or, with it forgotten, through row-level security', async () => {
    const org = await create('Oslo');
    await t.app.db.tenantWork(other.tenantId, async (tx) => {
      expect(await store.findOrganization(tx, admin.accountId, org.id)).toBeUndefined();
      expect((await store.listOrganizations(tx, admin.accountId, { limit: 200, offset: 0 })).total).toBe(0);
      expect(await store.renameOrganization(tx, admin.accountId, org.id, 'Stolen', new Date())).toBe(false);
      expect(await store.deleteOrganization(tx, admin.accountId, org.id)).toBe(false);
      const unfiltered = await tx.selectFrom('organizations').select('account_id').execute();
      // Empty is a correct answer here (the other account has no organization); what must never appear is
      // a row of another account, such as Oslo.
      expect(unfiltered.filter((r) => r.account_id !== other.accountId)).toEqual([]);
    });
    // Inserting into an account the tenant is not linked to is refused by the policy too.
    await expect(
      t.app.db.tenantWork(other.tenantId, (tx) => sql`insert into organizations (account_id, id, name) values (${admin.accountId}, ${newId()}, ${'Planted'})`.execute(tx)),
    ).rejects.toThrow(/row-level security/);
    expect((await api<Organization>(admin, 'GET', `/api/v1/organizations/${org.id}`)).body.name).toBe('Oslo');
  });
});
