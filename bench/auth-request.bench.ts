// The request hot path (DESIGN §3): an authenticated request (token verify + the per-request session read)
// against bare Fastify, and, with a new token on every request, against a route that only verifies.
// Usage: npx tsx bench/auth-request.bench.ts   (PostgreSQL too with BENCH_DATABASE_URL=postgres://…)
import { cpus } from 'node:os';
import type autocannon from 'autocannon';
import { type AuthServer, authBenchEngines, startAuthServer } from './auth-lib.js';
import { CONNECTIONS, DURATION, type Figure, load, row, startBareFastify, TABLE_HEAD } from './lib.js';

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

// Enough distinct tokens that no token repeats within a case at the rates seen here.
const TOKENS = Number(process.env.BENCH_TOKENS ?? 40_000);
console.log(`\nAuthenticated requests — ${DURATION}s per case, ${CONNECTIONS} connections, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'})\n`);
console.log(TABLE_HEAD);
const bare = await startBareFastify();
try {
  for (const engine of authBenchEngines()) {
    const server = await startAuthServer(engine, TOKENS);
    try {
      const auth = { authorization: `Bearer ${server.accessToken}` };
      for (const path of ['/bench/open', '/bench/authenticated', '/api/v1/me']) await load(`${server.url}${path}`, { duration: 2, headers: auth });
      await load(`${bare.url}/healthz`, { duration: 2 });

      const baseline = await load(`${bare.url}/healthz`);
      const open = await load(`${server.url}/bench/open`);
      const reused = await load(`${server.url}/bench/authenticated`, { headers: auth });
      const me = await load(`${server.url}/api/v1/me`, { headers: auth });
      const verifyOnly = await load(server.url, withEachToken(server, '/bench/verify-only'));
      const fresh = await load(server.url, withEachToken(server, '/bench/authenticated'));
      const show = (name: string, f: Figure, b?: Figure) => console.log(row(`[${engine}] ${name}`, f, b));
      show('bare Fastify GET /healthz (baseline)', baseline);
      show('Tessera, unauthenticated route', open, baseline);
      show('authenticated route, reused token (verify cached + session read)', reused, baseline);
      if (me.errors === 0) show('GET /api/v1/me, reused token (profile from the session read)', me, baseline);
      show('verify-only route, new token every request (baseline)', verifyOnly);
      show('authenticated route, new token every request (verify + session read)', fresh, verifyOnly);
    } finally {
      await server.stop();
    }
  }
} finally {
  await bare.stop();
}
