// Password logins: (1) login throughput against raw argon2id hashing with the same parameters and the same
// concurrency cap, and (2) the authenticated route's throughput while a login flood runs, against the same
// route without the flood (DESIGN §3 step 4: hashing is capped below the thread pool, verify is synchronous).
// Usage: npx tsx bench/auth-login.bench.ts   (PostgreSQL too with BENCH_DATABASE_URL=postgres://…)
import { cpus } from 'node:os';
import { hash } from '@node-rs/argon2';
import autocannon from 'autocannon';
import { ARGON2_OPTIONS } from '../src/crypto/password.js';
import { defaultHashConcurrency } from '../src/crypto/password.js';
import { authBenchEngines, startAuthServer } from './auth-lib.js';
import { CONNECTIONS, DURATION, type Figure, load, row, TABLE_HEAD } from './lib.js';

/** Raw argon2id hashes per second, `concurrency` at a time (the server's cap), in this process. */
async function rawHashes(concurrency: number, seconds: number): Promise<Figure> {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        await hash('correct horse battery staple', ARGON2_OPTIONS);
        done++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return { requestsPerSecond: Math.round(done / elapsed), p50: 0, p99: 0, errors: 0 };
}

// The server's cap on concurrent password verifications at login, computed the same way in this process.
const cap = defaultHashConcurrency();
console.log(`\nPassword login — ${DURATION}s per case, Node ${process.version}, ${cpus().length} cores, hash concurrency ${cap}, argon2id m=${ARGON2_OPTIONS.memoryCost} KiB t=${ARGON2_OPTIONS.timeCost} p=${ARGON2_OPTIONS.parallelism}\n`);
console.log(TABLE_HEAD);
for (const engine of authBenchEngines()) {
  const server = await startAuthServer(engine);
  try {
    const loginRequest = {
      method: 'POST' as const,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: server.email, password: server.password, tenantId: server.tenantId }),
    };
    const auth = { authorization: `Bearer ${server.accessToken}` };
    await load(`${server.url}/auth/login`, { ...loginRequest, duration: 2, connections: 8 });
    await load(`${server.url}/bench/authenticated`, { headers: auth, duration: 2 });

    const raw = await rawHashes(cap, DURATION);
    const logins = await load(`${server.url}/auth/login`, { ...loginRequest, connections: 8 });
    const quiet = await load(`${server.url}/bench/authenticated`, { headers: auth });
    // The flood: logins with the right password (so no throttling), as many as the server takes.
    const flood = autocannon({ url: `${server.url}/auth/login`, ...loginRequest, connections: 20, duration: DURATION + 2 });
    await new Promise((r) => setTimeout(r, 1000));
    const loaded = await load(`${server.url}/bench/authenticated`, { headers: auth, connections: CONNECTIONS });
    const floodResult = await flood;
    const show = (name: string, f: Figure, b?: Figure) => console.log(row(`[${engine}] ${name}`, f, b));
    show(`raw argon2id hashes, ${cap} at a time (baseline)`, raw);
    show('POST /auth/login, right password (verify + session + tokens)', logins, raw);
    show('authenticated route, no flood (baseline)', quiet);
    show(`authenticated route during a login flood (${Math.round(floodResult.requests.average)} logins/s)`, loaded, quiet);
  } finally {
    await server.stop();
  }
}
