import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../../test/support/databases.js';
import { newId } from '../../kernel/ids.js';
import * as store from './rbac.store.js';

// DESIGN §4 and §6 rule 3: another tenant sees nothing — through the stores (tenant filter) and, with the
// filter forgotten on purpose, through row-level security alone.
describe.each(engines())('access-control stores: another tenant sees nothing [%s]', (engine) => {
  let t: TestDatabase;
  const now = new Date('2026-01-01T00:00:00Z');
  const a = { tenant: newId(), account: newId(), user: newId(), role: newId(), group: newId() };
  const b = { tenant: newId(), account: newId(), user: newId(), role: newId(), group: newId() };

  async function seed(s: typeof a) {
    await t.db.tenantWork(s.tenant, async (tx) => {
      await tx.insertInto('tenants').values({ id: s.tenant, name: 'T' }).execute();
      await tx.insertInto('accounts').values({ id: s.account, name: 'A' }).execute();
      await tx.insertInto('account_tenants').values({ tenant_id: s.tenant, account_id: s.account }).execute();
      await tx.insertInto('users').values({ tenant_id: s.tenant, id: s.user, email: `${s.user}@example.com` }).execute();
      await store.insertRole(tx, s.account, { id: s.role, name: 'R', description: '', systemKey: null, permissions: ['idp.view'], createdAt: now });
      await tx.insertInto('groups').values({ tenant_id: s.tenant, id: s.group, name: 'G', description: '', created_at: now, updated_at: now }).execute();
      await tx.insertInto('group_members').values({ tenant_id: s.tenant, group_id: s.group, user_id: s.user, created_at: now }).execute();
      await store.insertAssignment(tx, s.tenant, { id: newId(), accountId: s.account, roleId: s.role, groupId: s.group, expiresAt: null, createdAt: now });
      await store.replaceAppCatalog(tx, s.account, { permissions: [{ key: 'hosts.view', category: 'Hosts', description: '' }], templates: [], version: 1, now });
      await tx.insertInto('api_keys').values({ tenant_id: s.tenant, id: newId(), account_id: s.account, name: 'k', key_hash: Buffer.alloc(32, 1), permissions: ['idp.view'], created_at: now }).execute();
    });
  }

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    await seed(a);
    await seed(b);
  });
  afterAll(() => t.drop());

  it('stores given the other tenant or account find nothing', async () => {
    await t.db.tenantWork(a.tenant, async (tx) => {
      expect(await store.findRole(tx, b.account, b.role)).toBeUndefined();
      expect(await store.grantsOfUser(tx, b.tenant, b.user, [b.group], undefined, now)).toEqual([]);
      expect((await store.grantsOfUser(tx, a.tenant, a.user, [a.group], undefined, now)).map((g) => g.role_id)).toEqual([a.role]);
      expect(await store.listAssignments(tx, a.tenant, b.account, { includeExpired: true, now })).toEqual([]);
    });
  });

  it('row-level security alone: unfiltered reads see only the own tenant and linked accounts', async () => {
    await t.db.tenantWork(a.tenant, async (tx) => {
      expect((await tx.selectFrom('groups').select('tenant_id').execute()).map((r) => r.tenant_id)).toEqual([a.tenant]);
      expect((await tx.selectFrom('group_members').select('tenant_id').execute()).map((r) => r.tenant_id)).toEqual([a.tenant]);
      expect((await tx.selectFrom('role_assignments').select('tenant_id').execute()).map((r) => r.tenant_id)).toEqual([a.tenant]);
      expect((await tx.selectFrom('api_keys').select('tenant_id').execute()).map((r) => r.tenant_id)).toEqual([a.tenant]);
      expect((await tx.selectFrom('roles').select('account_id').execute()).map((r) => r.account_id)).toEqual([a.account]);
      expect((await tx.selectFrom('permission_catalog').select('account_id').execute()).map((r) => r.account_id)).toEqual([a.account]);
      // The admin count answers only for a linked account.
      expect(await store.accountAdminCount(tx, b.account)).toBe(0);
    });
  });
});
