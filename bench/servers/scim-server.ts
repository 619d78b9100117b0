// The real Tessera app (buildApp, real guards, real database) for the SCIM benchmark, in its own process, plus two
// bench-only routes. Prints one JSON line: { url, email, password, tenantId }.
//   POST /bench/plain-insert {email, userName}  the same two rows a SCIM user create writes (users, scim_users), as a
//                                              plain INSERT in one pooled transaction: the throughput baseline
//   POST /bench/session {userId}               gives a provisioned user a password and signs it in: its access token
// Env: DATABASE_URL (else PGlite in TESSERA_DATA_DIR).
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createMasterKeys } from '../../src/crypto/master-key.js';
import { openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrator.js';
import { newId } from '../../src/kernel/ids.js';

const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', TESSERA_MASTER_KEY: process.env.TESSERA_MASTER_KEY ?? randomBytes(32).toString('base64') });
const db = await openDatabase(config.database);
await migrate(db);
const app = await buildApp({ config, db, masterKeys: createMasterKeys(config.masterKey!) });
await app.services.keys.ensureSigningKey();
const email = 'bench@example.com';
const password = 'bench password 1234';
const created = await app.services.bootstrap.bootstrap({ tenantName: 'Bench', accountName: 'Bench', email, password });
const tenantId = created.tenantId;
const directoryId = newId();
await db.tenantWork(tenantId, (tx) => sql`insert into scim_directories (tenant_id, id, name) values (${tenantId}, ${directoryId}, 'plain inserts')`.execute(tx));

app.http.post('/bench/plain-insert', async (request, reply) => {
  const body = request.body as { email: string; userName: string };
  const id = newId();
  await db.tenantWork(tenantId, async (tx) => {
    await sql`insert into users (tenant_id, id, email, name, active) values (${tenantId}, ${id}, ${body.email}, 'Bench User', true)`.execute(tx);
    await sql`insert into scim_users (tenant_id, directory_id, user_id, user_name, external_id, active, resource) values (${tenantId}, ${directoryId}, ${id}, ${body.userName}, null, true, ${JSON.stringify({ emails: [{ value: body.email, primary: true }] })}::jsonb)`.execute(tx);
  });
  return reply.code(201).send({ id });
});

const userPassword = 'provisioned user password 1234';
const userHash = await app.services.passwords.hash(userPassword);
app.http.post('/bench/session', async (request) => {
  const { userId } = request.body as { userId: string };
  const user = await db.tenantWork(tenantId, async (tx) => {
    await sql`update users set password_hash = ${userHash} where tenant_id = ${tenantId} and id = ${userId}`.execute(tx);
    return (await sql<{ email: string }>`select email from users where tenant_id = ${tenantId} and id = ${userId}`.execute(tx)).rows[0]!;
  });
  const login = await app.services.sessions.login({ email: user.email, password: userPassword, tenantId }, { ip: '127.0.0.1', userAgent: 'bench' });
  if (login.status !== 'authenticated' || !login.session) throw new Error(`bench login failed: ${login.status}`);
  return { accessToken: login.session.accessToken };
});
await app.http.listen({ port: 0, host: '127.0.0.1' });

const address = app.http.server.address();
const url = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
process.stdout.write(`BENCH ${JSON.stringify({ url, email, password, tenantId })}\n`);
process.once('SIGTERM', () => {
  void app.http.close().then(() => db.close()).then(() => process.exit(0));
});
