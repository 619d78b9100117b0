// Password logins, by the method (BENCHMARKS.md "Authentication: method"): the server pinned to one core
// (BENCH_SERVER_CPUS, default 1), this load generator on another (BENCH_LOAD_CPUS, default 0), PostgreSQL
// unpinned; ROUNDS (3) interleaved rounds of DURATION (8) seconds per case; medians. Per engine, in each round:
//   raw argon2id     verifications on the server's core, as many at a time as the server's hash cap (baseline)
//   login alone      POST /auth/login with the right password, 8 connections
//   /me alone        GET /api/v1/me, 32 connections (baseline)
//   /me + flood      GET /api/v1/me, 32 connections, while 8 connections send right-password logins
// Aims: login alone ≥ 0.90 of raw argon2id; /me during the flood ≥ 0.70 of /me alone; logins during the
// flood (answered 200) ≥ 0.30 of raw argon2id.
// For login alone, also the server's CPU per login (proc(5) utime + stime over the round ÷ logins answered), split
// into its main thread (the event loop) and its other threads (argon2 and signing on libuv's pool, V8's GC), and
// how busy the server's core was (process CPU ÷ wall time).
// Usage: npx tsx bench/auth-login.bench.ts   (PostgreSQL too with BENCH_DATABASE_URL=postgres://…;
// BENCH_CASES=raw,login runs only those cases of raw, login, me, flood; BENCH_LOGIN_USERS=n (default 7: one user per login
// connection) spreads the logins of "login alone" and of the flood over the bench user and n more users of the same
// password, in turn; with 0 they all go to one account: 8 parallel logins of one account
// are 8 reserved attempts on its throttle key, and from the 4th on the key waits (throttle-policy.ts), so part of
// them is answered 429 — the count of those is shown too)
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { ARGON2_OPTIONS, defaultHashConcurrency } from '../src/crypto/password.js';
import { authBenchEngines, startAuthServer } from './auth-lib.js';
import { cpuMicros, mainThreadCpuMicros, median, pinSelf, ROOT, ROUNDS } from './lib.js';

await pinSelf();
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const ME_CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const LOGIN_CONNECTIONS = 8;
const CASES = new Set((process.env.BENCH_CASES ?? 'raw,login,me,flood').split(','));
// Default: one user per login connection — the figure is logins of "users who can sign in", not one account's
// throttle key (BENCH_LOGIN_USERS=0 measures one account).
const LOGIN_USERS = Number(process.env.BENCH_LOGIN_USERS ?? LOGIN_CONNECTIONS - 1);

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

/** The same, with the server's CPU per answer (ms: the process, its main thread) and its core's busy share. */
async function rateWithCpu(options: autocannon.Options, pid: number) {
  const cpu = cpuMicros(pid);
  const main = mainThreadCpuMicros(pid);
  const started = performance.now();
  const r = await autocannon({ duration: DURATION, ...options });
  const wallMicros = (performance.now() - started) * 1000;
  const used = cpuMicros(pid) - cpu;
  const usedMain = mainThreadCpuMicros(pid) - main;
  const n = Math.max(1, r['2xx']);
  return { perSecond: r['2xx'] / DURATION, refusedPerSecond: r.non2xx / DURATION, cpuMs: used / n / 1000, mainMs: usedMain / n / 1000, busy: used / wallMicros };
}

const cap = defaultHashConcurrency();
console.log(
  `\nPassword login — server on CPU ${process.env.BENCH_SERVER_CPUS}, load on CPU ${process.env.BENCH_PINNED ?? 'any'}, ${ROUNDS} interleaved rounds of ${DURATION} s, medians; Node ${process.version}, ${cpus().length} cores, hash concurrency ${cap}, argon2id m=${ARGON2_OPTIONS.memoryCost} KiB t=${ARGON2_OPTIONS.timeCost} p=${ARGON2_OPTIONS.parallelism}\n`,
);
const logins: string[] = [];
console.log('| engine | case | per second (median) | rounds | ratio | aim |');
console.log('| --- | --- | ---: | --- | ---: | --- |');
for (const engine of authBenchEngines()) {
  const server = await startAuthServer(engine, 0, { TESSERA_ACCESS_TOKEN_TTL: '3600', BENCH_LOGIN_USERS: String(LOGIN_USERS) });
  try {
    const login = {
      url: `${server.url}/auth/login`,
      method: 'POST' as const,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: server.email, password: server.password, tenantId: server.tenantId }),
    };
    // The bench user, then bench-1 … bench-n in turn (same password), when BENCH_LOGIN_USERS is set.
    let turn = 0;
    const spread = {
      ...login,
      requests: [
        {
          setupRequest: (request: { body?: string | Buffer }) => {
            const i = turn++ % (LOGIN_USERS + 1);
            return { ...request, body: JSON.stringify({ email: i === 0 ? server.email : `bench-${i}@example.com`, password: server.password, tenantId: server.tenantId }) };
          },
        },
      ],
    };
    const me = { url: `${server.url}/api/v1/me`, headers: { authorization: `Bearer ${server.accessToken}` } };
    // Warm-up: JIT, caches, the connection pool.
    await autocannon({ ...(LOGIN_USERS > 0 ? spread : login), connections: LOGIN_CONNECTIONS, duration: 2 });
    await autocannon({ ...me, connections: ME_CONNECTIONS, duration: 2 });

    const figures = { raw: [] as number[], login: [] as number[], me: [] as number[], meFlood: [] as number[], loginFlood: [] as number[] };
    const loginCpu: { refusedPerSecond: number; cpuMs: number; mainMs: number; busy: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      if (CASES.has('raw')) figures.raw.push(await rawVerifications(cap, DURATION));
      if (CASES.has('login')) {
        const r = await rateWithCpu({ ...(LOGIN_USERS > 0 ? spread : login), connections: LOGIN_CONNECTIONS }, server.pid!);
        figures.login.push(r.perSecond);
        loginCpu.push(r);
      }
      if (CASES.has('me')) figures.me.push(await rate({ ...me, connections: ME_CONNECTIONS }));
      if (CASES.has('flood')) {
        const flood = autocannon({ ...(LOGIN_USERS > 0 ? spread : login), connections: LOGIN_CONNECTIONS, duration: DURATION + 2 });
        await new Promise((r) => setTimeout(r, 1000));
        figures.meFlood.push(await rate({ ...me, connections: ME_CONNECTIONS }));
        const floodResult = await flood;
        // Logins served per second over the whole flood (it ran a second before and after the /me load).
        figures.loginFlood.push(floodResult['2xx'] / (DURATION + 2));
      }
    }
    const m = Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, median(v)])) as Record<keyof typeof figures, number>;
    const show = (name: string, key: keyof typeof figures, base?: keyof typeof figures, aim = '') => {
      if (figures[key].length === 0) return;
      const ratio = !base ? '1.00' : figures[base].length > 0 ? (m[key] / m[base]).toFixed(2) : '—';
      console.log(`| ${engine} | ${name} | ${Math.round(m[key]).toLocaleString('en-US')} | ${figures[key].map((x) => Math.round(x)).join(' / ')} | ${ratio} | ${aim} |`);
    };
    show(`raw argon2id verify, ${cap} at a time, server core (baseline)`, 'raw');
    show('POST /auth/login, right password, 8 connections', 'login', 'raw', '≥ 0.90');
    show(`GET /api/v1/me, ${ME_CONNECTIONS} connections (baseline)`, 'me');
    show(`GET /api/v1/me during an 8-connection login flood`, 'meFlood', 'me', '≥ 0.70');
    show('logins answered 200 during that flood', 'loginFlood', 'raw', '≥ 0.30');
    if (loginCpu.length > 0) {
      const each = (f: (r: (typeof loginCpu)[number]) => number, digits: number) => `${median(loginCpu.map(f)).toFixed(digits)} (${loginCpu.map((r) => f(r).toFixed(digits)).join(' / ')})`;
      logins.push(
        `| ${engine} | ${LOGIN_USERS + 1} | ${each((r) => r.refusedPerSecond, 0)} | ${each((r) => r.cpuMs, 1)} | ${each((r) => r.mainMs, 1)} | ${each((r) => r.cpuMs - r.mainMs, 1)} | ${each((r) => r.busy * 100, 0)} |`,
      );
    }
  } finally {
    await server.stop();
  }
}
if (logins.length > 0) {
  console.log('\nServer CPU during login alone, median (rounds): ms per login answered 200 (refusals\' work included); busy = server CPU ÷ wall time\n');
  console.log('| engine | accounts | refused (non-2xx) /s | process ms/login | main thread ms/login | other threads ms/login | server core busy % |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const line of logins) console.log(line);
}
