// Refresh rotation (each refresh locks the token row, inserts its successor, marks it rotated, touches the
// session and signs an access token) against the plainest write of the same database: one single-row
// insert per unit of work. Same concurrency, same process, same database, measured in the same run.
// Usage: npx tsx bench/auth-refresh.bench.ts   (PostgreSQL too with BENCH_DATABASE_URL=postgres://…)
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/load-config.js';
import { createMasterKeys } from '../src/crypto/master-key.js';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrator.js';
import { newId } from '../src/kernel/ids.js';
import { authBenchEngines } from './auth-lib.js';
import { DURATION } from './lib.js';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 8);

async function during(seconds: number, workers: number, job: (worker: number) => Promise<void>): Promise<number> {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (Date.now() < end) {
        await job(w);
        done++;
      }
    }),
  );
  return done / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function databaseUrl(engine: string): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  if (engine === 'pglite') return { env: { TESSERA_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'tessera-bench-')) }, drop: async () => {} };
  const admin = process.env.BENCH_DATABASE_URL ?? process.env.TESSERA_TEST_DATABASE_URL!;
  const name = `tessera_bench_${randomBytes(6).toString('hex')}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString(), TESSERA_DB_POOL_MAX: '10' },
    async drop() {
      const d = new pg.Client({ connectionString: admin });
      await d.connect();
      await d.query(`drop database if exists ${name} with (force)`);
      await d.end();
    },
  };
}

console.log(`\nRefresh rotation — ${DURATION}s per case, ${WORKERS} concurrent clients, Node ${process.version}, ${cpus().length} cores\n`);
console.log('| engine | case | operations/s | ratio to baseline |');
console.log('| --- | --- | ---: | ---: |');
for (const engine of authBenchEngines()) {
  const target = await databaseUrl(engine);
  const config = loadConfig({ LOG_LEVEL: 'silent', TESSERA_MASTER_KEY: randomBytes(32).toString('base64'), ...target.env });
  const db = await openDatabase(config.database);
  try {
    await migrate(db);
    const app = await buildApp({ config, db, masterKeys: createMasterKeys(config.masterKey!) });
    await app.services.keys.ensureSigningKey();
    const who = await app.services.bootstrap.bootstrap({ tenantName: 'Bench', accountName: 'Bench', email: 'r@example.com', password: 'refresh bench password' });
    await db.ownerWork((tx) =>
      sql`create table bench_rows (tenant_id uuid not null, id uuid not null, session_id uuid not null, created_at timestamptz not null, primary key (tenant_id, id));
          grant select, insert on bench_rows to tessera_app`.execute(tx),
    );
    const meta = { ip: '127.0.0.1', userAgent: 'bench' };
    const chains: string[] = [];
    for (let w = 0; w < WORKERS; w++) {
      const r = await app.services.sessions.login({ email: 'r@example.com', password: 'refresh bench password', tenantId: who.tenantId }, meta);
      if (r.status !== 'authenticated' || !r.session) throw new Error('bench login failed');
      chains.push(r.session.refreshToken);
    }
    const insert = () =>
      db.tenantWork(who.tenantId, (tx) => sql`insert into bench_rows (tenant_id, id, session_id, created_at) values (${who.tenantId}, ${newId()}, ${newId()}, ${new Date()})`.execute(tx)).then(() => undefined);
    const refresh = async (w: number) => {
      chains[w] = (await app.services.sessions.refresh(chains[w], meta)).refreshToken;
    };
    await during(2, WORKERS, insert);
    await during(2, WORKERS, refresh);

    const base = await during(DURATION, WORKERS, insert);
    const rotations = await during(DURATION, WORKERS, refresh);
    console.log(`| ${engine} | single-row insert, one per unit of work (baseline) | ${Math.round(base).toLocaleString('en-US')} | 1.00 |`);
    console.log(`| ${engine} | refresh rotation | ${Math.round(rotations).toLocaleString('en-US')} | ${(rotations / base).toFixed(2)} |`);
    await app.http.close();
  } finally {
    await db.close();
    await target.drop();
  }
}
