// Shared set-up of the audit benchmarks: a fresh migrated database on each engine, tenants, a bulk seeder.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { type Database, type Engine, openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrator.js';
import { type ChainedEvent, eventHash, formatMicros, GENESIS_HASH } from '../src/features/audit/audit-chain.js';
import { newId } from '../src/kernel/ids.js';

/** PGlite always; PostgreSQL when BENCH_DATABASE_URL (or TESSERA_TEST_DATABASE_URL) names a server to create a database on. */
export function benchEngines(): Engine[] {
  const only = process.env.BENCH_ENGINE as Engine | undefined;
  const all: Engine[] = adminUrl() ? ['pglite', 'postgres'] : ['pglite'];
  return only ? all.filter((e) => e === only) : all;
}

function adminUrl(): string | undefined {
  return process.env.BENCH_DATABASE_URL ?? process.env.TESSERA_TEST_DATABASE_URL;
}

export interface BenchDatabase {
  readonly db: Database;
  readonly drop: () => Promise<void>;
}

export async function benchDatabase(engine: Engine): Promise<BenchDatabase> {
  if (engine === 'pglite') {
    const db = await openDatabase({ kind: 'pglite', dataDir: 'memory://', poolMax: 1 });
    await migrate(db);
    return { db, drop: () => db.close() };
  }
  const name = `tessera_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl()!);
  url.pathname = `/${name}`;
  const db = await openDatabase({ kind: 'postgres', url: url.toString(), dataDir: 'memory://', poolMax: 25 });
  await migrate(db);
  return {
    db,
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export async function createTenants(db: Database, n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => newId());
  for (const id of ids) await db.tenantWork(id, (tx) => tx.insertInto('tenants').values({ id, name: `bench ${id}` }).execute());
  return ids;
}

/**
 * Appends `count` well-formed chained events to a tenant directly, in batches (as the owner, through
 * jsonb_to_recordset), for benchmarks that need a large chain quickly. Same hashing as the recorder.
 */
export async function seedChain(db: Database, tenantId: string, count: number, onProgress?: (done: number) => void): Promise<void> {
  const BATCH = 5000;
  let prev = GENESIS_HASH;
  const start = Date.parse('2020-01-01T00:00:00Z') * 1000;
  for (let done = 0; done < count; ) {
    const n = Math.min(BATCH, count - done);
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const seq = done + i + 1;
      const unsigned: Omit<ChainedEvent, 'hash'> = {
        tenantId,
        seq,
        occurredAt: formatMicros(start + seq * 1000),
        actor: { type: 'user', id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', email: 'admin@bench.example', ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (bench)' },
        action: seq % 3 === 0 ? 'auth.login.failed' : 'auth.login.succeeded',
        target: { type: 'user', id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c' },
        outcome: seq % 3 === 0 ? 'failure' : 'success',
        errorCode: seq % 3 === 0 ? 'sessions.invalid_credentials' : null,
        details: { method: 'password', attempt: seq % 7 },
        prevHash: prev,
      };
      const hash = eventHash(unsigned);
      prev = hash;
      rows.push({
        tenant_id: tenantId,
        seq,
        occurred_at: unsigned.occurredAt,
        actor_type: unsigned.actor.type,
        actor_id: unsigned.actor.id,
        actor_email: unsigned.actor.email,
        actor_ip: unsigned.actor.ip,
        actor_user_agent: unsigned.actor.userAgent,
        action: unsigned.action,
        target_type: unsigned.target!.type,
        target_id: unsigned.target!.id,
        outcome: unsigned.outcome,
        error_code: unsigned.errorCode,
        details: unsigned.details,
        prev_hash: unsigned.prevHash,
        hash,
      });
    }
    await db.ownerWork(async (tx) => {
      await sql`insert into audit_events
        select * from jsonb_populate_recordset(null::audit_events, ${JSON.stringify(rows)}::jsonb)`.execute(tx);
      await sql`insert into audit_heads (tenant_id, last_seq, last_hash, last_at)
        values (${tenantId}, ${done + n}, ${prev}, ${rows.at(-1)!.occurred_at}::timestamptz)
        on conflict (tenant_id) do update set last_seq = excluded.last_seq, last_hash = excluded.last_hash, last_at = excluded.last_at`.execute(tx);
    });
    done += n;
    onProgress?.(done);
  }
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
