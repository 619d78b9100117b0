import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config/config.schema.js';
import { type Database, type Engine, openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrator.js';

/** The engines a storage suite runs on: PGlite always, PostgreSQL when TESSERA_TEST_DATABASE_URL is set. */
export function engines(): Engine[] {
  return process.env.TESSERA_TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

export interface TestDatabase {
  readonly engine: Engine;
  readonly config: DatabaseConfig;
  readonly db: Database;
  /** Closes the handle and drops the suite's database. */
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TESSERA_TEST_DATABASE_URL;
  if (!url) throw new Error('TESSERA_TEST_DATABASE_URL is not set');
  return url;
}

/** A fresh, empty database for one suite: in-memory PGlite, or a new PostgreSQL database dropped afterwards. */
export async function createTestDatabase(engine: Engine, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  let config: DatabaseConfig;
  let cleanup = async () => {};
  if (engine === 'pglite') {
    config = { kind: 'pglite', dataDir: 'memory://', poolMax: 1 };
  } else {
    const name = `tessera_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl() });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(adminUrl());
    url.pathname = `/${name}`;
    config = { kind: 'postgres', url: url.toString(), dataDir: 'memory://', poolMax: 5 };
    cleanup = async () => {
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  const db = await openDatabase(config);
  if (options.migrate !== false) await migrate(db);
  return {
    engine,
    config,
    db,
    async drop() {
      await db.close();
      await cleanup();
    },
  };
}
