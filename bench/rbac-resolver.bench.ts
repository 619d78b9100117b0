// The resolver alone, in process (DESIGN §3 step 3): checks per second for a user in 50 groups with 200 roles —
// uncached (the one grants query + resolve, what a cache miss costs) and cached (the guard's hit path).
// Usage: npx tsx bench/rbac-resolver.bench.ts   (PostgreSQL too with BENCH_DATABASE_URL=postgres://…)
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/load-config.js';
import { createMasterKeys } from '../src/crypto/master-key.js';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrator.js';
import { authBenchEngines } from './auth-lib.js';
import { GROUPS, ROLES, seedManyRoles } from './rbac-lib.js';
import { benchTempDir } from './lib.js';

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TESSERA_TEST_DATABASE_URL;
const SECONDS = Number(process.env.BENCH_DURATION ?? 5);

async function perSecond(fn: () => Promise<unknown>): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  let n = 0;
  const start = performance.now();
  while (performance.now() < end) {
    await fn();
    n++;
  }
  return Math.round(n / ((performance.now() - start) / 1000));
}

console.log(`\nResolver in process, user in ${GROUPS} groups with ${ROLES} roles — ${SECONDS}s per case, Node ${process.version}\n`);
console.log('| case | checks/s |\n| --- | ---: |');
for (const engine of authBenchEngines()) {
  let url: string | undefined;
  let name = '';
  if (engine === 'postgres') {
    name = `tessera_bench_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(adminUrl!);
    u.pathname = `/${name}`;
    url = u.toString();
  }
  const config = loadConfig({ LOG_LEVEL: 'warn', TESSERA_MASTER_KEY: randomBytes(32).toString('base64'), TESSERA_DATA_DIR: benchTempDir(), ...(url ? { DATABASE_URL: url } : {}) });
  const db = await openDatabase(config.database);
  try {
    await migrate(db);
    const app = await buildApp({ config, db, masterKeys: createMasterKeys(config.masterKey!), logger: false });
    const created = await app.services.bootstrap.bootstrap({ tenantName: 'Bench', accountName: 'Bench', email: 'admin@bench.example', password: 'bench password 1234' });
    const userId = await seedManyRoles(app, created, 'many@bench.example', 'bench password 5678');
    const { access } = app.services.rbac;
    const ctx = { tenantId: created.tenantId, userId, accountId: created.accountId, authzEpoch: 1 };
    const uncached = await perSecond(() => db.tenantWork(created.tenantId, (tx) => access.compute(tx, created.tenantId, userId, created.accountId)));
    await access.has(ctx, 'roles.view');
    const cached = await perSecond(() => access.has(ctx, 'roles.view'));
    console.log(`| [${engine}] resolve uncached (grants query + union of ${ROLES} roles) | ${uncached.toLocaleString('en-US')} |`);
    console.log(`| [${engine}] check, cached by (user, account, epoch) | ${cached.toLocaleString('en-US')} |`);
    await app.http.close();
  } finally {
    await db.close();
    if (url) {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    }
  }
}
