// Password logins, by the method (BENCHMARKS.md "Authentication: method"): the server pinned to one core
// (BENCH_SERVER_CPUS, default 1), this load generator on another (BENCH_LOAD_CPUS, default 0), PostgreSQL
// unpinned; ROUNDS (3) interleaved rounds of DURATION (8) seconds per case; medians. Per engine, in each round:
//   raw argon2id     verifications on the server's core, as many at a time as the server's hash cap (baseline)
//   login alone      POST /auth/login with the right password, 8 connections
//   /me alone        GET /api/v1/me, 32 connections (baseline)
//   /me + flood      GET /api/v1/me, 32 connections, while 8 connections send right-password logins
// Aims: login alone ≥ 0.90 of raw argon2id; /me during the flood ≥ 0.70 of /me alone; logins during the
// flood (answered 200) ≥ 0.30 of raw argon2id.
// Usage: npx tsx bench/auth-login.bench.ts   (PostgreSQL too with BENCH_DATABASE_URL=postgres://…)
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { ARGON2_OPTIONS, defaultHashConcurrency } from '../src/crypto/password.js';
import { authBenchEngines, startAuthServer } from './auth-lib.js';
import { median, pinSelf, ROOT, ROUNDS } from './lib.js';

await pinSelf();
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const ME_CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const LOGIN_CONNECTIONS = 8;

/** Raw argon2id verifications per second on the server's core, `concurrency` at a time, in a process of its own. */
function rawVerifications(concurrency: number, seconds: number): Promise<number> {
  const script = `
    const { hash, verify } = require('@node-rs/argon2');
    (async () => {
      const stored = await hash('correct horse battery staple', ${JSON.stringify(ARGON2_OPTIONS)});
      const end = Date.now() + ${seconds * 1000};
      let done = 0;
      const started = performance.now();
      await Promise.all(Array.from({ length: ${concurrency} }, async () => { while (Date.now() < end) { await verify(stored, 'correct horse battery staple'); done++; } }));
      process.stdout.write(String(done / ((performance.now() - started) / 1000)));
    })();`;
  const cpusArg = process.env.BENCH_SERVER_CPUS;
  const child = cpusArg && cpusArg !== 'none' ? spawn('taskset', ['-c', cpusArg, process.execPath, '-e', script], { cwd: ROOT }) : spawn(process.execPath, ['-e', script], { cwd: ROOT });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`raw argon2 exited ${code}: ${err}`)))));
}

/** 2xx answers per second (a refusal is not a served request). */
async function rate(options: autocannon.Options): Promise<number> {
  const r = await autocannon({ duration: DURATION, ...options });
  return r['2xx'] / DURATION;
}

const cap = defaultHashConcurrency();
console.log(
  `\nPassword login — server on CPU ${process.env.BENCH_SERVER_CPUS}, load on CPU ${process.env.BENCH_PINNED ?? 'any'}, ${ROUNDS} interleaved rounds of ${DURATION} s, medians; Node ${process.version}, ${cpus().length} cores, hash concurrency ${cap}, argon2id m=${ARGON2_OPTIONS.memoryCost} KiB t=${ARGON2_OPTIONS.timeCost} p=${ARGON2_OPTIONS.parallelism}\n`,
);
console.log('| engine | case | per second (median) | rounds | ratio | aim |');
console.log('| --- | --- | ---: | --- | ---: | --- |');
for (const engine of authBenchEngines()) {
  const server = await startAuthServer(engine, 0, { TESSERA_ACCESS_TOKEN_TTL: '3600' });
  try {
    const login = {
      url: `${server.url}/auth/login`,
      method: 'POST' as const,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: server.email, password: server.password, tenantId: server.tenantId }),
    };
    const me = { url: `${server.url}/api/v1/me`, headers: { authorization: `Bearer ${server.accessToken}` } };
    // Warm-up: JIT, caches, the connection pool.
    await autocannon({ ...login, connections: LOGIN_CONNECTIONS, duration: 2 });
    await autocannon({ ...me, connections: ME_CONNECTIONS, duration: 2 });

    const figures = { raw: [] as number[], login: [] as number[], me: [] as number[], meFlood: [] as number[], loginFlood: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      figures.raw.push(await rawVerifications(cap, DURATION));
      figures.login.push(await rate({ ...login, connections: LOGIN_CONNECTIONS }));
      figures.me.push(await rate({ ...me, connections: ME_CONNECTIONS }));
      const flood = autocannon({ ...login, connections: LOGIN_CONNECTIONS, duration: DURATION + 2 });
      await new Promise((r) => setTimeout(r, 1000));
      figures.meFlood.push(await rate({ ...me, connections: ME_CONNECTIONS }));
      const floodResult = await flood;
      // Logins served per second over the whole flood (it ran a second before and after the /me load).
      figures.loginFlood.push(floodResult['2xx'] / (DURATION + 2));
    }
    const m = Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, median(v)])) as Record<keyof typeof figures, number>;
    const show = (name: string, key: keyof typeof figures, base?: keyof typeof figures, aim = '') =>
      console.log(`| ${engine} | ${name} | ${Math.round(m[key]).toLocaleString('en-US')} | ${figures[key].map((x) => Math.round(x)).join(' / ')} | ${base ? (m[key] / m[base]).toFixed(2) : '1.00'} | ${aim} |`);
    show(`raw argon2id verify, ${cap} at a time, server core (baseline)`, 'raw');
    show('POST /auth/login, right password, 8 connections', 'login', 'raw', '≥ 0.90');
    show(`GET /api/v1/me, ${ME_CONNECTIONS} connections (baseline)`, 'me');
    show(`GET /api/v1/me during an 8-connection login flood`, 'meFlood', 'me', '≥ 0.70');
    show('logins answered 200 during that flood', 'loginFlood', 'raw', '≥ 0.30');
  } finally {
    await server.stop();
  }
}
