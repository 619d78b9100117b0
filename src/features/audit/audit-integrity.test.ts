import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../../test/support/databases.js';
import type { Engine, Tx } from '../../db/database.js';
import { FixedClock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import { eventHash, GENESIS_HASH } from './audit-chain.js';
import { createAuditRecorder } from './audit-recorder.js';
import type { AuditEventInput } from './audit.types.js';

// Known-answer vector for the chain (docs/audit.md): one fixed first event and the SHA-256 it must hash to,
// computed once outside Tessera from the canonical form below. Every hashing path must give exactly this.
const TENANT = '0190a7a2-0000-7000-8000-000000000001';
const AT = '2026-01-02T03:04:05.678Z';
const INPUT: AuditEventInput = {
  action: 'user.created',
  actor: { type: 'user', id: '0190a7a2-0000-7000-8000-0000000000aa', email: 'zoë@example.com', ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (Zoë)' },
  target: { type: 'user', id: '0190a7a2-0000-7000-8000-0000000000bb' },
  outcome: 'success',
  details: { b: 1, a: { z: 'ü', y: [1, 'x'] } },
};
const CANONICAL =
  '{"action":"user.created","actor":{"email":"zoë@example.com","id":"0190a7a2-0000-7000-8000-0000000000aa","ip":"203.0.113.7","type":"user","userAgent":"Mozilla/5.0 (Zoë)"},' +
  '"details":{"a":{"y":[1,"x"],"z":"ü"},"b":1},"errorCode":null,"occurredAt":"2026-01-02T03:04:05.678000Z","outcome":"success",' +
  `"prevHash":"${'0'.repeat(64)}","seq":1,"target":{"id":"0190a7a2-0000-7000-8000-0000000000bb","type":"user"},"tenantId":"0190a7a2-0000-7000-8000-000000000001"}`;
const KNOWN_HASH = '122f42f29ecdb37e9b80983ae18b4df44b7d0d56175f6e09a60c737257c7b093';

describe('audit chain known-answer vector', () => {
  it('the pinned canonical form hashes to the pinned SHA-256 (the vector is self-consistent)', () => {
    expect(createHash('sha256').update(CANONICAL, 'utf8').digest('hex')).toBe(KNOWN_HASH);
  });

  it('the JavaScript path (eventHash) gives the known hash', () => {
    const hash = eventHash({
      tenantId: TENANT,
      seq: 1,
      occurredAt: '2026-01-02T03:04:05.678000Z',
      actor: { type: 'user', id: '0190a7a2-0000-7000-8000-0000000000aa', email: 'zoë@example.com', ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (Zoë)' },
      action: 'user.created',
      target: { type: 'user', id: '0190a7a2-0000-7000-8000-0000000000bb' },
      outcome: 'success',
      errorCode: null,
      details: { b: 1, a: { z: 'ü', y: [1, 'x'] } },
      prevHash: GENESIS_HASH,
    });
    expect(hash).toBe(KNOWN_HASH);
  });
});

describe.each(engines())('audit chain and append-only storage [%s]', (engine) => {
  let t: TestDatabase;

  beforeAll(async () => {
    t = await createTestDatabase(engine);
  });
  afterAll(() => t?.drop());

  class Rollback extends Error {}

  /** Records the fixed event as the tenant's first, through one append path, reads its stored hash, rolls back. */
  async function storedHash(path: Engine): Promise<string> {
    const recorder = createAuditRecorder({ clock: new FixedClock(AT), engine: path });
    let hash = '';
    await t.db
      .tenantWork(TENANT, async (tx) => {
        await tx.insertInto('tenants').values({ id: TENANT, name: 'Vector' }).execute();
        await recorder.record(tx, TENANT, INPUT);
        hash = (await tx.selectFrom('audit_events').select('hash').where('tenant_id', '=', TENANT).executeTakeFirstOrThrow()).hash;
        throw new Rollback();
      })
      .catch((error: unknown) => {
        if (!(error instanceof Rollback)) throw error;
      });
    return hash;
  }

  it('the SQL path (the append statement hashes in the database) stores the known hash', async () => {
    expect(await storedHash('postgres')).toBe(KNOWN_HASH);
  });

  it('the JavaScript path through the store stores the known hash', async () => {
    expect(await storedHash('pglite')).toBe(KNOWN_HASH);
  });

  async function tenantWithEvent(): Promise<string> {
    const id = newId();
    const recorder = createAuditRecorder({ clock: new FixedClock(AT), engine });
    await t.db.tenantWork(id, async (tx) => {
      await tx.insertInto('tenants').values({ id, name: `tenant ${id}` }).execute();
      await recorder.record(tx, id, INPUT);
    });
    return id;
  }

  const retentionOn = (tx: Tx) => sql`select set_config('tessera.audit_retention', 'on', true)`.execute(tx);
  const count = async (tenant: string) => (await t.db.ownerWork((tx) => tx.selectFrom('audit_events').select('seq').where('tenant_id', '=', tenant).execute())).length;

  // Defence in depth (OWASP ASVS V7.3.3): no setting, custom or not, opens the append-only trigger.
  it('the owner cannot DELETE audit events by setting tessera.audit_retention', async () => {
    const tenant = await tenantWithEvent();
    await expect(
      t.db.ownerWork(async (tx) => {
        await retentionOn(tx);
        await sql`delete from audit_events where tenant_id = ${tenant}`.execute(tx);
      }),
    ).rejects.toThrow(/append-only/);
    expect(await count(tenant)).toBe(1);
  });

  it('the request role cannot UPDATE or DELETE with the setting, even if it were granted the privilege', async () => {
    const tenant = await tenantWithEvent();
    for (const statement of [sql`delete from audit_events where tenant_id = ${tenant}`, sql`update audit_events set action = 'x.y' where tenant_id = ${tenant}`]) {
      await expect(
        t.db.tenantWork(tenant, async (tx) => {
          await retentionOn(tx);
          await statement.execute(tx);
        }),
      ).rejects.toThrow(/permission denied/);
      // A mistaken future GRANT: the trigger still refuses (the grant rolls back with the refusal).
      await expect(
        t.db.ownerWork(async (tx) => {
          await sql`grant update, delete on audit_events to tessera_app`.execute(tx);
          await t.db.enterTenant(tx, tenant);
          await retentionOn(tx);
          await statement.execute(tx);
        }),
      ).rejects.toThrow(/append-only/);
    }
    expect(await count(tenant)).toBe(1);
  });

  it('the request role can neither run retention nor open the retention window itself', async () => {
    const tenant = await tenantWithEvent();
    await expect(
      t.db.tenantWork(tenant, (tx) => sql`select tessera_audit_retain(${tenant}::uuid, now() + interval '1 day', 10, now())`.execute(tx)),
    ).rejects.toThrow(/permission denied/);
    await expect(t.db.tenantWork(tenant, (tx) => sql`insert into audit_retention_window (tenant_id) values (${tenant})`.execute(tx))).rejects.toThrow(/permission denied/);
    expect(await count(tenant)).toBe(1);
  });

  it('retention through the operator path still removes events, and only its own tenant’s', async () => {
    const tenant = await tenantWithEvent();
    const other = await tenantWithEvent();
    const removed = await t.db.ownerWork((tx) => sql<{ n: number }>`select tessera_audit_retain(${tenant}::uuid, ${'2030-01-01T00:00:00Z'}::timestamptz, 10, now()) as n`.execute(tx));
    expect(Number(removed.rows[0]!.n)).toBe(1);
    expect(await count(tenant)).toBe(0);
    expect(await count(other)).toBe(1);
    // The window closed with the call: a plain DELETE in a later transaction is refused again.
    await expect(t.db.ownerWork((tx) => sql`delete from audit_events where tenant_id = ${other}`.execute(tx))).rejects.toThrow(/append-only/);
  });
});
