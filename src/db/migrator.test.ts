import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../test/support/databases.js';
import { openDatabase } from './database.js';
import { knownMigrations, migrate, migrationStatus } from './migrator.js';
import { testTempDir } from '../../test/support/temp-dir.js';

function dirWith(files: Record<string, string>): string {
  const dir = testTempDir('migrations');
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

async function tableExists(t: TestDatabase | undefined, name: string): Promise<boolean> {
  const r = await sql<{ present: boolean }>`select to_regclass(${name}) is not null as present`.execute(t!.db.kysely);
  return r.rows[0]!.present;
}

describe.each(engines())('migrations [%s]', (engine) => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.drop();
    t = undefined;
  });

  it('applies every shipped migration once; a second run applies nothing', async () => {
    t = await createTestDatabase(engine, { migrate: false });
    const first = await migrate(t.db);
    expect(first.map((m) => m.version)).toEqual(knownMigrations().map((m) => m.version));
    expect(await migrate(t.db)).toEqual([]);
    const status = await migrationStatus(t.db);
    expect(status.pending).toEqual([]);
    expect(status.newestApplied).toBe(status.latestKnown);
  });

  it('runs each migration in one transaction: a failing one leaves no trace', async () => {
    t = await createTestDatabase(engine, { migrate: false });
    const known = knownMigrations(
      dirWith({
        '0001_good.sql': 'create table good_one (id int primary key);',
        '0002_bad.sql': 'create table half_done (id int primary key);\ninsert into no_such_table values (1);',
      }),
    );
    await expect(migrate(t.db, { known })).rejects.toThrow(/no_such_table/);
    expect(await tableExists(t, 'good_one')).toBe(true);
    expect(await tableExists(t, 'half_done')).toBe(false);
    const status = await migrationStatus(t.db, known);
    expect(status.pending.map((m) => m.name)).toEqual(['bad']);
  });

  it('refuses a database migrated by a newer version', async () => {
    t = await createTestDatabase(engine);
    await t.db.kysely.insertInto('tessera_migrations').values({ version: 999, name: 'from_the_future', checksum: 'x' }).execute();
    await expect(migrate(t.db)).rejects.toMatchObject({ code: 'db.newer_than_code' });
    await expect(migrationStatus(t.db)).rejects.toMatchObject({ code: 'db.newer_than_code' });
  });

  it('refuses an applied migration that was edited afterwards', async () => {
    t = await createTestDatabase(engine, { migrate: false });
    const original = knownMigrations(dirWith({ '0001_one.sql': 'create table one (id int);' }));
    await migrate(t.db, { known: original });
    const edited = knownMigrations(dirWith({ '0001_one.sql': 'create table one (id int, extra text);' }));
    await expect(migrate(t.db, { known: edited })).rejects.toMatchObject({ code: 'db.migration_modified' });
  });

  it('refuses a numbering gap in the shipped files', () => {
    expect(() => knownMigrations(dirWith({ '0001_a.sql': 'select 1;', '0003_c.sql': 'select 1;' }))).toThrow(/gap or duplicate/);
  });

  if (engine === 'postgres') {
    it('two instances migrating at once apply each migration exactly once', async () => {
      t = await createTestDatabase(engine, { migrate: false });
      const other = await openDatabase(t.config);
      try {
        const [a, b] = await Promise.all([migrate(t.db), migrate(other)]);
        expect(a.length + b.length).toBe(knownMigrations().length);
        const ledger = await t.db.kysely.selectFrom('tessera_migrations').select('version').execute();
        expect(ledger).toHaveLength(knownMigrations().length);
      } finally {
        await other.close();
      }
    });
  }
});
