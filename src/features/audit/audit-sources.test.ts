import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';

// DESIGN §4: the privileged actions that exist before any login — bootstrap and key operations — record
// exactly one event each, in the same transaction as the change.
describe.each(engines())('events of bootstrap and key operations [%s]', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(engine);
  });
  afterAll(() => t.close());

  const actions = async (tenantId: string) =>
    (await t.app.services.audit.listEvents(tenantId, { filters: {}, limit: 100 })).events.reverse().map((e) => [e.action, e.actor.type, e.actor.id, e.target?.type]);

  it('bootstrap records tenant, account, administrator and its assignment as system actor `bootstrap`', async () => {
    const result = await t.app.services.bootstrap.bootstrap({ tenantName: 'Acme', accountName: 'Main', email: 'root@acme.example', password: 'correct horse battery staple' });
    expect(await actions(result.tenantId)).toEqual([
      ['tenant.created', 'system', 'bootstrap', 'tenant'],
      ['account.created', 'system', 'bootstrap', 'account'],
      ['user.created', 'system', 'bootstrap', 'user'],
      ['role_assignment.created', 'system', 'bootstrap', 'role_assignment'],
    ]);
    const { events } = await t.app.services.audit.listEvents(result.tenantId, { filters: { action: 'user.created' }, limit: 1 });
    expect(events[0]!.target).toEqual({ type: 'user', id: result.userId });
    expect(JSON.stringify(events[0]!.details)).not.toContain('correct horse');
    expect(await t.app.services.audit.verify(result.tenantId)).toMatchObject({ ok: true, checked: 4 });
  });

  it('a failed bootstrap leaves no event behind', async () => {
    const chains = () => t.app.db.ownerWork((tx) => tx.selectFrom('audit_heads').select('tenant_id').orderBy('tenant_id').execute());
    const before = await chains();
    await expect(t.app.services.bootstrap.bootstrap({ tenantName: 'Bad', accountName: 'Main', email: 'not-an-email' })).rejects.toMatchObject({ code: 'bootstrap.invalid_input' });
    expect(await chains()).toEqual(before);
  });

  it('signing key rotation and master-key re-wrap are recorded in every tenant’s chain as system actor `keys`', async () => {
    const other = await t.app.services.bootstrap.bootstrap({ tenantName: 'Globex', accountName: 'Main', email: 'root@globex.example', password: 'correct horse battery staple' });
    const rotated = await t.app.services.keys.rotateSigningKey();
    await t.app.services.keys.rewrapAll();
    const heads = await t.app.db.ownerWork((tx) => tx.selectFrom('audit_heads').select('tenant_id').execute());
    expect(heads).toHaveLength(2);
    for (const { tenant_id } of heads) {
      const keyEvents = (await actions(tenant_id)).filter(([action]) => String(action).startsWith('keys.'));
      expect(keyEvents).toEqual([
        ['keys.signing_key.rotated', 'system', 'keys', 'signing_key'],
        ['keys.master_key.rewrapped', 'system', 'keys', 'master_key'],
      ]);
      expect((await t.app.services.audit.verify(tenant_id)).ok).toBe(true);
    }
    const { events } = await t.app.services.audit.listEvents(other.tenantId, { filters: { action: 'keys.signing_key.rotated' }, limit: 1 });
    expect(events[0]!.target).toEqual({ type: 'signing_key', id: rotated.kid });
  });
});
