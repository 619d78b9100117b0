// GET /healthz and GET /.well-known/jwks.json on the real `tessera serve` (default LOG_LEVEL=info) against bare
// Fastify, per core: the server pinned to one core, this process (the load generator) to the other, rounds
// interleaved (bare Fastify, Tessera, bare Fastify, Tessera…), medians over the rounds, the server's CPU % and CPU µs
// per request beside each figure; on the embedded database, and on PostgreSQL with BENCH_DATABASE_URL.
// Usage: BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/http-foundation.bench.ts
// Env: BENCH_ROUNDS (3), BENCH_DURATION (8 s), BENCH_CONNECTIONS (32), BENCH_ENGINE, BENCH_PIN=0 (no pinning).
import { cpus } from 'node:os';
import { authBenchEngines, freshPostgres } from './auth-lib.js';
import { type Figure, load, medianFigure, PER_CORE_HEAD, perCoreRow, pinForPerCore, startBareFastify, startTessera } from './lib.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const pinning = pinForPerCore();
console.log(`\nHTTP foundation, per core — ${pinning}; ${ROUNDS} interleaved rounds × ${DURATION}s per case, ${CONNECTIONS} connections, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'})\n`);

const bare = await startBareFastify();
try {
  for (const engine of authBenchEngines()) {
    const pgdb = engine === 'postgres' ? await freshPostgres() : undefined;
    const tessera = await startTessera(pgdb ? { DATABASE_URL: pgdb.url } : {});
    try {
      const run = (url: string, pid: number | undefined, duration = DURATION) => load(url, { duration, connections: CONNECTIONS, serverPid: pid });
      // Warm up both (JIT, the JWKS cache) before measuring.
      for (const url of [`${bare.url}/healthz`, `${tessera.url}/healthz`, `${tessera.url}/.well-known/jwks.json`]) await run(url, undefined, 2);
      const pairs = [
        { name: 'GET /healthz', bare: `${bare.url}/healthz`, tessera: `${tessera.url}/healthz` },
        { name: 'GET /.well-known/jwks.json', bare: `${bare.url}/.well-known/jwks.json`, tessera: `${tessera.url}/.well-known/jwks.json` },
      ];
      const rounds = pairs.map(() => ({ bare: [] as Figure[], tessera: [] as Figure[] }));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [i, pair] of pairs.entries()) {
          rounds[i]!.bare.push(await run(pair.bare, bare.pid));
          rounds[i]!.tessera.push(await run(pair.tessera, tessera.pid));
        }
      }
      console.log(`\n[${engine}]\n`);
      console.log(PER_CORE_HEAD);
      for (const [i, pair] of pairs.entries()) {
        const baseline = medianFigure(rounds[i]!.bare);
        console.log(perCoreRow(`[${engine}] bare Fastify ${pair.name}, logger off (baseline)`, baseline, rounds[i]!.bare));
        console.log(perCoreRow(`[${engine}] Tessera ${pair.name} (LOG_LEVEL=info)`, medianFigure(rounds[i]!.tessera), rounds[i]!.tessera, baseline));
      }
    } finally {
      await tessera.stop();
      await pgdb?.drop();
    }
  }
} finally {
  await bare.stop();
}
