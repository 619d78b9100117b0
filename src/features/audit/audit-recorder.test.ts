import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../../test/support/databases.js';
import { FixedClock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import { ChainVerifier, GENESIS_HASH } from './audit-chain.js';
import { createAuditRecorder } from './audit-recorder.js';
import * as store from './audit.store.js';

describe.each(engines())('audit recorder [%s]', (engine) => {
  let t: TestDatabase;
  const clock = new FixedClock('2026-03-01T10:00:00.000Z');
  const recorder = createAuditRecorder({ clock });
  const tenantA = newId();
  const tenantB = newId();
  const actor = { type: 'user', id: newId(), email: 'admin@a.example', ip: '203.0.113.7', userAgent: 'test' } as const;

  async function readChain(tenantId: string) {
    return t.db.tenantWork(tenantId, (tx) => store.pageEvents(tx, tenantId, { order: 'asc', limit: 1000 }));
  }

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    for (const id of [tenantA, tenantB]) {
      await t.db.tenantWork(id, (tx) => tx.insertInto('tenants').values({ id, name: `tenant ${id}` }).execute());
    }
  });
  afterAll(() => t.drop());

  it('appends a gapless, verifiable chain per tenant with microsecond timestamps', async () => {
    for (let i = 0; i < 3; i++) {
      await t.db.tenantWork(tenantA, (tx) =>
        recorder.record(tx, tenantA, { action: 'user.created', actor, target: { type: 'user', id: `u${i}` }, outcome: 'success', details: { i } }),
      );
      clock.advance(1);
    }
    const events = await readChain(tenantA);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(events[0]!.prevHash).toBe(GENESIS_HASH);
    expect(events[1]!.prevHash).toBe(events[0]!.hash);
    expect(events[0]!.occurredAt).toBe('2026-03-01T10:00:00.000000Z');
    expect(events[0]!.actor).toEqual({ type: 'user', id: actor.id, email: actor.email, ip: actor.ip, userAgent: 'test' });
    const v = new ChainVerifier({ seq: 0, hash: GENESIS_HASH });
    for (const e of events) expect(v.next(e)).toBe(true);
  });
});
