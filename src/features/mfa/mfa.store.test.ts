import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../../test/support/databases.js';
import { newId } from '../../kernel/ids.js';
import * as store from './mfa.store.js';

// Every store has an "another tenant sees nothing" test (DESIGN §6 rule 3).
describe.each(engines())('mfa store [%s]', (engine) => {
  let t: TestDatabase;
  const tenantA = newId();
  const tenantB = newId();
  const userA = newId();
  const userB = newId();
  const now = new Date('2026-03-01T10:00:00Z');

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    for (const [tenantId, userId] of [
      [tenantA, userA],
      [tenantB, userB],
    ] as const) {
      await t.db.tenantWork(tenantId, async (tx) => {
        await tx.insertInto('tenants').values({ id: tenantId, name: 'T' }).execute();
        await tx.insertInto('users').values({ tenant_id: tenantId, id: userId, email: `${userId}@x.example` }).execute();
      });
    }
  });
  afterAll(() => t.drop());

  it('keeps a pending factor until it is enabled, and never overwrites an enabled one', async () => {
    await t.db.tenantWork(tenantA, async (tx) => {
      expect(await store.savePendingFactor(tx, tenantA, userA, Buffer.from('one'), now)).toBe(true);
      expect(await store.savePendingFactor(tx, tenantA, userA, Buffer.from('two'), now)).toBe(true);
      expect(Buffer.from((await store.findFactor(tx, tenantA, userA))!.totp_secret_enc).toString()).toBe('two');
      expect(await store.enableFactor(tx, tenantA, userA, 100, now)).toBe(true);
      expect(await store.savePendingFactor(tx, tenantA, userA, Buffer.from('three'), now)).toBe(false);
      expect(Buffer.from((await store.findFactor(tx, tenantA, userA))!.totp_secret_enc).toString()).toBe('two');
    });
  });

  // RFC 6238 §5.2: a step is accepted once, and never one older than the last accepted.
  it('accepts each time step once and refuses older steps', async () => {
    await t.db.tenantWork(tenantA, async (tx) => {
      expect(await store.consumeStep(tx, tenantA, userA, 100, now)).toBe(false);
      expect(await store.consumeStep(tx, tenantA, userA, 101, now)).toBe(true);
      expect(await store.consumeStep(tx, tenantA, userA, 101, now)).toBe(false);
      expect(await store.consumeStep(tx, tenantA, userA, 99, now)).toBe(false);
      expect((await store.findFactor(tx, tenantA, userA))!.last_used_step).toBe(101);
    });
  });

  it('uses a recovery code once', async () => {
    await t.db.tenantWork(tenantA, async (tx) => {
      await store.replaceRecoveryCodes(tx, tenantA, userA, [Buffer.from('h1'), Buffer.from('h2')], now);
      expect(await store.countUnusedRecoveryCodes(tx, tenantA, userA)).toBe(2);
      expect(await store.consumeRecoveryCode(tx, tenantA, userA, Buffer.from('h1'), now)).toBe(true);
      expect(await store.consumeRecoveryCode(tx, tenantA, userA, Buffer.from('h1'), now)).toBe(false);
      expect(await store.consumeRecoveryCode(tx, tenantA, userA, Buffer.from('nope'), now)).toBe(false);
      expect(await store.countUnusedRecoveryCodes(tx, tenantA, userA)).toBe(1);
    });
  });

  it('another tenant sees nothing and changes nothing', async () => {
    // A factor and a recovery code of the test's own in tenant A, so there is something to hide.
    const victim = newId();
    await t.db.tenantWork(tenantA, async (tx) => {
      await tx.insertInto('users').values({ tenant_id: tenantA, id: victim, email: `${victim}@x.example` }).execute();
      expect(await store.savePendingFactor(tx, tenantA, victim, Buffer.from('s'), now)).toBe(true);
      expect(await store.enableFactor(tx, tenantA, victim, 101, now)).toBe(true);
      await store.replaceRecoveryCodes(tx, tenantA, victim, [Buffer.from('h2')], now);
    });
    const userA = victim;
    await t.db.tenantWork(tenantB, async (tx) => {
      // The tenant filter names tenant A; row-level security still confines tenant B's unit of work.
      expect(await store.findFactor(tx, tenantA, userA)).toBeUndefined();
      expect(await tx.selectFrom('user_mfa').selectAll().execute()).toEqual([]);
      expect(await tx.selectFrom('mfa_recovery_codes').selectAll().execute()).toEqual([]);
      expect(await store.consumeStep(tx, tenantA, userA, 500, now)).toBe(false);
      expect(await store.consumeRecoveryCode(tx, tenantA, userA, Buffer.from('h2'), now)).toBe(false);
      expect(await store.deleteFactor(tx, tenantA, userA)).toBe(false);
    });
    await t.db.tenantWork(tenantA, async (tx) => {
      expect((await store.findFactor(tx, tenantA, userA))!.last_used_step).toBe(101);
      expect(await store.countUnusedRecoveryCodes(tx, tenantA, userA)).toBe(1);
    });
  });

  it('deletes the factor with its recovery codes', async () => {
    await t.db.tenantWork(tenantA, async (tx) => {
      expect(await store.deleteFactor(tx, tenantA, userA)).toBe(true);
      expect(await store.findFactor(tx, tenantA, userA)).toBeUndefined();
      expect(await store.countUnusedRecoveryCodes(tx, tenantA, userA)).toBe(0);
    });
  });
});
