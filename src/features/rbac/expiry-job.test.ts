import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { callApi } from '../../../test/support/http.js';
import { type LoggedIn, loginAsAdmin } from '../../../test/support/login.js';
import { newId } from '../../kernel/ids.js';

describe.each(engines())('assignment expiry job [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t);
  });
  afterAll(() => t.close());

  async function expiringAssignment(ms: number): Promise<string> {
    const user = await callApi<{ id: string }>(t, admin, 'POST', '/api/v1/users', { email: `e-${newId().slice(-10)}@example.com` });
    const role = await callApi<{ id: string }>(t, admin, 'POST', '/api/v1/roles', { name: `R ${newId().slice(-8)}`, permissions: ['idp.view'] });
    const created = await callApi<{ id: string }>(t, admin, 'POST', '/api/v1/assignments', { roleId: role.body.id, userId: user.body.id, expiresAt: new Date(t.clock.now().getTime() + ms).toISOString() });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  async function expiredEvents(): Promise<{ actor_type: string; target_id: string | null }[]> {
    return t.app.db.ownerWork((tx) =>
      tx.selectFrom('audit_events').select(['actor_type', 'target_id']).where('tenant_id', '=', admin.tenantId).where('action', '=', 'role_assignment.expired').execute(),
    );
  }

  it('marks only what is due, records each as the system actor, and is idempotent', async () => {
    const due = await expiringAssignment(1_000);
    const later = await expiringAssignment(3_600_000);
    t.clock.set(t.clock.now().getTime() + 1_000);
    expect(await t.app.services.rbac.assignments.expireDue()).toBe(1);
    expect(await t.app.services.rbac.assignments.expireDue()).toBe(0);
    const events = await expiredEvents();
    expect(events).toEqual([{ actor_type: 'system', target_id: due }]);
    expect(events.some((e) => e.target_id === later)).toBe(false);
  });

  it.skipIf(engine !== 'postgres')('one instance at a time: while another holds the advisory lock, a pass does nothing', async () => {
    await expiringAssignment(1_000);
    t.clock.set(t.clock.now().getTime() + 1_000);
    const other = new pg.Client({ connectionString: (t.database.config as { url: string }).url });
    await other.connect();
    try {
      await other.query('select pg_advisory_lock(7430117004)');
      expect(await t.app.services.rbac.assignments.expireDue()).toBeNull();
      await other.query('select pg_advisory_unlock(7430117004)');
      expect(await t.app.services.rbac.assignments.expireDue()).toBe(1);
    } finally {
      await other.end();
    }
  });
});
