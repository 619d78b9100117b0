import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../../test/support/databases.js';
import { newId } from '../../kernel/ids.js';
import * as groups from './groups.store.js';

// DESIGN §4 and §6 rule 3: another tenant sees nothing — through the group store's tenant filter and, with the
// filter forgotten on purpose, through row-level security alone.
describe.each(engines())('group stores: another tenant sees nothing [%s]', (engine) => {
  let t: TestDatabase;
  const now = new Date('2026-01-01T00:00:00Z');
  const a = { tenant: newId(), user: newId(), group: newId() };
  const b = { tenant: newId(), user: newId(), group: newId() };

  async function seed(s: typeof a) {
    await t.db.tenantWork(s.tenant, async (tx) => {
      await tx.insertInto('tenants').values({ id: s.tenant, name: 'T' }).execute();
      await tx.insertInto('users').values({ tenant_id: s.tenant, id: s.user, email: `${s.user}@example.com` }).execute();
      await groups.insertGroup(tx, s.tenant, { id: s.group, name: 'G', description: '', now });
      await groups.addMember(tx, s.tenant, s.group, s.user, now);
    });
  }

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    await seed(a);
    await seed(b);
  });
  afterAll(() => t.drop());

  it('stores given the other tenant find nothing', async () => {
    await t.db.tenantWork(a.tenant, async (tx) => {
      expect(await groups.findGroup(tx, a.tenant, b.group)).toBeUndefined();
      expect(await groups.findGroup(tx, b.tenant, b.group)).toBeUndefined();
      expect(await groups.groupsOfUser(tx, b.tenant, b.user)).toEqual([]);
      expect((await groups.groupsOfUser(tx, a.tenant, a.user)).map((g) => g.id)).toEqual([a.group]);
      expect(await groups.removeMember(tx, b.tenant, b.group, b.user)).toBe(false);
    });
  });

  it('row-level security alone: unfiltered reads see only the own tenant', async () => {
    await t.db.tenantWork(a.tenant, async (tx) => {
      expect((await tx.selectFrom('groups').select('tenant_id').execute()).map((r) => r.tenant_id)).toEqual([a.tenant]);
      expect((await tx.selectFrom('group_members').select('tenant_id').execute()).map((r) => r.tenant_id)).toEqual([a.tenant]);
    });
  });
});
