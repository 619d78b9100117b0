import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { passwordProblem } from './password-policy.js';
import * as store from './users.store.js';
import { match } from '../../../test/support/matchers.js';

describe('password policy', () => {
  it('counts characters, not bytes or UTF-16 units', () => {
    expect(passwordProblem('🔑🔑🔑🔑🔑🔑🔑')).toMatch(/at least 8/);
    expect(passwordProblem('🔑🔑🔑🔑🔑🔑🔑🔑')).toBeNull();
    expect(passwordProblem('é'.repeat(128))).toBeNull();
    expect(passwordProblem('é'.repeat(129))).toMatch(/at most 128/);
  });

  it('refuses common passwords in any case, and the email address', () => {
    expect(passwordProblem('Sunshine1')).toMatch(/commonly used/);
    expect(passwordProblem('LETMEIN123')).toMatch(/commonly used/);
    expect(passwordProblem('ada.lovelace', { email: 'Ada.Lovelace@example.com' })).toMatch(/email/);
    expect(passwordProblem('ada.lovelace@example.com', { email: 'ada.lovelace@example.com' })).toMatch(/email/);
    expect(passwordProblem('quiet otter river 4', { email: 'ada@example.com' })).toBeNull();
  });
});

describe.each(engines())('identity service [%s]', (engine) => {
  let t: TestApp;
  let tenantA: string;
  let tenantB: string;
  let adminA: string;

  beforeAll(async () => {
    t = await startTestApp(engine);
    const a = await t.app.services.bootstrap.bootstrap({ tenantName: 'A', accountName: 'A', email: 'admin@a.example', password: 'correct horse battery' });
    const b = await t.app.services.bootstrap.bootstrap({ tenantName: 'B', accountName: 'B', email: 'admin@b.example', password: 'correct horse battery' });
    tenantA = a.tenantId;
    tenantB = b.tenantId;
    adminA = a.userId;
  });
  afterAll(() => t.close());

  const identity = () => t.app.services.identity;
  const actor = (id: string) => ({ type: 'user' as const, id });

  // Product rule: a tenant keeps an active tenant administrator — also when two administrators demote each
  // other at the same moment (the administrators' rows are locked, so the second sees the first).
  // PGlite runs one transaction at a time, so the race exists only on PostgreSQL (a pool of 5).
  it.runIf(engine === 'postgres')('keeps one tenant administrator when two demote each other concurrently (PostgreSQL)', async () => {
    const second = await identity().adminCreateUser(tenantA, actor(adminA), { email: 'second@a.example', isTenantAdmin: true });
    // The two transactions overlap for certain: the first demotes and holds its transaction open (a subscriber
    // to its `user.changed`, which runs inside the writer's transaction) until the second has either finished
    // or is waiting for a lock; only then does the first commit.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let demoted!: () => void;
    const firstDemoted = new Promise<void>((resolve) => (demoted = resolve));
    let held = false;
    identity().events.subscribe(async (_tx, event) => {
      if (held || event.type !== 'user.changed' || event.userId !== second.id) return;
      held = true;
      demoted();
      await gate;
    });
    const first = identity().updateUser(tenantA, actor(adminA), second.id, { isTenantAdmin: false });
    first.catch(() => demoted());
    await firstDemoted;
    let secondSettled = false;
    const secondDemotion = identity()
      .updateUser(tenantA, actor(second.id), adminA, { isTenantAdmin: false })
      .finally(() => (secondSettled = true));
    secondDemotion.catch(() => {});
    for (;;) {
      const waiting = await t.app.db.ownerWork((tx) =>
        sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(tx),
      );
      if (secondSettled || waiting.rows[0]!.n > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    release();
    const results = await Promise.allSettled([first, secondDemotion]);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: match.stringMatching(/^identity\.(last_tenant_admin|tenant_admin_required)$/) });
    const admins = await t.app.db.tenantWork(tenantA, (tx) => store.lockActiveTenantAdmins(tx, tenantA));
    expect(admins).toHaveLength(1);
  });

  it('another tenant sees none of the users and changes none', async () => {
    await t.app.db.tenantWork(tenantB, async (tx) => {
      expect(await store.findUser(tx, tenantA, adminA)).toBeUndefined();
      expect((await store.listUsers(tx, tenantA, { limit: 100, offset: 0 })).total).toBe(0);
      expect(await store.updateUser(tx, tenantA, adminA, { name: 'Hijacked' }, new Date())).toBe(false);
      expect(await store.setPassword(tx, tenantA, adminA, 'x', false, new Date())).toBe(false);
      expect(await store.isActiveTenantAdmin(tx, tenantA, adminA)).toBe(false);
    });
    const me = await t.app.db.tenantWork(tenantA, (tx) => store.findUser(tx, tenantA, adminA));
    expect(me?.name).toBe('Administrator');
  });

  // Identity owns the principal: every write to a user emits its events inside the write's transaction, from
  // identity's own write path (no caller can forget them), and what a subscriber does commits or rolls back with it.
  it("emits the user events in the writer's transaction, once per write; a failing subscriber undoes the write", async () => {
    const user = await identity().adminCreateUser(tenantA, actor(adminA), { email: 'events@a.example', password: 'quiet otter river 4' });
    const seen: string[] = [];
    let fail = false;
    identity().events.subscribe((_tx, event) => {
      if (event.userId !== user.id) return;
      seen.push(event.type === 'user.security_stamp_changed' ? `${event.type}:${event.reason}` : event.type);
      if (fail) throw new Error('subscriber failed');
    });
    await identity().updateUser(tenantA, actor(adminA), user.id, { name: 'Eve' });
    expect(seen.splice(0)).toEqual(['user.changed']);
    await identity().resetPassword(tenantA, actor(adminA), user.id, {});
    expect(seen.splice(0)).toEqual(['user.changed', 'user.security_stamp_changed:password_reset']);
    await identity().deactivateUser(tenantA, actor(adminA), user.id);
    expect(seen.splice(0)).toEqual(['user.changed', 'user.security_stamp_changed:user_deactivated', 'user.deactivated']);
    fail = true;
    await expect(identity().updateUser(tenantA, actor(adminA), user.id, { name: 'Mallory' })).rejects.toThrow('subscriber failed');
    expect((await identity().readUser(tenantA, user.id)).name).toBe('Eve');
  });

  it('keeps the bootstrap path: createUser and findUserByEmail', async () => {
    const created = await t.app.db.tenantWork(tenantB, (tx) => identity().createUser(tx, tenantB, { email: ' New@B.example ', password: 'x' }));
    const found = await t.app.db.tenantWork(tenantB, (tx) => identity().findUserByEmail(tx, tenantB, 'new@b.example'));
    expect(found?.id).toBe(created.id);
    await expect(t.app.db.tenantWork(tenantB, (tx) => identity().createUser(tx, tenantB, { email: 'NEW@b.example' }))).rejects.toMatchObject({
      code: 'identity.email_taken',
    });
  });
});
