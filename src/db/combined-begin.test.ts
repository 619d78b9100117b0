import { CompiledQuery, type DatabaseConnection, type Dialect, type Driver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type QueryResult, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../test/support/databases.js';
import { newId } from '../kernel/ids.js';
import { combinedBegin, literalPrelude } from './combined-begin.js';
import { type Database, openDatabase, wrapKysely } from './database.js';
import type { DB } from './schema.js';

/** A dialect that answers every statement with no rows and records what the server would have received. */
function recordingDialect(sent: string[], fail?: RegExp): Dialect {
  const connection: DatabaseConnection = {
    executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      sent.push(query.sql);
      if (fail?.test(query.sql)) return Promise.reject(new Error('refused'));
      return Promise.resolve({ rows: [] });
    },
    // eslint-disable-next-line @typescript-eslint/require-await -- Kysely asks for an async iterator; never streamed here
    async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
      throw new Error('not used');
    },
  };
  const driver: Driver = {
    init: () => Promise.resolve(),
    acquireConnection: () => Promise.resolve(connection),
    beginTransaction: async (c) => void (await c.executeQuery(CompiledQuery.raw('begin'))),
    commitTransaction: async (c) => void (await c.executeQuery(CompiledQuery.raw('commit'))),
    rollbackTransaction: async (c) => void (await c.executeQuery(CompiledQuery.raw('rollback'))),
    releaseConnection: () => Promise.resolve(),
    destroy: () => Promise.resolve(),
  };
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => driver,
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}

function recorded(fail?: RegExp) {
  const sent: string[] = [];
  const kysely = new Kysely<DB>({ dialect: combinedBegin(recordingDialect(sent, fail)) });
  return { sent, db: wrapKysely(kysely, 'postgres', () => kysely.destroy()) };
}

describe('a unit of work sends BEGIN with its role and tenant in one round trip', () => {
  const tenant = '0190a0b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b';

  it('a tenant unit of work: BEGIN and both transaction-local settings in one message, then its statements and COMMIT', async () => {
    const { sent, db } = recorded();
    await db.tenantWork(tenant, (tx) => sql`select 1`.execute(tx));
    expect(sent).toEqual([`begin; select set_config('role', 'tessera_app', true), set_config('tessera.tenant_id', '${tenant}', true)`, 'select 1', 'commit']);
  });

  it('a global unit of work: the same, with an empty tenant', async () => {
    const { sent, db } = recorded();
    await db.globalWork((tx) => sql`select 1`.execute(tx));
    expect(sent[0]).toBe(`begin; select set_config('role', 'tessera_app', true), set_config('tessera.tenant_id', '', true)`);
  });

  it('a tenant id that is not a UUID is never written into the statement: BEGIN alone, then the parameterized settings', async () => {
    const hostile = "x', true), set_config('role', 'postgres', false) --";
    expect(literalPrelude('tessera_app', hostile)).toBeUndefined();
    const { sent, db } = recorded();
    await db.tenantWork(hostile, () => Promise.resolve());
    expect(sent).toEqual(['begin', "select set_config('role', $1, true), set_config('tessera.tenant_id', $2, true)", 'commit']);
  });

  it('a failure after the combined message rolls the transaction back; a failing first message too', async () => {
    const first = recorded();
    await expect(first.db.tenantWork(tenant, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(first.sent.slice(1)).toEqual(['rollback']);
    const second = recorded(/^begin; /);
    await expect(second.db.tenantWork(tenant, () => Promise.resolve())).rejects.toThrow('refused');
    expect(second.sent.slice(1)).toEqual(['rollback']);
  });

  it('only the whole prelude goes with the BEGIN: a statement that merely starts like it is sent after a BEGIN of its own', async () => {
    const prelude = literalPrelude('tessera_app', tenant)!;
    const longer = `${prelude}; select 3`;
    const { sent, db } = recorded();
    await db.ownerWork((tx) => sql.raw(longer).execute(tx));
    expect(sent).toEqual(['begin', longer, 'commit']);
    expect(() => literalPrelude("tessera_app', true) --", tenant)).toThrow('not a role name');
  });

  it('an owner transaction whose first statement is something else sends BEGIN alone first', async () => {
    const { sent, db } = recorded();
    await db.ownerWork(async (tx) => {
      await sql`select 2`.execute(tx);
      await db.enterTenant(tx, tenant);
    });
    expect(sent).toEqual(['begin', 'select 2', `select set_config('role', 'tessera_app', true), set_config('tessera.tenant_id', '${tenant}', true)`, 'commit']);
  });
});

// The same on the real engines, on one connection: the settings end with their transaction (committed or rolled back),
// and row-level security confines the unit of work (DESIGN §4; rls.test.ts has the full set).
describe.each(engines())('the combined BEGIN on %s', (engine) => {
  let t: TestDatabase;
  let one: Database;
  const tenantA = newId();
  const tenantB = newId();

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    // One connection, so that the statement after a unit of work runs on the connection that unit of work used.
    one = t.config.kind === 'postgres' ? await openDatabase({ ...t.config, poolMax: 1 }) : t.db;
    for (const [id, email] of [[tenantA, 'a@a.example'], [tenantB, 'b@b.example']] as const) {
      await one.tenantWork(id, async (tx) => {
        await tx.insertInto('tenants').values({ id, name: email }).execute();
        await tx.insertInto('users').values({ tenant_id: id, id: newId(), email }).execute();
      });
    }
  });
  afterAll(async () => {
    if (one !== t.db) await one.close();
    await t.drop();
  });

  const session = async () =>
    (await sql<{ tenant: string | null; role: string }>`select nullif(current_setting('tessera.tenant_id', true), '') as tenant, current_user as role`.execute(one.kysely)).rows[0]!;

  it('runs as the application role with the tenant set, and neither outlives the transaction, committed or rolled back', async () => {
    const inside = await one.tenantWork(tenantA, (tx) => sql<{ tenant: string; role: string }>`select current_setting('tessera.tenant_id') as tenant, current_user as role`.execute(tx));
    expect(inside.rows[0]).toEqual({ tenant: tenantA, role: 'tessera_app' });
    const after = await session();
    expect(after.tenant).toBeNull();
    expect(after.role).not.toBe('tessera_app');
    await expect(one.tenantWork(tenantA, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const afterRollback = await session();
    expect(afterRollback.tenant).toBeNull();
    expect(afterRollback.role).not.toBe('tessera_app');
  });

  it('row-level security still confines the unit of work to its tenant', async () => {
    const users = await one.tenantWork(tenantB, (tx) => tx.selectFrom('users').select(['email', 'tenant_id']).execute());
    expect(users).toEqual([{ email: 'b@b.example', tenant_id: tenantB }]);
    expect(await one.globalWork((tx) => tx.selectFrom('users').select('id').execute())).toEqual([]);
  });

  it('a write and the BEGIN it came with are one transaction: a failure rolls the write back', async () => {
    const id = newId();
    await expect(
      one.tenantWork(tenantA, async (tx) => {
        await tx.insertInto('users').values({ tenant_id: tenantA, id, email: 'gone@a.example' }).execute();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await one.tenantWork(tenantA, (tx) => tx.selectFrom('users').select('id').where('id', '=', id).execute())).toEqual([]);
  });
});
