// Cost per operation of a password login and of a refresh rotation, in-process and one at a time: server CPU
// per operation (process.cpuUsage, every thread: argon2 included), SQL statements per operation (transaction
// control included) and signatures per operation, next to raw argon2id verify and raw signing with the same
// parameters. Figures that do not depend on a quiet machine (CPU time and counts, not throughput).
// Usage: npx tsx bench/auth-profile.ts   (PostgreSQL too with BENCH_DATABASE_URL=postgres://…; BENCH_PROFILE_OPS)
// For a CPU profile of the same loop: node --cpu-prof --import tsx bench/auth-profile.ts
import { execFileSync } from 'node:child_process';
import crypto, { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { hash, verify } from '@node-rs/argon2';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../src/config/config.schema.js';
import { loadConfig } from '../src/config/load-config.js';
import { createMasterKeys } from '../src/crypto/master-key.js';
import { ARGON2_OPTIONS } from '../src/crypto/password.js';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrator.js';
import { authBenchEngines, freshPostgres } from './auth-lib.js';
import { benchTempDir } from './lib.js';

const OPS = Number(process.env.BENCH_PROFILE_OPS ?? 200);
let statements = 0;
let signatures = 0;
/** BENCH_SHOW_STATEMENTS=1: the text of every statement of one login, printed before the figures. */
let shown: string[] | undefined;
// Counted where every statement and every signature passes (the drivers and node:crypto), not in our code.
for (const proto of [PGlite.prototype, pg.Client.prototype] as { query: (...a: unknown[]) => unknown; exec?: (...a: unknown[]) => unknown }[]) {
  for (const name of ['query', 'exec'] as const) {
    const original = proto[name];
    if (!original) continue;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      statements++;
      const first = args[0] as string | { text?: string } | undefined;
      shown?.push((typeof first === 'string' ? first : (first?.text ?? '?')).replace(/\s+/g, ' ').slice(0, 160));
      return original.apply(this, args);
    };
  }
}
const originalSign = crypto.sign;
(crypto as { sign: typeof crypto.sign }).sign = ((...args: Parameters<typeof crypto.sign>) => {
  signatures++;
  return originalSign(...args);
}) as typeof crypto.sign;
// `import { sign } from 'node:crypto'` elsewhere sees the counting one too.
syncBuiltinESMExports();

/** BENCH_CPU_PROFILE=dir: a .cpuprofile of each measured loop alone (no start-up, no migrations) in dir. */
const profileDir = process.env.BENCH_CPU_PROFILE;
const inspector = profileDir ? new Session() : undefined;
inspector?.connect();
await inspector?.post('Profiler.enable');

async function profiled<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (!inspector || !profileDir) return work();
  await inspector.post('Profiler.start');
  const result = await work();
  const { profile } = await inspector.post('Profiler.stop');
  writeFileSync(path.join(profileDir, `${name}.cpuprofile`), JSON.stringify(profile));
  return result;
}

/**
 * The main thread's own CPU: the event loop's share of an operation, argon2's thread pool excluded. Node ≥ 23.9 has
 * process.threadCpuUsage; on Linux, /proc/self/task/<pid>/stat (the main thread's tid is the pid; proc(5) utime,
 * stime, in clock ticks) gives it on any Node.
 */
const CLOCK_TICK_US = 1e6 / (Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100);
function mainThreadFromProc(previous?: NodeJS.CpuUsage): NodeJS.CpuUsage | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]) * CLOCK_TICK_US;
  const system = Number(fields[12]) * CLOCK_TICK_US;
  return { user: user - (previous?.user ?? 0), system: system - (previous?.system ?? 0) };
}
const threadCpuUsage = (process as { threadCpuUsage?: (previous?: NodeJS.CpuUsage) => NodeJS.CpuUsage }).threadCpuUsage?.bind(process) ?? mainThreadFromProc;

async function perOp(n: number, op: () => Promise<void>) {
  statements = 0;
  signatures = 0;
  const cpu = process.cpuUsage();
  const thread = threadCpuUsage?.();
  const started = performance.now();
  for (let i = 0; i < n; i++) await op();
  const used = process.cpuUsage(cpu);
  const mainUsed = thread && threadCpuUsage?.(thread);
  return {
    cpuUs: (used.user + used.system) / n,
    mainCpuUs: mainUsed ? (mainUsed.user + mainUsed.system) / n : undefined,
    wallMs: (performance.now() - started) / n,
    statements: statements / n,
    signatures: signatures / n,
  };
}
const mainCpu = (r: { mainCpuUs?: number }) => (r.mainCpuUs === undefined ? '—' : fmt(r.mainCpuUs));

const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

console.log(`\nCost per operation, one at a time, in-process — ${OPS} operations, Node ${process.version}\n`);
console.log('| engine | alg | operation | CPU µs/op | main thread CPU µs/op | statements/op | signatures/op |');
console.log('| --- | --- | --- | ---: | ---: | ---: | ---: |');
const stored = await hash('correct horse battery staple', ARGON2_OPTIONS);
const rawVerify = await perOp(Math.max(20, OPS / 4), async () => void (await verify(stored, 'correct horse battery staple')));
console.log(`| — | — | raw argon2id verify (baseline) | ${fmt(rawVerify.cpuUs)} | ${mainCpu(rawVerify)} | 0 | 0 |`);
const algs = (process.env.BENCH_ALGS?.split(',') ?? SIGNING_ALGORITHMS) as SigningAlgorithm[];
for (const alg of algs) {
  const { privateKey } = alg === 'RS256' ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }) : alg === 'ES256' ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }) : crypto.generateKeyPairSync('ed25519');
  const data = Buffer.from('x'.repeat(400));
  const raw = await perOp(OPS * 2, () => Promise.resolve(void crypto.sign(alg === 'EdDSA' ? null : 'sha256', data, alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey)));
  console.log(`| — | ${alg} | raw node:crypto signature (baseline) | ${fmt(raw.cpuUs)} | ${mainCpu(raw)} | 0 | 1 |`);
}

for (const engine of authBenchEngines()) {
  for (const alg of algs) {
    const target = engine === 'postgres' ? await freshPostgres() : undefined;
    const dataDir = benchTempDir();
    const config = loadConfig({
      LOG_LEVEL: 'silent',
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      TESSERA_SIGNING_ALG: alg,
      ...(target ? { DATABASE_URL: target.url, TESSERA_DB_POOL_MAX: '10' } : { TESSERA_DATA_DIR: dataDir }),
    });
    const db = await openDatabase(config.database);
    try {
      await migrate(db);
      const app = await buildApp({ config, db, masterKeys: createMasterKeys(config.masterKey!) });
      await app.services.keys.ensureSigningKey();
      const email = 'p@example.com';
      const password = 'profile bench password';
      const who = await app.services.bootstrap.bootstrap({ tenantName: 'Bench', accountName: 'Bench', email, password });
      const meta = { ip: '127.0.0.1', userAgent: 'bench' };
      const login = async () => {
        const r = await app.services.sessions.login({ email, password, tenantId: who.tenantId }, meta);
        if (r.status !== 'authenticated' || !r.session) throw new Error('bench login failed');
        return r.session.refreshToken;
      };
      let chain = await login();
      const refresh = async () => {
        chain = (await app.services.sessions.refresh(chain, meta)).refreshToken;
      };
      await perOp(20, async () => void (await login()));
      if (process.env.BENCH_SHOW_STATEMENTS) {
        shown = [];
        await login();
        console.log(`\n${engine}: the ${shown.length} statements of one login\n${shown.map((s, i) => `${i + 1}. ${s}`).join('\n')}\n`);
        shown = undefined;
      }
      await perOp(50, refresh);
      const l = await profiled(`login-${engine}-${alg}`, () => perOp(Math.max(20, OPS / 4), async () => void (await login())));
      const r = await profiled(`refresh-${engine}-${alg}`, () => perOp(OPS, refresh));
      console.log(`| ${engine} | ${alg} | POST /auth/login service, right password | ${fmt(l.cpuUs)} (argon2 + ${fmt(l.cpuUs - rawVerify.cpuUs)}) | ${mainCpu(l)} | ${fmt(l.statements, 1)} | ${fmt(l.signatures, 1)} |`);
      console.log(`| ${engine} | ${alg} | refresh rotation service | ${fmt(r.cpuUs)} | ${mainCpu(r)} | ${fmt(r.statements, 1)} | ${fmt(r.signatures, 1)} |`);
      await app.http.close();
    } finally {
      await db.close();
      await target?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}
