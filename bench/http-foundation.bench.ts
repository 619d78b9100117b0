// GET /healthz and GET /.well-known/jwks.json on Tessera against bare Fastify, measured in the same run.
// Each server runs in its own process; autocannon runs here. Usage: npx tsx bench/http-foundation.bench.ts
import { cpus } from 'node:os';
import { CONNECTIONS, DURATION, load, row, startBareFastify, startTessera, TABLE_HEAD } from './lib.js';

const bare = await startBareFastify();
const tessera = await startTessera();
try {
  // Warm up both (JIT, the JWKS cache) before measuring.
  await load(`${bare.url}/healthz`, { duration: 2 });
  await load(`${tessera.url}/healthz`, { duration: 2 });
  await load(`${tessera.url}/.well-known/jwks.json`, { duration: 2 });

  const baseHealth = await load(`${bare.url}/healthz`);
  const health = await load(`${tessera.url}/healthz`);
  const baseJwks = await load(`${bare.url}/.well-known/jwks.json`);
  const jwks = await load(`${tessera.url}/.well-known/jwks.json`);

  console.log(`\nHTTP foundation — ${DURATION}s per case, ${CONNECTIONS} connections, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'})\n`);
  console.log(TABLE_HEAD);
  console.log(row('bare Fastify GET /healthz (baseline)', baseHealth));
  console.log(row('Tessera GET /healthz', health, baseHealth));
  console.log(row('bare Fastify GET /.well-known/jwks.json, empty set (baseline)', baseJwks));
  console.log(row('Tessera GET /.well-known/jwks.json (one RS256 key)', jwks, baseJwks));
} finally {
  await tessera.stop();
  await bare.stop();
}
