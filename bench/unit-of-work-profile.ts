// CPU per unit of work, one at a time, in-process: `tenantWork` with one small read (BEGIN, the role and tenant
// settings, the read, COMMIT), so the cost of a unit of work's own round trips shows apart from any request's.
// Process CPU (process.cpuUsage, every thread) and wall time per unit of work, BENCH_UOW_OPS (2,000) of them, 5 runs,
// the median; PGlite, and PostgreSQL with BENCH_DATABASE_URL. Usage: npx tsx bench/unit-of-work-profile.ts
import { rmSync } from 'node:fs';
import { openDatabase } from '../src/db/database.js';
import { migrate } from '../src/db/migrator.js';
import { authBenchEngines, freshPostgres } from './auth-lib.js';
import { benchTempDir, median } from './lib.js';

const OPS = Number(process.env.BENCH_UOW_OPS ?? 2000);
const tenantId = '0190a0b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b';
for (const engine of authBenchEngines()) {
  const target = engine === 'postgres' ? await freshPostgres() : undefined;
  const dataDir = benchTempDir();
  const db = await openDatabase(target ? { kind: 'postgres', url: target.url, dataDir: 'memory://', poolMax: 1 } : { kind: 'pglite', dataDir, poolMax: 1 });
  try {
    await migrate(db);
    const one = () => db.tenantWork(tenantId, (tx) => tx.selectFrom('users').select('id').where('tenant_id', '=', tenantId).where('email', '=', 'nobody@example.com').execute());
    for (let i = 0; i < 200; i++) await one();
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let run = 0; run < 5; run++) {
      const c = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < OPS; i++) await one();
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / OPS);
      wall.push(((performance.now() - started) * 1000) / OPS);
    }
    console.log(`| ${engine} | tenantWork + 1 read | ${Math.round(median(cpu))} (${cpu.map(Math.round).join(' / ')}) | ${Math.round(median(wall))} |`);
  } finally {
    await db.close();
    await target?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
