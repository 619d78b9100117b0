import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config/config.schema.js';
import { type Database, type Engine, fromPGlite, openDatabase, PGLITE_OPTIONS } from '../../src/db/database.js';
import { knownMigrations, migrate } from '../../src/db/migrator.js';
import { runSharedOnce } from './run-dir.js';

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

/**
 * Gives the embedded data directory `dataDir` (empty or not yet created) the database PGlite's initdb makes, with no
 * migration applied: a `tessera` command started on it then migrates, bootstraps and serves as on a new directory,
 * only without running initdb, about 8 s of CPU per new directory (measured on `tessera migrate`: 11 s of CPU, 1 s of
 * it the migrations) against a file copy here. The initialised directory is made once per run from the cached dump
 * (`pgliteDump(false)`) and copied; test/e2e/cli.test.ts keeps one first start on a really new directory.
 */
export async function seedEmbeddedDataDir(dataDir: string): Promise<void> {
  const seed = await runSharedOnce('pgdata', async (dir) => {
    const pgl = await PGlite.create(path.join(dir, 'pgdata'), { ...PGLITE_OPTIONS, loadDataDir: await pgliteDump(false) });
    await pgl.close();
  });
  // Where openDatabase keeps the embedded database in a data directory (src/db/database.ts); 0700 as the server makes it.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  cpSync(path.join(seed, 'pgdata'), path.join(dataDir, 'pgdata'), { recursive: true });
}

/**
 * Applying every migration to a new PostgreSQL database costs a second or two per suite and per engine, for the same
 * schema every time. The run migrates one database once (global-setup.ts, `createMigratedTemplate`) and every suite's
 * migrated database is a copy of it (`CREATE DATABASE ... TEMPLATE`, a file copy inside the server). The template's
 * name reaches the test processes in this variable; without it (a suite run outside vitest's global setup) each
 * database is migrated as before. The migrations themselves stay tested on PostgreSQL: the template is made by
 * `migrate`, src/db/migrator.test.ts and the upgrade suite migrate their own databases, and every `tessera serve`
 * a suite spawns migrates its database at start.
 */
export const TEMPLATE_ENV = 'TESSERA_TEST_TEMPLATE_DATABASE';

function databaseUrl(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(text: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(text);
  } finally {
    await admin.end();
  }
}

/**
 * Creates and migrates the run's template database on PostgreSQL and returns its name and a function that drops it.
 * Its connections are closed before it returns: PostgreSQL copies a template only while nobody is connected to it.
 */
export async function createMigratedTemplate(): Promise<{ name: string; drop(): Promise<void> }> {
  const name = `tessera_template_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  const drop = () => adminQuery(`drop database if exists ${name} with (force)`);
  try {
    const db = await openDatabase({ kind: 'postgres', url: databaseUrl(name), dataDir: 'memory://', poolMax: 1 });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
  } catch (error) {
    await drop();
    throw error;
  }
  return { name, drop };
}

/** A fresh, empty database for one suite: in-memory PGlite, or a new PostgreSQL database dropped afterwards. */
export async function createTestDatabase(engine: Engine, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  let config: DatabaseConfig;
  let cleanup = async () => {};
  let template: string | undefined;
  if (engine === 'pglite') {
    config = { kind: 'pglite', dataDir: 'memory://', poolMax: 1 };
  } else {
    const name = `tessera_test_${randomBytes(6).toString('hex')}`;
    template = options.migrate !== false ? process.env[TEMPLATE_ENV] : undefined;
    await adminQuery(template ? `create database ${name} template ${template}` : `create database ${name}`);
    config = { kind: 'postgres', url: databaseUrl(name), dataDir: 'memory://', poolMax: 5 };
    cleanup = () => adminQuery(`drop database if exists ${name} with (force)`);
  }
  const migrated = options.migrate !== false;
  let db: Database;
  if (engine === 'pglite') {
    db = fromPGlite(await PGlite.create({ ...PGLITE_OPTIONS, loadDataDir: await pgliteDump(migrated) }));
  } else {
    db = await openDatabase(config);
    try {
      // A copy of the run's migrated template has every migration already; `migrate` would find nothing pending.
      if (migrated && !template) await migrate(db);
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
