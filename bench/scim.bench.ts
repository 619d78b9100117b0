// SCIM provisioning at scale (issue "SCIM 2.0 server"): 10,000 users and 200 groups with members pushed over HTTP
// by 8 concurrent clients, as an IdP would; user-create latency and throughput against a plain pooled INSERT of
// the same rows in the same run; and how many requests of a user are still accepted after a SCIM deactivation's
// response (the aim: none).
// Usage: taskset -c 0 npx tsx bench/scim.bench.ts   (BENCH_SERVER_CPUS=1 pins the server to core 1; PostgreSQL too
// with BENCH_DATABASE_URL=postgres://…; BENCH_ENGINE picks one; BENCH_SCIM_USERS / BENCH_SCIM_GROUPS scale it)
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { authBenchEngines, type Engine, freshPostgres } from './auth-lib.js';
import { benchTempDir, ROOT, spawnServer } from './lib.js';

const USERS = Number(process.env.BENCH_SCIM_USERS ?? 10_000);
const GROUPS = Number(process.env.BENCH_SCIM_GROUPS ?? 200);
const MEMBERS_PER_GROUP = Number(process.env.BENCH_SCIM_MEMBERS ?? 50);
const CLIENTS = 8;
const PLAIN = Number(process.env.BENCH_SCIM_PLAIN ?? 5_000);
const ROUNDS = 5;
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

interface Started {
  url: string;
  email: string;
  password: string;
  tenantId: string;
  databaseUrl?: string;
  stop(): Promise<void>;
}

async function startServer(engine: Engine): Promise<Started> {
  const pgdb = engine === 'postgres' ? await freshPostgres() : undefined;
  const dataDir = benchTempDir();
  const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_DATA_DIR: dataDir, TESSERA_DB_POOL_MAX: '10' };
  delete env.DATABASE_URL;
  if (pgdb) env.DATABASE_URL = pgdb.url;
  const child: ChildProcess = spawnServer(['--import', 'tsx', 'bench/servers/scim-server.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const info = await new Promise<{ url: string; email: string; password: string; tenantId: string }>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /^BENCH (.+)$/m.exec(out);
      if (m) resolve(JSON.parse(m[1]!) as { url: string; email: string; password: string; tenantId: string });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('close', (code) => reject(new Error(`bench server exited with ${code}:\n${out}`)));
  });
  return {
    ...info,
    ...(pgdb ? { databaseUrl: pgdb.url } : {}),
    async stop() {
      await new Promise<void>((resolve) => {
        child.on('close', () => resolve());
        child.kill('SIGTERM');
      });
      await pgdb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function call<T>(url: string, method: string, pathname: string, token: string | null, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${pathname}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

/** Runs `count` jobs with `clients` concurrent workers; each job's latency (ms) and the wall time (s). */
async function run(count: number, clients: number, job: (i: number) => Promise<void>): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        await job(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - start) / 1000 };
}

const pct = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function expectStatus(p: Promise<{ status: number; body: unknown }>, status: number, what: string) {
  const r = await p;
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r;
}

console.log(`\nSCIM provisioning — default role ${process.env.BENCH_SCIM_DEFAULT_ROLE === '0' ? 'off' : 'on'}, ${USERS} users, ${GROUPS} groups × ${MEMBERS_PER_GROUP} members, ${CLIENTS} concurrent clients, Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'cpu'}), server cores: ${process.env.BENCH_SERVER_CPUS ?? 'unpinned'}\n`);
for (const engine of authBenchEngines()) {
  const server = await startServer(engine);
  try {
    const { url } = server;
    const login = await expectStatus(call<{ session: { accessToken: string } }>(url, 'POST', '/auth/login', null, { email: server.email, password: server.password, tenantId: server.tenantId }), 200, 'admin login');
    const admin = (login.body as { session: { accessToken: string } }).session.accessToken;
    const role = await expectStatus(call<{ id: string }>(url, 'POST', '/api/v1/roles', admin, { name: 'Member', permissions: ['idp.view'] }), 201, 'role');
    const dir = await expectStatus(call<{ id: string }>(url, 'POST', '/api/v1/scim/directories', admin, { name: 'Okta' }), 201, 'directory');
    const directoryId = (dir.body as { id: string }).id;
    const token = ((await expectStatus(call<{ token: string }>(url, 'POST', `/api/v1/scim/directories/${directoryId}/tokens`, admin), 201, 'token')).body as { token: string }).token;
    // Everyone the directory provisions holds the member role (and so can sign in to the account).
    // BENCH_SCIM_DEFAULT_ROLE=0 leaves it out (and the de-provisioning rounds, whose user must sign in).
    const withDefaultRole = process.env.BENCH_SCIM_DEFAULT_ROLE !== '0';
    if (withDefaultRole) await expectStatus(call(url, 'PUT', `/api/v1/scim/directories/${directoryId}/role-mappings`, admin, { mappings: [], defaultRoleId: (role.body as { id: string }).id }), 200, 'role mappings');
    const scim = (method: string, p: string, body?: unknown) => call<{ id: string }>(url, method, `/scim/v2/${directoryId}${p}`, token, body);

    // Warm-up (JIT, pools): 100 users, not counted.
    await run(100, CLIENTS, async (i) => {
      await expectStatus(scim('POST', '/Users', { schemas: [CORE_USER], userName: `warm${i}@bench.test`, emails: [{ value: `warm${i}@bench.test`, primary: true }], active: true }), 201, 'warm-up');
    });
    await run(100, CLIENTS, async (i) => {
      await expectStatus(call(url, 'POST', '/bench/plain-insert', null, { email: `warmplain${i}@bench.test`, userName: `warmplain${i}@bench.test` }), 201, 'warm-up plain');
    });

    const ids: string[] = new Array<string>(USERS);
    const started = performance.now();
    const users = await run(USERS, CLIENTS, async (i) => {
      const userName = `user${i}@bench.test`;
      const r = await expectStatus(
        scim('POST', '/Users', { schemas: [CORE_USER], userName, name: { givenName: 'Bench', familyName: `User ${i}` }, emails: [{ value: userName, primary: true, type: 'work' }], externalId: `00u${i}`, active: true }),
        201,
        'user create',
      );
      ids[i] = (r.body as { id: string }).id;
    });
    // Okta pushes a group empty, then its members in PATCH batches.
    const groups = await run(GROUPS, CLIENTS, async (g) => {
      const created = await expectStatus(scim('POST', '/Groups', { schemas: [CORE_GROUP], displayName: `group-${g}`, externalId: `00g${g}` }), 201, 'group create');
      const members = Array.from({ length: MEMBERS_PER_GROUP }, (_, k) => ({ value: ids[(g * MEMBERS_PER_GROUP + k) % USERS]! }));
      await expectStatus(scim('PATCH', `/Groups/${(created.body as { id: string }).id}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: members }] }), 200, 'group members');
    });
    const total = (performance.now() - started) / 1000;
    const plain = await run(PLAIN, CLIENTS, async (i) => {
      await expectStatus(call(url, 'POST', '/bench/plain-insert', null, { email: `plain${i}@bench.test`, userName: `plain${i}@bench.test` }), 201, 'plain insert');
    });
    // PostgreSQL only: the same two rows INSERTed straight from this process through a pool of 8 connections (no HTTP).
    let direct: { latencies: number[]; seconds: number } | undefined;
    if (server.databaseUrl) {
      const pool = new pg.Pool({ connectionString: server.databaseUrl, max: CLIENTS });
      try {
        direct = await run(PLAIN, CLIENTS, async (i) => {
          const c = await pool.connect();
          try {
            await c.query('begin');
            const id = await c.query<{ id: string }>("insert into users (tenant_id, id, email, name, active) values ($1, gen_random_uuid(), $2, 'Bench User', true) returning id", [server.tenantId, `direct${i}@bench.test`]);
            await c.query('insert into scim_users (tenant_id, directory_id, user_id, user_name, external_id, active, resource) values ($1, $2, $3, $4, null, true, $5::jsonb)', [server.tenantId, directoryId, id.rows[0]!.id, `direct${i}@bench.test`, JSON.stringify({ emails: [{ value: `direct${i}@bench.test`, primary: true }] })]);
            await c.query('commit');
          } finally {
            c.release();
          }
        });
      } finally {
        await pool.end();
      }
    }
    const listed = await run(20, 1, async () => {
      await expectStatus(scim('GET', '/Groups?count=200&excludedAttributes=members'), 200, 'list groups');
    });

    // De-provisioning: a signed-in user requests /api/v1/me from 4 clients in a loop; the IdP deactivates it.
    const rounds: { acceptedAfter: number; refusedAfterMs: number }[] = [];
    for (let r = 0; r < (withDefaultRole ? ROUNDS : 0); r++) {
      const userName = `leaver${r}@bench.test`;
      const leaver = ((await expectStatus(scim('POST', '/Users', { schemas: [CORE_USER], userName, emails: [{ value: userName, primary: true }], active: true }), 201, 'leaver')).body as { id: string }).id;
      const session = ((await expectStatus(call(url, 'POST', '/bench/session', null, { userId: leaver }), 200, 'leaver session')).body as { accessToken: string }).accessToken;
      const log: { sentAt: number; status: number }[] = [];
      let stop = false;
      const loops = Array.from({ length: 4 }, async () => {
        while (!stop) {
          const sentAt = performance.now();
          const res = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${session}` } });
          await res.arrayBuffer();
          log.push({ sentAt, status: res.status });
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await expectStatus(scim('PATCH', `/Users/${leaver}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] }), 200, 'deactivate');
      const answeredAt = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 500));
      stop = true;
      await Promise.all(loops);
      const after = log.filter((e) => e.sentAt >= answeredAt);
      const firstRefused = after.find((e) => e.status === 401);
      if (log.filter((e) => e.sentAt < answeredAt).every((e) => e.status !== 200)) throw new Error('the session never worked');
      rounds.push({ acceptedAfter: after.filter((e) => e.status === 200).length, refusedAfterMs: firstRefused ? firstRefused.sentAt - answeredAt : NaN });
    }

    const userRate = USERS / users.seconds;
    const plainRate = PLAIN / plain.seconds;
    console.log(`| [${engine}] case | figure |\n| --- | ---: |`);
    console.log(`| [${engine}] ${fmt(USERS)} users + ${GROUPS} groups (${fmt(GROUPS * MEMBERS_PER_GROUP)} memberships), wall time | ${fmt(total, 1)} s |`);
    console.log(`| [${engine}] users phase / groups phase | ${fmt(users.seconds, 1)} s / ${fmt(groups.seconds, 1)} s |`);
    console.log(`| [${engine}] SCIM user create, p50 / p99 | ${fmt(pct(users.latencies, 50), 1)} / ${fmt(pct(users.latencies, 99), 1)} ms |`);
    console.log(`| [${engine}] SCIM user create throughput | ${fmt(userRate)} /s |`);
    const slice = Math.min(1000, Math.floor(USERS / 4));
    console.log(`| [${engine}] user create p50, first ${slice} / last ${slice} | ${fmt(pct(users.latencies.slice(0, slice), 50), 1)} / ${fmt(pct(users.latencies.slice(-slice), 50), 1)} ms |`);
    console.log(`| [${engine}] plain pooled INSERT of the same rows over HTTP (baseline), p50 / p99 | ${fmt(pct(plain.latencies, 50), 1)} / ${fmt(pct(plain.latencies, 99), 1)} ms |`);
    console.log(`| [${engine}] plain INSERT throughput (baseline) | ${fmt(plainRate)} /s |`);
    console.log(`| [${engine}] SCIM create throughput / plain INSERT | ${fmt((100 * userRate) / plainRate, 1)} % |`);
    if (direct) {
      const directRate = PLAIN / direct.seconds;
      console.log(`| [${engine}] plain INSERT over a pg pool of ${CLIENTS}, no HTTP (baseline 2), p50 / p99 | ${fmt(pct(direct.latencies, 50), 1)} / ${fmt(pct(direct.latencies, 99), 1)} ms |`);
      console.log(`| [${engine}] pooled INSERT throughput, no HTTP (baseline 2) | ${fmt(directRate)} /s |`);
      console.log(`| [${engine}] SCIM create throughput / pooled INSERT, no HTTP | ${fmt((100 * userRate) / directRate, 1)} % |`);
    }
    console.log(`| [${engine}] group create + 50-member PATCH, p50 / p99 | ${fmt(pct(groups.latencies, 50), 1)} / ${fmt(pct(groups.latencies, 99), 1)} ms |`);
    console.log(`| [${engine}] GET /Groups?count=200&excludedAttributes=members, p50 / p99 | ${fmt(pct(listed.latencies, 50), 1)} / ${fmt(pct(listed.latencies, 99), 1)} ms |`);
    console.log(`| [${engine}] requests accepted after the deactivation's response (${ROUNDS} rounds, 4 clients) | ${rounds.map((x) => x.acceptedAfter).join(', ')} |`);
    console.log(`| [${engine}] first refusal, ms after the deactivation's response | ${rounds.map((x) => fmt(x.refusedAfterMs, 1)).join(', ')} |`);
    console.log('');
  } finally {
    await server.stop();
  }
}
