// The request hot path (DESIGN §3), per core: an authenticated request (token verify + the per-request session
// read) against bare Fastify, and, with a new token on every request, against a route that only verifies.
// Method (BENCHMARKS.md, "Method"): the server pinned to one core, this process (the load generator) to the other,
// PostgreSQL unpinned; rounds interleaved (bare Fastify, then each case, again and again), the median of each case
// over the rounds; the server's CPU % and CPU µs per request beside every figure.
// Usage: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/auth-request.bench.ts
// Env: BENCH_ROUNDS (3), BENCH_DURATION (8 s), BENCH_CONNECTIONS (32), BENCH_ENGINE (pglite|postgres),
//      BENCH_FRESH=0 (skip the new-token cases), BENCH_PIN=0 (no pinning), BENCH_SERVER_LOG_LEVEL (warn).
import { cpus } from 'node:os';
import type autocannon from 'autocannon';
import { type AuthServer, authBenchEngines, startAuthServer } from './auth-lib.js';
import { type Figure, load, medianFigure, PER_CORE_HEAD, perCoreRow, pinForPerCore, startBareFastify } from './lib.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const FRESH = process.env.BENCH_FRESH !== '0';

function withEachToken(server: AuthServer, route: string): Partial<autocannon.Options> {
  let i = 0;
  const options = {
    requests: [
      {
        method: 'GET' as const,
        path: route,
        setupRequest: (req: { headers?: Record<string, string> }) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${server.tokens[i++ % server.tokens.length]}` } }),
      },
    ],
  };
  return options as unknown as Partial<autocannon.Options>;
}

// Enough distinct tokens that few repeat within a case at the rates seen here.
const TOKENS = Number(process.env.BENCH_TOKENS ?? (FRESH ? 40_000 : 0));
const pinning = pinForPerCore();
console.log(
  `\nAuthenticated requests, per core — ${pinning}; ${ROUNDS} interleaved rounds × ${DURATION}s per case, ${CONNECTIONS} connections, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'})\n`,
);
const bare = await startBareFastify();
try {
  for (const engine of authBenchEngines()) {
    const server = await startAuthServer(engine, TOKENS);
    try {
      const auth = { authorization: `Bearer ${server.accessToken}` };
      const run = (url: string, options: Partial<autocannon.Options> = {}, pid = server.pid) => load(url, { duration: DURATION, connections: CONNECTIONS, serverPid: pid, ...options });
      // Warm-up (JIT, caches, the pool's connections) before any figure.
      for (const path of ['/bench/open', '/bench/authenticated', '/api/v1/me']) await run(`${server.url}${path}`, { duration: 2, headers: auth });
      await run(`${bare.url}/healthz`, { duration: 2 }, bare.pid);

      const cases: { name: string; measure: () => Promise<Figure>; baseline: 'bare' | 'verify' | 'none' }[] = [
        { name: 'Tessera, unauthenticated route', measure: () => run(`${server.url}/bench/open`), baseline: 'bare' },
        { name: 'authenticated route, reused token (verify cached + session read)', measure: () => run(`${server.url}/bench/authenticated`, { headers: auth }), baseline: 'bare' },
        { name: 'GET /api/v1/me, reused token (profile from the session read)', measure: () => run(`${server.url}/api/v1/me`, { headers: auth }), baseline: 'bare' },
        ...(FRESH
          ? [
              { name: 'verify-only route, new token every request (baseline)', measure: () => run(server.url, withEachToken(server, '/bench/verify-only')), baseline: 'none' as const },
              { name: 'authenticated route, new token every request (verify + session read)', measure: () => run(server.url, withEachToken(server, '/bench/authenticated')), baseline: 'verify' as const },
            ]
          : []),
      ];
      const bareRounds: Figure[] = [];
      const caseRounds = cases.map((): Figure[] => []);
      for (let round = 0; round < ROUNDS; round++) {
        bareRounds.push(await run(`${bare.url}/healthz`, {}, bare.pid));
        for (const [i, c] of cases.entries()) caseRounds[i]!.push(await c.measure());
      }
      const baseline = medianFigure(bareRounds);
      const figures = caseRounds.map(medianFigure);
      const verifyIndex = cases.findIndex((c) => c.baseline === 'none');
      console.log(`\n[${engine}]\n`);
      console.log(PER_CORE_HEAD);
      console.log(perCoreRow(`[${engine}] bare Fastify GET /healthz, logger off (baseline)`, baseline, bareRounds));
      for (const [i, c] of cases.entries()) {
        const against = c.baseline === 'bare' ? baseline : c.baseline === 'verify' ? figures[verifyIndex] : undefined;
        console.log(perCoreRow(`[${engine}] ${c.name}`, figures[i]!, caseRounds[i]!, against));
      }
    } finally {
      await server.stop();
    }
  }
} finally {
  await bare.stop();
}
