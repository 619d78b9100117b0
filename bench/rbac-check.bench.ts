// The permission check over HTTP (DESIGN §3 steps 2–3, fresh and fast): the permission guard on a route and
// POST /api/v1/authz/check, against the plain authenticated request of the login issue, for a user in 50
// groups holding 200 roles. Aim: the guard adds at most 10 % to the authenticated request.
// Usage: npx tsx bench/rbac-check.bench.ts   (PostgreSQL too with BENCH_DATABASE_URL=postgres://…)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import pg from 'pg';
import { authBenchEngines, type Engine } from './auth-lib.js';
import { benchTempDir, CONNECTIONS, DURATION, load, ROOT, row, startBareFastify, TABLE_HEAD, type Figure } from './lib.js';

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TESSERA_TEST_DATABASE_URL;

async function startRbacServer(engine: Engine) {
  let drop = async () => {};
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_DATA_DIR: benchTempDir(), TESSERA_DB_POOL_MAX: '10' };
  delete env.DATABASE_URL;
  if (engine === 'postgres') {
    const name = `tessera_bench_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(adminUrl!);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    drop = async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers/rbac-server.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const info = await new Promise<{ url: string; accessToken: string; userId: string }>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /^BENCH (.+)$/m.exec(out);
      if (m) resolve(JSON.parse(m[1]!) as { url: string; accessToken: string; userId: string });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => reject(new Error(`bench server exited with ${code}:\n${out}`)));
  });
  return {
    ...info,
    async stop() {
      await new Promise<void>((resolve) => {
        child.on('close', () => resolve());
        child.kill('SIGTERM');
      });
      await drop();
    },
  };
}

console.log(`\nPermission checks, user in 50 groups with 200 roles — ${DURATION}s per case, ${CONNECTIONS} connections, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'})\n`);
console.log(TABLE_HEAD);
const bare = await startBareFastify();
try {
  for (const engine of authBenchEngines()) {
    const server = await startRbacServer(engine);
    try {
      const headers = { authorization: `Bearer ${server.accessToken}` };
      const check = { method: 'POST' as const, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ user: server.userId, permission: 'roles.view' }) };
      for (const p of ['/bench/authenticated', '/bench/guarded']) await load(`${server.url}${p}`, { duration: 2, headers });
      await load(`${server.url}/api/v1/authz/check`, { duration: 2, ...check });
      const baseline = await load(`${bare.url}/healthz`);
      const authenticated = await load(`${server.url}/bench/authenticated`, { headers });
      const guarded = await load(`${server.url}/bench/guarded`, { headers });
      const checked = await load(`${server.url}/api/v1/authz/check`, check);
      const show = (name: string, f: Figure, b?: Figure) => console.log(row(`[${engine}] ${name}`, f, b));
      show('bare Fastify GET /healthz', baseline);
      show('authenticated route (baseline: token + session read)', authenticated);
      show('same route + permission guard roles.view', guarded, authenticated);
      show('POST /api/v1/authz/check (own token, one check)', checked, authenticated);
    } finally {
      await server.stop();
    }
  }
} finally {
  await bare.stop();
}
