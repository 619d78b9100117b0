import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { AppError } from '../kernel/app-error.js';
import type { Database, Tx } from './database.js';
import { DbErrors } from './db.errors.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrationStatus {
  readonly applied: number[];
  readonly pending: Migration[];
  readonly latestKnown: number;
  readonly newestApplied: number;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
// Any fixed number; every instance takes the same lock so only one migrates at a time.
const LOCK_KEY = 7_430_117_001;

let cached: Migration[] | undefined;

/** The migrations this version ships, in order: `NNNN_name.sql`, plain SQL, each applied in one transaction. */
export function knownMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  if (dir === MIGRATIONS_DIR && cached) return cached;
  const list = readdirSync(dir)
    .map((file) => ({ file, match: FILE.exec(file) }))
    .filter((f): f is { file: string; match: RegExpExecArray } => f.match !== null)
    .map(({ file, match }) => {
      const text = readFileSync(`${dir}/${file}`, 'utf8');
      return { version: Number(match[1]), name: match[2]!, sql: text, checksum: createHash('sha256').update(text).digest('hex') };
    })
    .sort((a, b) => a.version - b.version);
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration numbering has a gap or duplicate at ${m.version}_${m.name}`);
  });
  if (dir === MIGRATIONS_DIR) cached = list;
  return list;
}

async function ensureLedger(tx: Tx): Promise<void> {
  await sql`create table if not exists tessera_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
  )`.execute(tx);
}

async function readLedger(tx: Tx) {
  const exists = await sql<{ present: boolean }>`select to_regclass('tessera_migrations') is not null as present`.execute(tx);
  if (!exists.rows[0]?.present) return [];
  return tx.selectFrom('tessera_migrations').select(['version', 'name', 'checksum']).orderBy('version').execute();
}

function compare(applied: { version: number; name: string; checksum: string }[], known: Migration[]): MigrationStatus {
  const byVersion = new Map(known.map((m) => [m.version, m]));
  for (const row of applied) {
    const mine = byVersion.get(row.version);
    if (!mine) {
      throw new AppError(DbErrors['db.newer_than_code'], { detail: { version: row.version, name: row.name } });
    }
    if (mine.checksum !== row.checksum) {
      throw new AppError(DbErrors['db.migration_modified'], { detail: { version: row.version, name: row.name } });
    }
  }
  const done = new Set(applied.map((r) => r.version));
  return {
    applied: [...done],
    pending: known.filter((m) => !done.has(m.version)),
    latestKnown: known.at(-1)?.version ?? 0,
    newestApplied: Math.max(0, ...done),
  };
}

/** The versions of the migrations applied (the ledger is db's own table; readiness probes read it). */
export async function appliedMigrationVersions(db: Database): Promise<number[]> {
  const rows = await db.globalWork((tx) => tx.selectFrom('tessera_migrations').select('version').execute());
  return rows.map((r) => r.version);
}

/** Where the database stands against this version's migrations. Throws if the database is newer or was edited. */
export async function migrationStatus(db: Database, known: Migration[] = knownMigrations()): Promise<MigrationStatus> {
  return db.ownerWork(async (tx) => compare(await readLedger(tx), known));
}

/**
 * Applies every pending migration, each in its own transaction under an advisory lock, so concurrent
 * instances neither collide nor apply one twice. Idempotent. Refuses a database newer than the code.
 */
export async function migrate(
  db: Database,
  options: { known?: Migration[]; onApplied?: (m: Migration, index: number, total: number) => void } = {},
): Promise<Migration[]> {
  const known = options.known ?? knownMigrations();
  const { pending } = await migrationStatus(db, known);
  const applied: Migration[] = [];
  for (const [index, migration] of pending.entries()) {
    const ran = await db.ownerWork(async (tx) => {
      await sql`select pg_advisory_xact_lock(${LOCK_KEY})`.execute(tx);
      await ensureLedger(tx);
      const ledger = await readLedger(tx);
      compare(ledger, known);
      if (ledger.some((r) => r.version === migration.version)) return false;
      await sql.raw(migration.sql).execute(tx);
      await tx
        .insertInto('tessera_migrations')
        .values({ version: migration.version, name: migration.name, checksum: migration.checksum })
        .execute();
      return true;
    });
    if (ran) applied.push(migration);
    options.onApplied?.(migration, index + 1, pending.length);
  }
  return applied;
}
