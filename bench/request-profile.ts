// One route of the bench server under load, for a profile: the server's CPU µs per request (its CPU time over the
// requests it served, much less sensitive to a busy machine than req/s), the PostgreSQL statements the driver sent
// per request, and, with BENCH_PROFILE=<file prefix>, a V8 CPU profile of the server over the measured window
// (`<prefix>-<engine>.cpuprofile`; open it in Chrome DevTools, or summarise it with bench/profile-summary.ts).
// Usage: BENCH_ENGINE=postgres BENCH_DATABASE_URL=postgres://… npx tsx bench/request-profile.ts /api/v1/me
// `/auth/login` is POSTed with the bench user's right password instead (the login bench's request).
// Env: BENCH_DURATION (8 s), BENCH_CONNECTIONS (32; 8 for /auth/login), BENCH_PIN=0 (no pinning).
import path from 'node:path';
import { authBenchEngines, startAuthServer } from './auth-lib.js';
import { cpuMicros, load, pinForPerCore } from './lib.js';
import pg from 'pg';

/** CPU time so far of the PostgreSQL backends serving the bench server's database (same machine; proc(5)). */
async function backendMicros(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
    let sum = 0;
    for (const { pid } of rows) {
      try {
        sum += cpuMicros(pid);
      } catch {
        // A backend that ended in between.
      }
    }
    return sum;
  } finally {
    await client.end();
  }
}

const route = process.argv[2] ?? '/api/v1/me';
const DURATION = Number(process.env.BENCH_DURATION ?? 8);
const isLogin = route === '/auth/login';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? (isLogin ? 8 : 32));
const pinning = pinForPerCore();
for (const engine of authBenchEngines()) {
  const server = await startAuthServer(engine, 0);
  try {
    const request = isLogin
      ? { method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: server.email, password: server.password, tenantId: server.tenantId }) }
      : { headers: { authorization: `Bearer ${server.accessToken}` } };
    const statements = async () => ((await (await fetch(`${server.url}/bench/statements`)).json()) as { count: number; byText: Record<string, number> });
    await load(`${server.url}${route}`, { duration: 2, connections: CONNECTIONS, ...request });
    const before = await statements();
    const pgBefore = server.databaseUrl ? await backendMicros(server.databaseUrl) : 0;
    const prefix = process.env.BENCH_PROFILE;
    if (prefix) await fetch(`${server.url}/bench/profile/start`, { method: 'POST' });
    const figure = await load(`${server.url}${route}`, { duration: DURATION, connections: CONNECTIONS, ...request, serverPid: server.pid });
    const after = await statements();
    const pgAfter = server.databaseUrl ? await backendMicros(server.databaseUrl) : 0;
    if (prefix) await fetch(`${server.url}/bench/profile/stop?file=${encodeURIComponent(path.resolve(`${prefix}-${engine}.cpuprofile`))}`, { method: 'POST' });
    const served = figure.requestsPerSecond * DURATION;
    const perText = Object.entries(after.byText)
      .map(([text, n]) => [text, n - (before.byText[text] ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .map(([text, n]) => `    ${(n / served).toFixed(3)}/request  ${text}`);
    console.log(`[${engine}] ${route} (${pinning}): ${figure.requestsPerSecond} req/s, server CPU ${figure.cpuPercent} %, ${figure.cpuMicrosPerRequest} µs/request, errors ${figure.errors}`);
    console.log(`  statements sent: ${((after.count - before.count) / served).toFixed(3)} per request`);
    if (server.databaseUrl) console.log(`  PostgreSQL backends' CPU: ${Math.round((pgAfter - pgBefore) / served)} µs/request, ${Math.round(((pgAfter - pgBefore) / (DURATION * 1e6)) * 100)} % of a core`);
    console.log(perText.join('\n'));
  } finally {
    await server.stop();
  }
}
