// Profile of one SCIM user create (issue "SCIM 2.0 server", the benchmark's miss): every SQL statement a
// `POST /Users` sends, in order, with its round-trip time, on PostgreSQL (BENCH_DATABASE_URL or
// TESSERA_TEST_DATABASE_URL). In-process (app.http.inject): no HTTP socket, one request at a time, so the times are
// the statements' own. Usage: npx tsx bench/scim-profile.ts
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/load-config.js';
import { createMasterKeys } from '../src/crypto/master-key.js';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrator.js';
import { freshPostgres } from './auth-lib.js';

const log: { text: string; ms: number }[] = [];
let recording = false;
// eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with apply below
const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
(pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.Client, ...args: unknown[]) {
  const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string }).text ?? '?');
  const t0 = performance.now();
  const result = original.apply(this, args);
  if (recording && result instanceof Promise) void result.then(() => log.push({ text, ms: performance.now() - t0 }), () => log.push({ text: `ERR ${text}`, ms: performance.now() - t0 }));
  return result;
};

const pgdb = await freshPostgres();
try {
  const config = loadConfig({ ...process.env, DATABASE_URL: pgdb.url, LOG_LEVEL: 'warn', TESSERA_MASTER_KEY: randomBytes(32).toString('base64') });
  const db = await openDatabase(config.database);
  await migrate(db);
  const app = await buildApp({ config, db, masterKeys: createMasterKeys(config.masterKey!) });
  await app.services.keys.ensureSigningKey();
  const created = await app.services.bootstrap.bootstrap({ tenantName: 'Bench', accountName: 'Bench', email: 'bench@example.com', password: 'bench password 1234' });
  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, token: string | null, body?: unknown) => {
    const res = await app.http.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(body === undefined ? {} : { payload: body as object }) });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return JSON.parse(res.body) as Record<string, unknown>;
  };
  const login = await call('POST', '/auth/login', null, { email: 'bench@example.com', password: 'bench password 1234', tenantId: created.tenantId });
  const admin = (login.session as { accessToken: string }).accessToken;
  const role = await call('POST', '/api/v1/roles', admin, { name: 'Member', permissions: ['idp.view'] });
  const dir = await call('POST', '/api/v1/scim/directories', admin, { name: 'Okta' });
  const token = (await call('POST', `/api/v1/scim/directories/${dir.id as string}/tokens`, admin)).token as string;
  if (process.env.BENCH_SCIM_DEFAULT_ROLE !== '0') await call('PUT', `/api/v1/scim/directories/${dir.id as string}/role-mappings`, admin, { mappings: [], defaultRoleId: role.id });
  const body = (i: number) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `u${i}@example.com`, name: { givenName: 'U', familyName: `${i}` }, emails: [{ primary: true, value: `u${i}@example.com`, type: 'work' }], displayName: `U ${i}`, active: true });
  for (let i = 0; i < 50; i++) await call('POST', `/scim/v2/${dir.id as string}/Users`, token, body(i)); // warm
  const N = 200;
  recording = true;
  const t0 = performance.now();
  for (let i = 50; i < 50 + N; i++) await call('POST', `/scim/v2/${dir.id as string}/Users`, token, body(i));
  const total = performance.now() - t0;
  recording = false;
  await new Promise((r) => setTimeout(r, 50));
  const perCreate = log.length / N;
  const byText = new Map<string, { n: number; ms: number }>();
  for (const q of log) {
    const key = q.text.replace(/\s+/g, ' ').slice(0, 150);
    const e = byText.get(key) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += q.ms;
    byText.set(key, e);
  }
  const sqlMs = log.reduce((s, q) => s + q.ms, 0) / N;
  console.log(`${N} sequential creates: ${(total / N).toFixed(2)} ms each, ${perCreate.toFixed(1)} statements each, ${sqlMs.toFixed(2)} ms of them in SQL round trips`);
  for (const [text, e] of byText) console.log(`${(e.n / N).toFixed(2).padStart(5)} × ${(e.ms / e.n).toFixed(3).padStart(7)} ms  ${text}`);
  await app.http.close();
  await db.close();
} finally {
  await pgdb.drop();
}
