// Audit appends in events/s: one tenant's chain (sequential, and 8 writers contending for its head) and
// 20 tenants at once, each event in its own unit of work as features record them, on every engine.
// Baseline in the same run, measured in alternating rounds with each case: the same unit of work
// inserting one row into a plain table (no chain).
// Usage: npx tsx bench/audit-append.bench.ts   (PostgreSQL too with BENCH_DATABASE_URL=postgres://…)
import { cpus } from 'node:os';
import { sql } from 'kysely';
import type { Database } from '../src/db/database.js';
import { createAuditRecorder } from '../src/features/audit/audit-recorder.js';
import { systemClock } from '../src/kernel/clock.js';
import { benchDatabase, benchEngines, createTenants, fmt } from './audit-lib.js';

const COUNT = Number(process.env.BENCH_APPENDS ?? 3000);
const actor = { type: 'user', id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', email: 'admin@bench.example', ip: '203.0.113.7', userAgent: 'bench' } as const;

async function run(workers: number, total: number, job: (worker: number, i: number) => Promise<unknown>): Promise<number> {
  const perWorker = Math.ceil(total / workers);
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; i < perWorker; i++) await job(w, i);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (perWorker * workers) / seconds;
}

// With ASYNC, each transaction sets synchronous_commit = off: the commit's WAL flush (fsync) leaves the
// measurement, showing what the chain itself costs where commits are fast.
let ASYNC = false;
const noFlush = (tx: Parameters<Parameters<Database['tenantWork']>[1]>[0]) => (ASYNC ? sql`set local synchronous_commit = off`.execute(tx) : Promise.resolve());

/**
 * Measures a case and its baseline in alternating rounds, so that the load of a shared machine falls on
 * both alike; returns events/s of each.
 */
async function paired(workers: number, total: number, base: (w: number, i: number) => Promise<unknown>, chain: (w: number, i: number) => Promise<unknown>) {
  const ROUNDS = 10;
  let baseSeconds = 0;
  let chainSeconds = 0;
  for (let r = 0; r < ROUNDS; r++) {
    baseSeconds += total / ROUNDS / (await run(workers, total / ROUNDS, (w, i) => base(w, r * total + i)));
    chainSeconds += total / ROUNDS / (await run(workers, total / ROUNDS, (w, i) => chain(w, r * total + i)));
  }
  return { base: total / baseSeconds, chain: total / chainSeconds };
}

function append(db: Database, tenantId: string, i: number) {
  const recorder = createAuditRecorder({ clock: systemClock, engine: db.engine });
  return db.tenantWork(tenantId, async (tx) => {
    await noFlush(tx);
    await recorder.record(tx, tenantId, { action: 'user.updated', actor, target: { type: 'user', id: String(i) }, outcome: 'success', details: { i, field: 'name' } });
  });
}

function plainInsert(db: Database, tenantId: string, i: number) {
  return db.tenantWork(tenantId, async (tx) => {
    await noFlush(tx);
    await sql`insert into bench_plain (tenant_id, details) values (${tenantId}, ${JSON.stringify({ i, field: 'name' })}::jsonb)`.execute(tx);
  });
}

console.log(`\nAudit appends — ${fmt(COUNT)} events per case, each in its own unit of work; Node ${process.version}, ${cpus().length} cores\n`);
console.log('| engine | case | events/s | ratio to baseline |');
console.log('| --- | --- | ---: | ---: |');
for (const engine of benchEngines()) {
  const { db, drop } = await benchDatabase(engine);
  try {
    await db.ownerWork((tx) =>
      sql`create table bench_plain (tenant_id uuid not null, id bigserial, details jsonb not null, primary key (tenant_id, id));
          grant select, insert on bench_plain to tessera_app; grant usage on sequence bench_plain_id_seq to tessera_app`.execute(tx),
    );
    const tenants = await createTenants(db, 21);
    const one = tenants[0]!;
    const twenty = tenants.slice(1);
    const concurrency = engine === 'postgres' ? 8 : 1;
    // Warm-up (JIT, plans, the head rows).
    await run(1, 200, (_, i) => append(db, one, i));
    await run(1, 200, (_, i) => plainInsert(db, one, i));

    for (const async of engine === 'postgres' ? [false, true] : [false]) {
      ASYNC = async;
      const label = async ? `${engine}, synchronous_commit=off` : engine;
      const single = await paired(1, COUNT, (_, i) => plainInsert(db, one, i), (_, i) => append(db, one, i));
      const contended = engine === 'postgres' ? await paired(concurrency, COUNT, (_, i) => plainInsert(db, one, i), (_, i) => append(db, one, i)) : undefined;
      const spread = await paired(20, COUNT, (w, i) => plainInsert(db, twenty[w]!, i), (w, i) => append(db, twenty[w]!, i));
      const base = single.base;
      const seq = single.chain;
      const baseMany = spread.base;
      const many = spread.chain;
      console.log(`| ${label} | plain insert, one writer (baseline) | ${fmt(base)} | 1.00 |`);
      console.log(`| ${label} | one chain, one writer | ${fmt(seq)} | ${(seq / base).toFixed(2)} |`);
      if (contended) {
        console.log(`| ${label} | plain insert, ${concurrency} concurrent writers on one tenant (baseline) | ${fmt(contended.base)} | 1.00 |`);
        console.log(`| ${label} | one chain, ${concurrency} concurrent writers | ${fmt(contended.chain)} | ${(contended.chain / contended.base).toFixed(2)} |`);
      }
      console.log(`| ${label} | plain insert, 20 writers on 20 tenants (baseline) | ${fmt(baseMany)} | 1.00 |`);
      console.log(`| ${label} | 20 chains, 20 writers at once | ${fmt(many)} | ${(many / baseMany).toFixed(2)} |`);
    }
    // The chains written under contention must still verify.
    const { createAuditQueries } = await import('../src/features/audit/audit-query.js');
    const report = await createAuditQueries({ db }).verify(one);
    if (!report.ok) throw new Error(`chain broken after the benchmark: ${JSON.stringify(report.break)}`);
  } finally {
    await drop();
  }
}
