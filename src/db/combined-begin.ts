import { CompiledQuery, type DatabaseConnection, type Dialect, type Driver, type QueryResult, type TransactionSettings } from 'kysely';

/**
 * The first round trip of a unit of work: BEGIN and the statement that makes the transaction the application role's
 * for one tenant (database.ts `asAppRole`) go to the server as one simple-protocol message,
 * `begin; select set_config('role', …, true), set_config('tessera.tenant_id', …, true)` — one round trip where they
 * were two (PostgreSQL protocol, "Simple Query": a query string may hold several statements, run in order; an
 * explicit BEGIN makes them part of the transaction it opens, so a failing SET aborts that transaction as before).
 * Both settings stay transaction-local (`set_config(…, true)`), so nothing leaks into the next unit of work.
 *
 * The simple protocol carries no parameters, so the prelude is written with literals: the role is a constant and
 * the tenant id is sent that way only when it is a UUID (or empty, for a global unit of work): a value made of hex
 * digits and dashes cannot end the quoted literal. Any other tenant id takes the parameterized statement after a
 * BEGIN of its own, exactly as before.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The parameterless prelude for `role` and `tenantId` (null: no tenant), or undefined when it must take parameters. */
export function literalPrelude(role: string, tenantId: string | null): string | undefined {
  if (!ROLE.test(role)) throw new Error(`not a role name: ${JSON.stringify(role)}`);
  if (tenantId !== null && !UUID.test(tenantId)) return undefined;
  return `${PRELUDE_HEAD}'${role}', true), set_config('tessera.tenant_id', '${tenantId ?? ''}', true)`;
}

const PRELUDE_HEAD = "select set_config('role', ";
/** A role name written as a literal: a plain lower-case identifier. */
const ROLE = /^[a-z_][a-z0-9_]*$/;
/** Exactly what `literalPrelude` writes, whole: only that statement is sent together with the BEGIN. */
const PRELUDE = /^select set_config\('role', '[a-z_][a-z0-9_]*', true\), set_config\('tessera\.tenant_id', '(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?', true\)$/i;

/**
 * Wraps a dialect so that its transactions send BEGIN late: with a literal prelude (above) as their first statement,
 * in one message; before any other first statement, alone, as before. A transaction that ran no statement sends
 * neither BEGIN nor its COMMIT/ROLLBACK (there is nothing to end). Transactions with settings (isolation level,
 * access mode) begin at once, as the dialect does.
 */
export function combinedBegin(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new CombinedBeginDriver(dialect.createDriver()),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
  };
}

class LateBeginConnection implements DatabaseConnection {
  /** The BEGIN not sent yet: the transaction has begun for the caller, not yet on the server. */
  pending = false;
  constructor(readonly inner: DatabaseConnection) {}

  async flush(): Promise<void> {
    if (!this.pending) return;
    this.pending = false;
    await this.inner.executeQuery(CompiledQuery.raw('begin'));
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    if (this.pending && query.parameters.length === 0 && PRELUDE.test(query.sql)) {
      this.pending = false;
      // The prelude's result is not read (asAppRole discards it); the drivers differ in what a script returns.
      await this.inner.executeQuery(CompiledQuery.raw(`begin; ${query.sql}`));
      return { rows: [] };
    }
    await this.flush();
    return this.inner.executeQuery<R>(query);
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    await this.flush();
    yield* this.inner.streamQuery<R>(query, chunkSize);
  }
}

class CombinedBeginDriver implements Driver {
  readonly #inner: Driver;
  readonly #wrapped = new WeakMap<DatabaseConnection, LateBeginConnection>();
  constructor(inner: Driver) {
    this.#inner = inner;
  }
  init(): Promise<void> {
    return this.#inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const inner = await this.#inner.acquireConnection();
    let wrapped = this.#wrapped.get(inner);
    if (!wrapped) this.#wrapped.set(inner, (wrapped = new LateBeginConnection(inner)));
    return wrapped;
  }
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = connection as LateBeginConnection;
    if (settings.isolationLevel || settings.accessMode) return this.#inner.beginTransaction(c.inner, settings);
    c.pending = true;
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as LateBeginConnection;
    if (c.pending) c.pending = false;
    else await this.#inner.commitTransaction(c.inner);
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as LateBeginConnection;
    if (c.pending) c.pending = false;
    else await this.#inner.rollbackTransaction(c.inner);
  }
  async savepoint(...[connection, ...rest]: Parameters<NonNullable<Driver['savepoint']>>): Promise<void> {
    const c = connection as LateBeginConnection;
    if (!this.#inner.savepoint) throw new Error('savepoints are not supported on this database');
    await c.flush();
    await this.#inner.savepoint(c.inner, ...rest);
  }
  async rollbackToSavepoint(...[connection, ...rest]: Parameters<NonNullable<Driver['rollbackToSavepoint']>>): Promise<void> {
    const c = connection as LateBeginConnection;
    if (!this.#inner.rollbackToSavepoint) throw new Error('savepoints are not supported on this database');
    await c.flush();
    await this.#inner.rollbackToSavepoint(c.inner, ...rest);
  }
  async releaseSavepoint(...[connection, ...rest]: Parameters<NonNullable<Driver['releaseSavepoint']>>): Promise<void> {
    const c = connection as LateBeginConnection;
    if (!this.#inner.releaseSavepoint) throw new Error('savepoints are not supported on this database');
    await c.flush();
    await this.#inner.releaseSavepoint(c.inner, ...rest);
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    const c = connection as LateBeginConnection;
    // A connection never goes back to the pool with a BEGIN owed (kysely commits or rolls back first).
    c.pending = false;
    return this.#inner.releaseConnection(c.inner);
  }
  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}
