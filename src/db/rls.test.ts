import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../test/support/databases.js';
import { newId } from '../kernel/ids.js';
import { APP_ROLE_FUNCTIONS } from './database.js';

// DESIGN §4: tenant isolation twice. These tests forget the tenant filter on purpose and prove that
// row-level security alone still confines a unit of work to its own tenant.
describe.each(engines())('row-level security [%s]', (engine) => {
  let t: TestDatabase;
  const tenantA = newId();
  const tenantB = newId();
  const accountA = newId();
  const accountB = newId();

  async function seed(tenantId: string, accountId: string, email: string) {
    await t.db.tenantWork(tenantId, async (tx) => {
      await tx.insertInto('tenants').values({ id: tenantId, name: `tenant ${email}` }).execute();
      await tx.insertInto('accounts').values({ id: accountId, name: `account ${email}` }).execute();
      await tx.insertInto('account_tenants').values({ tenant_id: tenantId, account_id: accountId }).execute();
      await tx.insertInto('users').values({ tenant_id: tenantId, id: newId(), email }).execute();
      await tx.insertInto('roles').values({ account_id: accountId, id: newId(), name: 'Role', permissions: [] }).execute();
    });
  }

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    await seed(tenantA, accountA, 'a@a.example');
    await seed(tenantB, accountB, 'b@b.example');
  });
  afterAll(() => t.drop());

  it('a query without the tenant filter sees only its own tenant', async () => {
    const users = await t.db.tenantWork(tenantA, (tx) => tx.selectFrom('users').select(['email', 'tenant_id']).execute());
    expect(users).toEqual([{ email: 'a@a.example', tenant_id: tenantA }]);
    const tenants = await t.db.tenantWork(tenantB, (tx) => tx.selectFrom('tenants').select('id').execute());
    expect(tenants).toEqual([{ id: tenantB }]);
  });

  it('the principal projection (the user_principals view, security_invoker) sees only its own tenant too', async () => {
    const principals = await t.db.tenantWork(tenantA, (tx) => tx.selectFrom('user_principals').select(['email', 'tenant_id']).execute());
    expect(principals).toEqual([{ email: 'a@a.example', tenant_id: tenantA }]);
  });

  it('account-owned rows are visible only to tenants linked to the account', async () => {
    const roles = await t.db.tenantWork(tenantA, (tx) => tx.selectFrom('roles').select('account_id').execute());
    expect(roles).toEqual([{ account_id: accountA }]);
    const accounts = await t.db.tenantWork(tenantB, (tx) => tx.selectFrom('accounts').select('id').execute());
    expect(accounts).toEqual([{ id: accountB }]);
  });

  it('an unfiltered UPDATE or DELETE cannot touch another tenant', async () => {
    await t.db.tenantWork(tenantA, async (tx) => {
      const updated = await tx.updateTable('users').set({ name: 'changed' }).executeTakeFirst();
      expect(Number(updated.numUpdatedRows)).toBe(1);
      await tx.deleteFrom('roles').execute();
    });
    const [userB] = await t.db.tenantWork(tenantB, (tx) => tx.selectFrom('users').select('name').execute());
    expect(userB?.name).toBeNull();
    const rolesB = await t.db.tenantWork(tenantB, (tx) => tx.selectFrom('roles').select('id').execute());
    expect(rolesB).toHaveLength(1);
  });

  it("refuses to write a row into another tenant from a tenant's unit of work", async () => {
    await expect(
      t.db.tenantWork(tenantA, (tx) => tx.insertInto('users').values({ tenant_id: tenantB, id: newId(), email: 'intruder@b.example' }).execute()),
    ).rejects.toThrow(/row-level security/);
    await expect(
      t.db.tenantWork(tenantA, (tx) => tx.insertInto('roles').values({ account_id: accountB, id: newId(), name: 'Intruder', permissions: [] }).execute()),
    ).rejects.toThrow(/row-level security/);
  });

  it('outside a tenant unit of work the application role sees no tenant rows at all', async () => {
    const users = await t.db.globalWork((tx) => tx.selectFrom('users').select('id').execute());
    expect(users).toEqual([]);
  });

  it('requests run as a role that is neither superuser, owner, nor able to bypass RLS', async () => {
    const who = await t.db.tenantWork(tenantA, (tx) =>
      sql<{ current_user: string; rolsuper: boolean; rolbypassrls: boolean; owns: boolean }>`
        select current_user, r.rolsuper, r.rolbypassrls,
               exists (select 1 from pg_tables where tableowner = current_user) as owns
        from pg_roles r where r.rolname = current_user`.execute(tx),
    );
    expect(who.rows[0]).toEqual({ current_user: 'tessera_app', rolsuper: false, rolbypassrls: false, owns: false });
    await expect(t.db.tenantWork(tenantA, (tx) => sql`alter table users disable row level security`.execute(tx))).rejects.toThrow('must be owner of table users');
  });

  it('the tenant setting does not outlive its transaction', async () => {
    await t.db.tenantWork(tenantA, () => Promise.resolve(undefined));
    const after = await t.db.kysely.executeQuery<{ tenant: string | null; role: string }>(
      sql`select nullif(current_setting('tessera.tenant_id', true), '') as tenant, current_user as role`.compile(t.db.kysely),
    );
    expect(after.rows[0]?.tenant ?? null).toBeNull();
    expect(after.rows[0]?.role).not.toBe('tessera_app');
  });

  // Database.callAppFunction sends these outside any unit of work, on the owner's connections: each must put itself
  // under row-level security (run as tessera_app, never as its owner) and scope the tenant it sets to itself.
  it.each(APP_ROLE_FUNCTIONS)('%s runs as the application role (SECURITY INVOKER, SET role), never as its owner', async (name) => {
    const defs = await t.db.kysely.executeQuery<{ definer: boolean; config: string[] | null; public_exec: boolean }>(
      sql`select prosecdef as definer, proconfig as config, has_function_privilege('public', oid, 'execute') as public_exec from pg_proc where proname = ${name}`.compile(t.db.kysely),
    );
    expect(defs.rows).toHaveLength(1);
    expect(defs.rows[0]).toMatchObject({ definer: false, public_exec: false });
    expect(defs.rows[0]!.config).toEqual(expect.arrayContaining(['role=tessera_app']));
  });

  it('tessera_refresh_rotate finds only the tenant it is handed, leaves the caller role and tenant as they were, and refuses another tenant than its unit of work', async () => {
    const [userA, session, hash] = [newId(), newId(), Buffer.alloc(32, 7)];
    const at = new Date('2026-01-01T00:00:00Z');
    await t.db.tenantWork(tenantA, async (tx) => {
      await tx.insertInto('users').values({ tenant_id: tenantA, id: userA, email: 'rotate@a.example' }).execute();
      await tx.insertInto('sessions').values({ tenant_id: tenantA, id: session, user_id: userA, account_id: accountA, amr: ['pwd'], created_at: at, last_seen_at: at, expires_at: new Date(at.getTime() + 3600_000), auth_time: at }).execute();
      await tx.insertInto('refresh_tokens').values({ tenant_id: tenantA, token_hash: hash, session_id: session, created_at: at, expires_at: new Date(at.getTime() + 600_000) }).execute();
    });
    const call = (tenant: string) => sql<{ outcome: string }>`select outcome from tessera_refresh_rotate(${tenant}, ${hash}, ${at}, ${Buffer.alloc(32, 8)}, ${Buffer.alloc(8)})`;
    // Tenant A's token presented under tenant B is unknown, and nothing of A's changes.
    const asB = await t.db.callAppFunction<{ outcome: string }>('tessera_refresh_rotate', [tenantB, hash, at, Buffer.alloc(32, 8), Buffer.alloc(8)]);
    expect(asB.map((r) => r.outcome)).toEqual(['unknown']);
    // Inside tenant B's unit of work, tenant A is refused: the function is no way out of a unit of work's tenant.
    await expect(t.db.tenantWork(tenantB, (tx) => call(tenantA).execute(tx))).rejects.toThrow(/another tenant/);
    // Called inside an owner transaction that set no tenant, and inside tenant A's unit of work: the caller's role
    // and tenant are the same afterwards.
    const inside = await t.db.ownerWork(async (tx) => {
      const before = await sql<{ role: string; tenant: string }>`select current_user as role, current_setting('tessera.tenant_id', true) as tenant`.execute(tx);
      const outcome = (await call(tenantA).execute(tx)).rows[0]?.outcome;
      const after = await sql<{ role: string; tenant: string }>`select current_user as role, current_setting('tessera.tenant_id', true) as tenant`.execute(tx);
      return { before: before.rows[0], outcome, after: after.rows[0] };
    });
    expect(inside.outcome).toBe('rotated');
    expect(inside.after).toEqual(inside.before);
    const inA = await t.db.tenantWork(tenantA, async (tx) => {
      const outcome = (await call(tenantA).execute(tx)).rows[0]?.outcome;
      const after = await sql<{ role: string; tenant: string }>`select current_user as role, current_setting('tessera.tenant_id', true) as tenant`.execute(tx);
      return { outcome, after: after.rows[0] };
    });
    expect(inA).toEqual({ outcome: 'spent', after: { role: 'tessera_app', tenant: tenantA } });
    const rows = await t.db.tenantWork(tenantA, (tx) => tx.selectFrom('refresh_tokens').select(['token_hash', 'rotated_at']).where('session_id', '=', session).execute());
    expect(rows).toHaveLength(2);
  });

  // On PostgreSQL callAppFunction's statement is prepared once per connection. A migration that changes what the
  // function returns makes each connection's prepared plan stale once (SQLSTATE 0A000, "cached plan must not change
  // result type"): the call is prepared again on a fresh connection, never answered with that error.
  it.runIf(engine === 'postgres')('callAppFunction prepares its statement again after a migration changed what the function returns', async () => {
    const signature = 'tessera_refresh_rotate(uuid, bytea, timestamptz, bytea, bytea)';
    const call = () => t.db.callAppFunction<{ outcome: string; probe?: number }>('tessera_refresh_rotate', [tenantB, Buffer.alloc(32, 11), new Date(), Buffer.alloc(32, 12), Buffer.alloc(8)]);
    const connections = t.db.poolStats!().max;
    // As many calls at once as the pool has connections: each connection prepares the statement.
    await Promise.all(Array.from({ length: connections }, call));
    expect(t.db.poolStats!().total).toBe(connections);
    await t.db.ownerWork(async (tx) => {
      await sql.raw(`alter function ${signature} rename to tessera_refresh_rotate_kept`).execute(tx);
      // The same parameters, one more result column.
      await sql
        .raw(
          `create function tessera_refresh_rotate(p_tenant uuid, p_hash bytea, p_now timestamptz, p_successor_hash bytea, p_successor_enc bytea)
             returns table (outcome text, probe int) language sql set role = tessera_app as $$ select 'unknown'::text, 2 $$`,
        )
        .execute(tx);
    });
    try {
      const answers = await Promise.all(Array.from({ length: connections }, call));
      for (const rows of answers) expect(rows).toEqual([{ outcome: 'unknown', probe: 2 }]);
    } finally {
      await t.db.ownerWork(async (tx) => {
        await sql.raw(`drop function ${signature}`).execute(tx);
        await sql.raw(`alter function tessera_refresh_rotate_kept(uuid, bytea, timestamptz, bytea, bytea) rename to tessera_refresh_rotate`).execute(tx);
      });
    }
    // The migration undone: the kept function answers again (its statement prepared a third time).
    expect((await call()).map((r) => r.outcome)).toEqual(['unknown']);
  });

  // The owner sends callAppFunction's statement: with untyped arguments PostgreSQL would resolve the name among all
  // overloads and prefer a text one (manual §10.3), so a look-alike created by anyone with CREATE on a schema of the
  // search path would run as the owner. Every argument is cast to the function's own parameter types.
  it('callAppFunction calls the exact signature, never a look-alike overload taking text', async () => {
    await t.db.kysely.executeQuery(
      sql`create function tessera_refresh_rotate(text, text, text, text, text) returns table (outcome text) language sql as $$ select 'impostor'::text $$`.compile(t.db.kysely),
    );
    try {
      const rows = await t.db.callAppFunction<{ outcome: string }>('tessera_refresh_rotate', [tenantB, Buffer.alloc(32, 9), new Date(), Buffer.alloc(32, 10), Buffer.alloc(8)]);
      expect(rows.map((r) => r.outcome)).toEqual(['unknown']);
    } finally {
      await t.db.kysely.executeQuery(sql`drop function tessera_refresh_rotate(text, text, text, text, text)`.compile(t.db.kysely));
    }
  });
});
