// Refresh rotation (each refresh locks the token row, reads the user, inserts its successor, marks it rotated,
// touches the session, and signs one access token after the commit) against two baselines measured in the same
// run, on the same core: the plainest write of the same database (one single-row insert per unit of work) and
// the signing limit of the key's algorithm (node:crypto, one signature at a time). The issue's method
// (BENCHMARKS.md "Authentication: method"): this process (services in-process, no HTTP) pinned to one core
// (BENCH_SERVER_CPUS, default 1), PostgreSQL unpinned, ROUNDS (3) interleaved rounds of DURATION (8) s, medians,
// both engines, each signing algorithm (BENCH_ALGS, default RS256,ES256).
// Aims: refresh ≥ 0.80 of the signing limit of its algorithm; with ES256, ≥ 0.30 of the single-row insert.
// Usage: npx tsx bench/auth-refresh.bench.ts   (PostgreSQL too with BENCH_DATABASE_URL=postgres://…)
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { sql } from 'kysely';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import type { SigningAlgorithm } from '../src/config/config.schema.js';
import { loadConfig } from '../src/config/load-config.js';
import { createMasterKeys } from '../src/crypto/master-key.js';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrator.js';
import { newId } from '../src/kernel/ids.js';
import { readFileSync } from 'node:fs';
import { authBenchEngines } from './auth-lib.js';
import { benchTempDir, cpuMicros, median, pinSelf, ROUNDS } from './lib.js';

await pinSelf(process.env.BENCH_SERVER_CPUS ?? '1');
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const ALGS = (process.env.BENCH_ALGS ?? 'RS256,ES256').split(',') as SigningAlgorithm[];

/** Signatures per second with node:crypto, one at a time, on this core: the algorithm's signing limit. */
function signingLimit(alg: SigningAlgorithm, seconds: number): number {
  const { privateKey } = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  const data = Buffer.from('x'.repeat(400));
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const started = performance.now();
  while (performance.now() < end) {
    sign(alg === 'EdDSA' ? null : 'sha256', data, alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey);
    done++;
  }
  return done / ((performance.now() - started) / 1000);
}

const WORKERS = Number(process.env.BENCH_WORKERS ?? 8);

/** What one case cost besides its rate: this process's CPU per operation and how busy its core was; the database's. */
interface Cost {
  /** This process (every thread), µs of CPU per operation. */
  readonly cpuMicros: number;
  /** This process's CPU time ÷ wall time: 100 % is the pinned core saturated. */
  readonly busyPercent: number;
  /**
   * Share of the wall time the main thread was runnable but waited for its core (schedstat's run-queue delay,
   * kernel docs "sched-stats"): the core taken by other processes, not idle waiting on the database.
   */
  readonly runQueuePercent: number;
  /** PostgreSQL's backends serving this database, µs of CPU per operation (absent on PGlite: it runs in this process). */
  readonly dbMicros?: number;
  /** Share of the samples (every 20 ms) in which a busy backend was last on this process's core (proc(5) field 39). */
  readonly dbOnOurCorePercent?: number;
}

const costs: Record<string, Cost[]> = {};

/** The pids of the PostgreSQL backends of `database` (they run on this machine: their CPU is read from /proc). */
let backends: () => Promise<number[]> = () => Promise.resolve([]);

/** The main thread's time waiting on a run queue so far, µs (/proc/<pid>/schedstat, second field, in ns). */
function runQueueMicros(): number {
  try {
    return Number(readFileSync(`/proc/${process.pid}/schedstat`, 'utf8').split(' ')[1]) / 1e3;
  } catch {
    return 0;
  }
}

function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

async function during(seconds: number, workers: number, job: (worker: number) => Promise<void>, label?: string): Promise<number> {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  const pids = label ? await backends() : [];
  const dbBefore = pids.reduce((sum, pid) => sum + (procStat(pid) ? cpuMicros(pid) : 0), 0);
  const ours = Number(process.env.BENCH_SERVER_CPUS ?? '1');
  let samples = 0;
  let onOurCore = 0;
  const ticks = pids.map((pid) => Number(procStat(pid)?.[11] ?? 0));
  const sampler = pids.length
    ? setInterval(() => {
        pids.forEach((pid, i) => {
          const f = procStat(pid);
          if (!f) return;
          // Only a backend that ran since the last sample tells where it runs (field 39: the CPU it last ran on).
          const utime = Number(f[11]);
          if (utime === ticks[i]) return;
          ticks[i] = utime;
          samples++;
          if (Number(f[36]) === ours) onOurCore++;
        });
      }, 20)
    : undefined;
  const cpu = process.cpuUsage();
  const queued = runQueueMicros();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (Date.now() < end) {
        await job(w);
        done++;
      }
    }),
  );
  const wall = Number(process.hrtime.bigint() - started) / 1e3;
  const used = process.cpuUsage(cpu);
  if (sampler) clearInterval(sampler);
  if (label) {
    const dbAfter = pids.reduce((sum, pid) => sum + (procStat(pid) ? cpuMicros(pid) : 0), 0);
    (costs[label] ??= []).push({
      cpuMicros: (used.user + used.system) / done,
      busyPercent: ((used.user + used.system) / wall) * 100,
      runQueuePercent: ((runQueueMicros() - queued) / wall) * 100,
      ...(pids.length ? { dbMicros: (dbAfter - dbBefore) / done, dbOnOurCorePercent: samples ? (onOurCore / samples) * 100 : 0 } : {}),
    });
  }
  return done / (wall / 1e6);
}

async function databaseUrl(engine: string): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  if (engine === 'pglite') {
    const dir = benchTempDir();
    return { env: { TESSERA_DATA_DIR: dir }, drop: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })) };
  }
  const admin = process.env.BENCH_DATABASE_URL ?? process.env.TESSERA_TEST_DATABASE_URL!;
  const name = `tessera_bench_${randomBytes(6).toString('hex')}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  backends = async () => {
    const q = new pg.Client({ connectionString: admin });
    await q.connect();
    const { rows } = await q.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [name]);
    await q.end();
    return rows.map((r) => r.pid);
  };
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

console.log(`\nRefresh rotation — this process on CPU ${process.env.BENCH_PINNED ?? 'any'}, ${WORKERS} chains at once, ${ROUNDS} interleaved rounds of ${DURATION} s, medians; Node ${process.version}, ${cpus().length} cores\n`);
console.log('| engine | alg | case | operations/s (median) | rounds | ratio | aim |');
console.log('| --- | --- | --- | ---: | --- | ---: | --- |');
for (const engine of authBenchEngines()) {
  for (const alg of ALGS) {
    const target = await databaseUrl(engine);
    const config = loadConfig({ LOG_LEVEL: 'silent', TESSERA_MASTER_KEY: randomBytes(32).toString('base64'), TESSERA_SIGNING_ALG: alg, ...target.env });
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

      const figures = { insert: [] as number[], refresh: [] as number[], sign: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        figures.insert.push(await during(DURATION, WORKERS, insert, `${engine} ${alg} insert`));
        figures.refresh.push(await during(DURATION, WORKERS, refresh, `${engine} ${alg} refresh`));
        figures.sign.push(signingLimit(alg, DURATION));
      }
      const m = { insert: median(figures.insert), refresh: median(figures.refresh), sign: median(figures.sign) };
      const show = (name: string, key: keyof typeof m, ratio: string, aim = '') =>
        console.log(`| ${engine} | ${alg} | ${name} | ${Math.round(m[key]).toLocaleString('en-US')} | ${figures[key].map((x) => Math.round(x)).join(' / ')} | ${ratio} | ${aim} |`);
      show(`${alg} signing limit, node:crypto, one core (baseline)`, 'sign', '1.00');
      show('single-row insert, one per unit of work (baseline)', 'insert', '1.00');
      show('refresh rotation / signing limit', 'refresh', (m.refresh / m.sign).toFixed(2), '≥ 0.80');
      show('refresh rotation / single-row insert', 'refresh', (m.refresh / m.insert).toFixed(2), alg === 'ES256' ? '≥ 0.30' : '');
      await app.http.close();
    } finally {
      await db.close();
      await target.drop();
    }
  }
}
console.log(
  "\nCPU per operation (medians of the rounds): this process (pinned), how busy its core was, how long it waited for its core while runnable, PostgreSQL's backends, and how often a busy backend was last on our core\n",
);
console.log('| engine, alg, case | this process µs/op | its core busy | waiting for its core | PostgreSQL µs/op | PostgreSQL on our core |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const [label, rounds] of Object.entries(costs)) {
  const of = (pick: (c: Cost) => number | undefined) => {
    const values = rounds.map(pick).filter((v): v is number => v !== undefined);
    return values.length ? Math.round(median(values)) : undefined;
  };
  const db = of((c) => c.dbMicros);
  console.log(`| ${label} | ${of((c) => c.cpuMicros)} | ${of((c) => c.busyPercent)} % | ${of((c) => c.runQueuePercent)} % | ${db ?? '—'} | ${db === undefined ? '—' : `${of((c) => c.dbOnOurCorePercent)} %`} |`);
}
