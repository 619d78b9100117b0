// The real Tessera app (buildApp, real guards, real database) plus three bench-only routes, in its own
// process. Prints one JSON line: { url, email, password, tenantId, tokensFile }.
//   GET /bench/authenticated  the real guard: token verify (cached) + the per-request session read
//   GET /bench/verify-only    the synchronous token verify alone, no session read (the "verify-only" baseline)
//   GET /bench/open           no authentication, same JSON (the in-app baseline)
// Env: DATABASE_URL (else PGlite in TESSERA_DATA_DIR), BENCH_TOKENS (how many distinct access tokens to mint).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createMasterKeys } from '../../src/crypto/master-key.js';
import { openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrator.js';
import { issueToken, verifyToken } from '../../src/features/sessions/tokens.js';
import { newId } from '../../src/kernel/ids.js';

// Every statement the pg driver sends, counted (GET /bench/statements), so a profile can say how many round
// trips and statements a request costs (pg_stat_statements is not assumed to be enabled).
const statements = { count: 0, byText: new Map<string, number>() };
// eslint-disable-next-line @typescript-eslint/unbound-method -- re-applied with the client as `this` below
const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0] as string | { text?: string; name?: string } | undefined;
  const text = typeof first === 'string' ? first : (first?.name ?? first?.text ?? '?');
  statements.count++;
  const key = text.replace(/\s+/g, ' ').slice(0, 80);
  statements.byText.set(key, (statements.byText.get(key) ?? 0) + 1);
  return query.apply(this, args);
} as typeof pg.Client.prototype.query;

const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', TESSERA_MASTER_KEY: process.env.TESSERA_MASTER_KEY ?? randomBytes(32).toString('base64') });
const db = await openDatabase(config.database);
await migrate(db);
const app = await buildApp({ config, db, masterKeys: createMasterKeys(config.masterKey!) });
await app.services.keys.ensureSigningKey();
const email = 'bench@example.com';
const password = 'bench password 1234';
const created = await app.services.bootstrap.bootstrap({ tenantName: 'Bench', accountName: 'Bench', email, password });
// BENCH_LOGIN_USERS=n: n more users with the same password and the first user's role in its account
// (bench-1@example.com …), so that parallel logins can be spread over accounts (bench/auth-login.bench.ts).
const loginUsers = Number(process.env.BENCH_LOGIN_USERS ?? 0);
for (let i = 1; i <= loginUsers; i++) {
  await db.tenantWork(created.tenantId, async (tx) => {
    const { id } = await app.services.identity.createUser(tx, created.tenantId, { email: `bench-${i}@example.com`, password });
    const role = await tx.selectFrom('role_assignments').select(['account_id', 'role_id']).where('user_id', '=', created.userId).executeTakeFirstOrThrow();
    await tx.insertInto('role_assignments').values({ tenant_id: created.tenantId, id: newId(), account_id: role.account_id, role_id: role.role_id, user_id: id, expires_at: null, group_id: null, expired_at: null }).execute();
  });
}

const settings = { issuer: config.publicUrl };
app.http.get('/bench/authenticated', { preHandler: app.guards.requireSession }, (request) => Promise.resolve({ userId: request.auth!.userId }));
app.http.get('/bench/verify-only', async (request, reply) => {
  const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
  const result = verifyToken(token, 'access', await app.services.keys.verificationKeys(), settings, Math.floor(Date.now() / 1000));
  if (!result.ok) return reply.code(401).send({ error: result.reason });
  return { userId: result.claims.sub };
});
// A V8 CPU profile of the measured window only (not the start-up): POST start, then POST stop writes it to `file`.
const inspector = new Session();
inspector.connect();
const post = (method: string, params?: object) =>
  new Promise<unknown>((resolve, reject) => inspector.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
app.http.post('/bench/profile/start', async () => {
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
  await post('Profiler.start');
  return {};
});
app.http.post('/bench/profile/stop', async (request) => {
  const { profile } = (await post('Profiler.stop')) as { profile: unknown };
  const file = (request.query as { file?: string }).file ?? path.join(tmpdir(), `tessera-request-${process.pid}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  return { file };
});
app.http.get('/bench/statements', () => Promise.resolve({ count: statements.count, byText: Object.fromEntries(statements.byText) }));
app.http.get('/bench/open', () => Promise.resolve({ userId: created.userId }));
await app.http.listen({ port: 0, host: '127.0.0.1' });

// Distinct access tokens of one live session (same claims, new jti each), for the "new token every request" case.
const login = await app.services.sessions.login({ email, password, tenantId: created.tenantId }, { ip: '127.0.0.1', userAgent: 'bench' });
if (login.status !== 'authenticated' || !login.session) throw new Error('bench login failed');
const key = await app.services.keys.currentSigningKey();
const tokens: string[] = [];
const now = Math.floor(Date.now() / 1000);
for (let i = 0; i < Number(process.env.BENCH_TOKENS ?? 0); i++) {
  const claims = { sub: created.userId, tid: created.tenantId, acc: created.accountId, sid: login.session.sessionId, amr: ['pwd'] };
  tokens.push((await issueToken('access', key, settings, claims, now, config.accessTokenTtlSeconds)).token);
}
const tokensFile = path.join(tmpdir(), `tessera-bench-tokens-${process.pid}.json`);
writeFileSync(tokensFile, JSON.stringify({ accessToken: login.session.accessToken, refreshToken: login.session.refreshToken, tokens }));

const address = app.http.server.address();
const url = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
process.stdout.write(`BENCH ${JSON.stringify({ url, email, password, tenantId: created.tenantId, tokensFile })}\n`);
process.once('SIGTERM', () => {
  void app.http.close().then(() => db.close()).then(() => process.exit(0));
});
