import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../../test/support/databases.js';
import { newId } from '../../kernel/ids.js';
import { enterableAccounts } from './index.js';

// Login's account selection (DESIGN §2 "Session"): the accounts where the user holds an assignment that counts
// now, directly or through a group; expired or lapsed ones do not count; by name, then id.
describe.each(engines())('enterableAccounts [%s]', (engine) => {
  let t: TestDatabase;
  const now = new Date('2026-01-01T00:00:00Z');
  const tenant = newId();
  const user = newId();
  const group = newId();
  const [direct, viaGroup, lapsed, expired, other] = [newId(), newId(), newId(), newId(), newId()];
  const names: Record<string, string> = { [direct]: 'Bravo', [viaGroup]: 'Alpha', [lapsed]: 'Charlie', [expired]: 'Delta', [other]: 'Echo' };

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    await t.db.tenantWork(tenant, async (tx) => {
      await tx.insertInto('tenants').values({ id: tenant, name: 'T' }).execute();
      await tx.insertInto('users').values({ tenant_id: tenant, id: user, email: 'u@example.com' }).execute();
      await tx.insertInto('groups').values({ tenant_id: tenant, id: group, name: 'G', description: '', created_at: now, updated_at: now }).execute();
      await tx.insertInto('group_members').values({ tenant_id: tenant, group_id: group, user_id: user, created_at: now }).execute();
      const assign = async (account: string, who: { user_id?: string; group_id?: string }, extra: { expires_at?: Date; expired_at?: Date } = {}) => {
        await tx.insertInto('accounts').values({ id: account, name: names[account]! }).execute();
        await tx.insertInto('account_tenants').values({ tenant_id: tenant, account_id: account }).execute();
        const role = newId();
        await tx.insertInto('roles').values({ account_id: account, id: role, name: 'R', description: '', permissions: [], created_at: now, updated_at: now }).execute();
        await tx.insertInto('role_assignments').values({ tenant_id: tenant, id: newId(), account_id: account, role_id: role, ...who, ...extra }).execute();
      };
      await assign(direct, { user_id: user });
      await assign(viaGroup, { group_id: group });
      await assign(lapsed, { user_id: user }, { expires_at: new Date('2025-12-31T23:59:59Z') });
      await assign(expired, { group_id: group }, { expires_at: new Date('2025-06-01T00:00:00Z'), expired_at: new Date('2025-06-01T00:00:00Z') });
      const someoneElse = newId();
      await tx.insertInto('users').values({ tenant_id: tenant, id: someoneElse, email: 'o@example.com' }).execute();
      await assign(other, { user_id: someoneElse });
    });
  });
  afterAll(() => t.drop());

  it('direct and group assignments that count now, by name; lapsed, expired and other users’ do not', async () => {
    const found = await t.db.tenantWork(tenant, (tx) => enterableAccounts(tx, tenant, user, now));
    expect(found).toEqual([
      { id: viaGroup, name: 'Alpha' },
      { id: direct, name: 'Bravo' },
    ]);
  });
});
