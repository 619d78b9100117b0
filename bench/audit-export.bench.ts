// Export of a large chain (default 1,000,000 events) in ndjson, csv and json: rows/s and memory, sampled
// every 100,000 rows, proving memory stays flat (pages of 1,000 through keyset pagination, pulled by the
// consumer). Baseline in the same run: reading the same pages without serializing them. Then verify.
// Usage: npx tsx bench/audit-export.bench.ts   (BENCH_EVENTS=…, BENCH_ENGINE=pglite|postgres, BENCH_DATABASE_URL=…)
import { cpus } from 'node:os';
import { sql } from 'kysely';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createAuditQueries } from '../src/features/audit/audit-query.js';
import * as store from '../src/features/audit/audit.store.js';
import { benchDatabase, benchEngines, createTenants, fmt, seedChain } from './audit-lib.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const SAMPLE = 100_000;
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

interface Sampled {
  rowsPerSecond: number;
  bytes: number;
  rssAtFirstSample: number;
  peakRss: number;
  heapAtFirstSample: number;
  peakHeap: number;
}

async function measure(body: (onRows: (n: number) => void) => Promise<number>): Promise<Sampled> {
  globalThis.gc?.();
  let rows = 0;
  let nextSample = SAMPLE;
  let rssAtFirstSample = 0;
  let heapAtFirstSample = 0;
  let peakRss = 0;
  let peakHeap = 0;
  const started = process.hrtime.bigint();
  const bytes = await body((n) => {
    rows += n;
    if (rows >= nextSample) {
      nextSample += SAMPLE;
      const m = process.memoryUsage();
      if (!rssAtFirstSample) {
        rssAtFirstSample = m.rss;
        heapAtFirstSample = m.heapUsed;
      }
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { rowsPerSecond: rows / seconds, bytes, rssAtFirstSample, peakRss, heapAtFirstSample, peakHeap };
}

/** A sink that counts bytes and applies backpressure like a slow-enough network socket would. */
function sink(counter: { bytes: number }) {
  return new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _enc, done) {
      counter.bytes += chunk.length;
      setImmediate(done);
    },
  });
}

console.log(`\nAudit export — ${fmt(EVENTS)} events in one tenant chain; Node ${process.version}, ${cpus().length} cores; memory sampled every ${fmt(SAMPLE)} rows\n`);
console.log('| engine | case | rows/s | output MB | RSS at 100k rows MB | peak RSS MB | heap at 100k rows MB | peak heap MB |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const engine of benchEngines()) {
  const { db, drop } = await benchDatabase(engine);
  try {
    const [tenant] = await createTenants(db, 1);
    const seedStart = Date.now();
    await seedChain(db, tenant!, EVENTS, (done) => {
      if (done % 200_000 === 0) process.stderr.write(`  seeded ${fmt(done)} events on ${engine} (${((Date.now() - seedStart) / 1000).toFixed(0)} s)\n`);
    });
    // What autovacuum would have done by now on a table this size: planner statistics and hint bits.
    await db.ownerWork((tx) => sql`analyze audit_events`.execute(tx));
    const queries = createAuditQueries({ db });

    const row = (label: string, s: Sampled) =>
      console.log(
        `| ${engine} | ${label} | ${fmt(s.rowsPerSecond)} | ${s.bytes ? mb(s.bytes) : '—'} | ${mb(s.rssAtFirstSample)} | ${mb(s.peakRss)} | ${mb(s.heapAtFirstSample)} | ${mb(s.peakHeap)} |`,
      );

    row(
      'read pages only (baseline)',
      await measure(async (onRows) => {
        let afterSeq = 0;
        for (;;) {
          const page = await db.tenantWork(tenant!, (tx) => store.pageEvents(tx, tenant!, { order: 'asc', afterSeq, limit: 1000 }));
          if (page.length === 0) return 0;
          onRows(page.length);
          afterSeq = page.at(-1)!.seq;
        }
      }),
    );
    for (const format of ['ndjson', 'csv', 'json'] as const) {
      row(
        `export ${format}`,
        await measure(async (onRows) => {
          const counter = { bytes: 0 };
          await pipeline(Readable.from(queries.exportEvents(tenant!, format, {}, onRows)), sink(counter));
          return counter.bytes;
        }),
      );
    }
    const verifyStart = process.hrtime.bigint();
    const report = await queries.verify(tenant!);
    const seconds = Number(process.hrtime.bigint() - verifyStart) / 1e9;
    console.log(`| ${engine} | verify (${report.ok ? 'intact' : 'BROKEN'}, ${fmt(report.checked)} events) | ${fmt(report.checked / seconds)} | — | — | ${mb(process.memoryUsage().rss)} | — | — |`);
  } finally {
    await drop();
  }
}
