import { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, Kysely, PostgresDialect, type Transaction, sql } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/config.schema.js';
import { combinedBegin, literalPrelude } from './combined-begin.js';
import { secureDataDir, tightenDataDir } from './data-dir.js';
import { PGliteDialect } from './pglite-dialect.js';
import { parseTimestamptz, TIMESTAMPTZ } from './timestamps.js';
import type { DB } from './schema.js';

export type Tx = Transaction<DB>;
export type Engine = 'pglite' | 'postgres';

/** The non-owner role requests run as, so row-level security applies to them (DESIGN §4). */
export const APP_ROLE = 'tessera_app';

/**
 * SQL functions that run as the application role whoever calls them (`SET role = tessera_app` in their definition,
 * SECURITY INVOKER) and scope the tenant they are handed to themselves: the only calls `Database.callAppFunction`
 * sends (src/db/rls.test.ts checks each definition).
 */
export const APP_ROLE_FUNCTIONS = ['tessera_refresh_rotate'] as const;
export type AppRoleFunction = (typeof APP_ROLE_FUNCTIONS)[number];

/**
 * Each function's parameter types, cast at the call: the owner sends these statements, and an untyped call resolves
 * by name among every overload on the search path, where PostgreSQL prefers a `text` overload for unknown-typed
 * arguments (PostgreSQL manual, "Type Conversion: Functions", §10.3) — so a look-alike created by a role with CREATE on
 * a schema of the path would run as the owner. With every argument cast, only the exact signature matches.
 */
const APP_ROLE_FUNCTION_ARGS: Readonly<Record<AppRoleFunction, readonly string[]>> = {
  tessera_refresh_rotate: ['uuid', 'bytea', 'timestamptz', 'bytea', 'bytea'],
};

/**
 * The one statement that calls an application-role function: its text is fixed per function (every argument a
 * parameter cast to its type, above), so it is written once here and, on PostgreSQL, prepared once per connection.
 */
function appFunctionCall(name: AppRoleFunction, args: readonly unknown[]): string {
  if (!APP_ROLE_FUNCTIONS.includes(name)) throw new Error(`${name} is not an application-role function`);
  const types = APP_ROLE_FUNCTION_ARGS[name];
  if (args.length !== types.length) throw new Error(`${name} takes ${types.length} arguments, not ${args.length}`);
  return APP_FUNCTION_TEXT[name];
}

const APP_FUNCTION_TEXT = Object.fromEntries(
  APP_ROLE_FUNCTIONS.map((name) => [name, `select * from "${name}"(${APP_ROLE_FUNCTION_ARGS[name].map((type, i) => `$${i + 1}::${type}`).join(', ')})`]),
) as Record<AppRoleFunction, string>;

/** The prepared statement's name for an application-role function's call (one per function and connection). */
const appFunctionStatement = (name: AppRoleFunction) => `tessera_call_${name}`;

/**
 * A statement prepared before a migration changed what it returns fails once per connection with "cached plan must
 * not change result type" (SQLSTATE 0A000, PostgreSQL's plan-cache rule). The connection it failed on is discarded
 * (released with the error), so the statement is retried — at most once per connection the pool can hold.
 */
async function retryStalePlan<R>(connections: number, once: () => Promise<R>): Promise<R> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await once();
    } catch (error) {
      if (!isStalePlan(error) || attempt >= connections) throw error;
    }
  }
}

/**
 * Only that error: SQLSTATE 0A000 is "feature not supported" in general, so the reporting routine (plancache.c
 * `RevalidateCachedQuery`, the same in every locale) names it, or, where a server does not send the routine, the
 * message of an English-language server.
 */
function isStalePlan(error: unknown): boolean {
  const e = error as { code?: unknown; routine?: unknown; message?: unknown };
  if (e.code !== '0A000') return false;
  return e.routine === 'RevalidateCachedQuery' || (e.routine === undefined && typeof e.message === 'string' && e.message.includes('cached plan must not change result type'));
}

export interface Database {
  readonly engine: Engine;
  /** The owner's handle: migrations and operator commands only, never request handling. */
  readonly kysely: Kysely<DB>;
  /**
   * A unit of work for one tenant: a transaction running as the application role with
   * `tessera.tenant_id` set for its duration, so row-level security admits only that tenant's rows.
   */
  tenantWork<T>(tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** A transaction as the application role with no tenant: global tables only (signing keys, health). */
  globalWork<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** A transaction as the owner, across tenants: for operator commands (migrate, bootstrap, keys rotate). */
  ownerWork<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Drops an owner transaction to the application role for one tenant, for the rest of that transaction. */
  enterTenant(tx: Tx, tenantId: string): Promise<void>;
  /**
   * One call of an application-role function (APP_ROLE_FUNCTIONS) as a statement of its own, in the transaction
   * PostgreSQL gives a single statement: one round trip, where a unit of work adds BEGIN, the role switch and
   * COMMIT. The function switches to the application role and sets the tenant itself, so row-level security
   * applies to it as in `tenantWork`; nothing else is sent this way (it would run as the owner).
   */
  callAppFunction<R>(name: AppRoleFunction, args: readonly unknown[]): Promise<R[]>;
  close(): Promise<void>;
  /**
   * PostgreSQL: single read statements as the application role with no tenant (global reads and SECURITY DEFINER
   * functions, exactly what `globalWork` admits), on connections kept for them (the per-request session read,
   * DESIGN §3 step 2). One round trip each: no BEGIN/COMMIT (a single statement is its own transaction, and its
   * snapshot is taken when it starts), and the statement is prepared once per connection under `name`.
   * Absent on the embedded database.
   */
  readonly appReads?: AppReads;
  /** PostgreSQL: the connection pool's use now (the operator's metrics); absent on the embedded database. */
  poolStats?(): { readonly total: number; readonly idle: number; readonly waiting: number; readonly max: number };
  /** Embedded database: a consistent snapshot of the data directory (gzip tarball); absent on PostgreSQL. */
  snapshot?(): Promise<Buffer>;
}

export interface AppReads {
  /** How many statements can run at once (one per connection). */
  readonly connections: number;
  query<R>(name: string, text: string, values: readonly unknown[]): Promise<R[]>;
}

/**
 * Connections whose session runs as the application role (`SET ROLE` for the life of the connection, not per
 * transaction), so row-level security applies to every statement on them; the pool is private to AppReads and
 * nothing else can reset the role on its connections.
 */
function appReadsPool(url: string | undefined, connections: number, parsers: TypeParsers): AppReads & { end(): Promise<void> } {
  // timestamptz through the fast path of parseTimestamptz: these connections' TimeZone is UTC (set below).
  const types = { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === TIMESTAMPTZ && format !== 'binary' ? parseTimestamptz : parsers.getTypeParser(oid, format)) };
  const pool = new pg.Pool({ connectionString: url, max: connections, application_name: 'tessera-session-read', types });
  pool.on('error', () => {});
  const ready = new WeakSet<pg.PoolClient>();
  return {
    connections,
    query<R>(name: string, text: string, values: readonly unknown[]): Promise<R[]> {
      // A connection whose prepared statement went stale is discarded below (`once`), and the read retried.
      return retryStalePlan(connections, () => once<R>(name, text, values));
    },
    end: () => pool.end(),
  };

  async function once<R>(name: string, text: string, values: readonly unknown[]): Promise<R[]> {
    const client = await pool.connect();
    try {
      if (!ready.has(client)) {
        await client.query(`select set_config('role', '${APP_ROLE}', false), set_config('tessera.tenant_id', '', false), set_config('TimeZone', 'UTC', false)`);
        ready.add(client);
      }
      const result = await client.query<R & pg.QueryResultRow>({ name, text, values: values as unknown[] });
      client.release();
      return result.rows;
    } catch (error) {
      // A connection that failed mid-statement is not reused (its state is unknown).
      client.release(error instanceof Error ? error : true);
      throw error;
    }
  }
}

function asAppRole(tenantId: string | null) {
  // set_config(..., true) is transaction-local: nothing leaks into the next unit of work on this connection.
  // As a transaction's first statement, the literal form goes out with its BEGIN in one round trip (combined-begin.ts).
  const literal = literalPrelude(APP_ROLE, tenantId);
  if (literal !== undefined) return sql.raw(literal);
  return sql`select set_config('role', ${APP_ROLE}, true), set_config('tessera.tenant_id', ${tenantId ?? ''}, true)`;
}

export function wrapKysely(kysely: Kysely<DB>, engine: Engine, close: () => Promise<void>): Database {
  return {
    engine,
    kysely,
    tenantWork(tenantId, fn) {
      return kysely.transaction().execute(async (tx) => {
        await asAppRole(tenantId).execute(tx);
        return fn(tx);
      });
    },
    globalWork(fn) {
      return kysely.transaction().execute(async (tx) => {
        await asAppRole(null).execute(tx);
        return fn(tx);
      });
    },
    ownerWork(fn) {
      return kysely.transaction().execute(fn);
    },
    async enterTenant(tx, tenantId) {
      await asAppRole(tenantId).execute(tx);
    },
    async callAppFunction<R>(name: AppRoleFunction, args: readonly unknown[]): Promise<R[]> {
      const result = await kysely.executeQuery<R>(CompiledQuery.raw(appFunctionCall(name, args), [...args]));
      return result.rows;
    },
    close,
  };
}

const INT8 = 20;

interface TypeParsers {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown;
}

/** Opens the configured database: PGlite in `dataDir` (or in memory for `memory://`), or a pg pool. */
export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  if (config.kind === 'postgres') {
    // int8 as number: our int8 columns (sequences, counts) stay far below 2^53.
    const types: TypeParsers = { getTypeParser: (oid, format) => (oid === INT8 ? Number : (pg.types.getTypeParser(oid, format) as (value: string) => unknown)) };
    const pool = new pg.Pool({ connectionString: config.url, max: config.poolMax, application_name: 'tessera', types });
    // An idle client whose connection the server closed (restart, failover, an administrator) is discarded
    // by the pool, which opens a new one on demand; without a listener that event would crash the process.
    pool.on('error', () => {});
    const kysely = new Kysely<DB>({ dialect: combinedBegin(new PostgresDialect({ pool })) });
    const max = config.poolMax;
    const appReads = appReadsPool(config.url, config.sessionReaders ?? 4, types);
    // Closing twice (a caller's cleanup after a failure path already closed it) is one close: pg refuses a second end().
    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        await appReads.end();
        await kysely.destroy();
      })());
    return {
      ...wrapKysely(kysely, 'postgres', close),
      // On the pool itself, as a statement prepared once per connection: a refresh's one statement (migration 0030)
      // is neither parsed nor planned again by PostgreSQL, nor built by kysely (BENCHMARKS.md, "Refresh: where the
      // time goes"). pg-pool releases a connection that failed with the error, so a stale plan's is discarded.
      async callAppFunction<R>(name: AppRoleFunction, args: readonly unknown[]): Promise<R[]> {
        const text = appFunctionCall(name, args);
        const query = { name: appFunctionStatement(name), text, values: args as unknown[] };
        return retryStalePlan(max, async () => (await pool.query<R & pg.QueryResultRow>(query)).rows);
      },
      appReads,
      poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max }),
    };
  }
  const inMemory = config.dataDir.startsWith('memory://');
  if (inMemory) return fromPGlite(await PGlite.create(undefined, PGLITE_OPTIONS));
  secureDataDir(config.dataDir);
  const pgl = await PGlite.create(`${config.dataDir}/pgdata`, PGLITE_OPTIONS);
  tightenDataDir(config.dataDir);
  return fromPGlite(pgl);
}

/** Options every embedded database is opened with (type parsers aligned with the pg pool's). */
export const PGLITE_OPTIONS = { parsers: { [INT8]: (value: string) => Number(value) } };

/** Wraps an open PGlite instance (for example one loaded from a data-directory dump) as a Database. */
export function fromPGlite(pgl: PGlite): Database {
  const kysely = new Kysely<DB>({ dialect: combinedBegin(new PGliteDialect(pgl)) });
  const db = wrapKysely(kysely, 'pglite', async () => {
    await kysely.destroy();
    await pgl.close();
  });
  return {
    ...db,
    /**
     * Taken while no transaction is open (PGlite's transaction lock) and no statement runs (dumpDataDir holds the
     * query lock): the files hold every committed change (in the data files, or in the WAL that PostgreSQL replays
     * when the copy is opened) and no transaction half-done. The CHECKPOINT before it flushes the data files, so
     * little WAL is replayed. Requests wait while the files are copied (docs/runbook.md).
     */
    async snapshot() {
      await pgl.exec('CHECKPOINT');
      const dump = await pgl._runExclusiveTransaction(() => pgl.dumpDataDir('gzip'));
      return Buffer.from(await dump.arrayBuffer());
    },
  };
}
