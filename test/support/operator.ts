import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createServices } from '../../src/app.js';
import { createMasterKeys } from '../../src/crypto/master-key.js';
import { type Database, type Engine, openDatabase, PGLITE_OPTIONS } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrator.js';
import { testConfig } from './app.js';
import { createTestDatabase, pgliteDump } from './databases.js';

/**
 * A database an operator command can be pointed at (an embedded data directory, or a PostgreSQL database),
 * migrated and bootstrapped with one tenant, for suites that run the real `tessera` command on it.
 */
export interface OperatorDatabase {
  /** The environment the command runs with. */
  readonly env: Record<string, string>;
  /** Opens the same database from the test (close it before the next command on the embedded engine). */
  readonly open: () => Promise<Database>;
  /** Removes the data directory or drops the PostgreSQL database. */
  readonly drop: () => Promise<void>;
  readonly tenantId: string;
  readonly accountId: string;
}

export async function bootstrappedOperatorDatabase(engine: Engine): Promise<OperatorDatabase> {
  const masterKey = randomBytes(32).toString('base64');
  let env: Record<string, string>;
  let open: () => Promise<Database>;
  let drop = async () => {};
  if (engine === 'pglite') {
    const dir = mkdtempSync(path.join(tmpdir(), 'tessera-operator-'));
    try {
      // The data directory (`<dir>/pgdata`, where openDatabase keeps it) starts from the run's cached dump of a
      // migrated database (databases.ts): about 2.5 s of CPU against 5 to 7 s for initdb and every migration on
      // disk; migrate() below then finds nothing to do. The commands under test open it as they would any other.
      const seed = await PGlite.create(path.join(dir, 'pgdata'), { ...PGLITE_OPTIONS, loadDataDir: await pgliteDump(true) });
      await seed.close();
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    env = { TESSERA_DATA_DIR: dir, TESSERA_MASTER_KEY: masterKey };
    open = () => openDatabase({ kind: 'pglite', dataDir: dir, poolMax: 1 });
    drop = () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    };
  } else {
    // A copy of the run's migrated template (databases.ts); migrate() below then finds nothing to do.
    const t = await createTestDatabase('postgres');
    await t.db.close();
    const url = t.config.url!;
    env = { DATABASE_URL: url, TESSERA_MASTER_KEY: masterKey };
    open = () => openDatabase({ kind: 'postgres', url, dataDir: 'memory://', poolMax: 2 });
    drop = () => t.drop();
  }
  let db: Database | undefined;
  try {
    db = await open();
    await migrate(db);
    const services = createServices({ config: testConfig(env), db, masterKeys: createMasterKeys(Buffer.from(masterKey, 'base64')) });
    await services.keys.ensureSigningKey();
    const { tenantId, accountId } = await services.bootstrap.bootstrap({
      tenantName: 'Acme',
      accountName: 'Main',
      email: 'root@acme.example',
      password: 'correct horse battery staple',
    });
    return { env, open, drop, tenantId, accountId };
  } catch (error) {
    // The suite's afterAll never learns of a database it was not handed: remove it here.
    await db?.close();
    db = undefined;
    await drop();
    throw error;
  } finally {
    await db?.close();
  }
}
