import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config/config.schema.js';
import { type Database, type Engine, fromPGlite, openDatabase, PGLITE_OPTIONS } from '../../src/db/database.js';
import { knownMigrations, migrate } from '../../src/db/migrator.js';

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

/**
 * Starting PGlite and running initdb plus every migration costs seconds; loading a dump of an already
 * migrated data directory costs a fraction of that. The dump is cached on disk, keyed by the migrations'
 * checksums and the PGlite version, and shared by every test process and every run: it lives in
 * `node_modules/.cache/tessera/pglite-dumps` (where build tools keep their caches, cleared with a fresh
 * install), not in the temp dir, which a run must leave as it found it (see global-setup.ts).
 */
const DUMP_DIR = fileURLToPath(new URL('../../node_modules/.cache/tessera/pglite-dumps/', import.meta.url));

const dumps = new Map<string, Promise<Blob>>();

export function pgliteDump(migrated: boolean): Promise<Blob> {
  const version = (JSON.parse(readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const key = createHash('sha256')
    .update(version)
    .update(migrated ? knownMigrations().map((m) => m.checksum).join(',') : 'empty')
    .digest('hex')
    .slice(0, 16);
  let dump = dumps.get(key);
  if (!dump) {
    dump = (async () => {
      const dir = DUMP_DIR;
      const file = path.join(dir, `${key}.tar`);
      try {
        return new Blob([readFileSync(file)]);
      } catch {
        const pgl = await PGlite.create(PGLITE_OPTIONS);
        if (migrated) await migrate(fromPGlite(pgl));
        const blob = await pgl.dumpDataDir('none');
        await pgl.close();
        mkdirSync(dir, { recursive: true });
        const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
        writeFileSync(partial, Buffer.from(await blob.arrayBuffer()));
        renameSync(partial, file);
        return blob;
      }
    })();
    dumps.set(key, dump);
  }
  return dump;
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
  const migrated = options.migrate !== false;
  let db: Database;
  if (engine === 'pglite') {
    db = fromPGlite(await PGlite.create({ ...PGLITE_OPTIONS, loadDataDir: await pgliteDump(migrated) }));
  } else {
    db = await openDatabase(config);
    try {
      if (migrated) await migrate(db);
    } catch (error) {
      // The caller never gets the handle that would drop it.
      await db.close();
      await cleanup();
      throw error;
    }
  }
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
