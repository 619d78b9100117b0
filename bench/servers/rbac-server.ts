// The real Tessera app plus two bench-only routes, in its own process, with a user in 50 groups holding
// 200 roles. Prints one JSON line: { url, accessToken, userId }.
//   GET /bench/authenticated  the session guard alone (token verify, cached, + the per-request session read)
//   GET /bench/guarded        the same plus the permission guard (requirePermission('roles.view'))
// Env: DATABASE_URL (else PGlite in TESSERA_DATA_DIR).
import { randomBytes } from 'node:crypto';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createMasterKeys } from '../../src/crypto/master-key.js';
import { openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrator.js';
import { seedManyRoles } from '../rbac-lib.js';

const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', TESSERA_MASTER_KEY: process.env.TESSERA_MASTER_KEY ?? randomBytes(32).toString('base64') });
const db = await openDatabase(config.database);
await migrate(db);
const app = await buildApp({ config, db, masterKeys: createMasterKeys(config.masterKey!) });
await app.services.keys.ensureSigningKey();
const created = await app.services.bootstrap.bootstrap({ tenantName: 'Bench', accountName: 'Bench', email: 'admin@bench.example', password: 'bench password 1234' });
const email = 'many-roles@bench.example';
const password = 'bench password 5678';
const userId = await seedManyRoles(app, created, email, password);

app.http.get('/bench/authenticated', { preHandler: app.guards.requireSession }, (request) => Promise.resolve({ userId: request.auth!.userId }));
app.http.get('/bench/guarded', { preHandler: app.guards.requirePermission('roles.view') }, (request) => Promise.resolve({ userId: request.auth!.userId }));
await app.http.listen({ port: 0, host: '127.0.0.1' });

const login = await app.services.sessions.login({ email, password, tenantId: created.tenantId }, { ip: '127.0.0.1', userAgent: 'bench' });
if (login.status !== 'authenticated' || !login.session) throw new Error('bench login failed');
const address = app.http.server.address();
const url = typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : '';
process.stdout.write(`BENCH ${JSON.stringify({ url, accessToken: login.session.accessToken, userId })}\n`);
process.once('SIGTERM', () => {
  void app.http.close().then(() => db.close()).then(() => process.exit(0));
});
