import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../../test/support/app.js';
import { engines } from '../../../test/support/databases.js';
import { authHeaders, loginAsAdmin, loginAsPlainUser, type LoggedIn } from '../../../test/support/login.js';
import { type AccessClaims, jwtPart } from '../../../test/support/sessions-http.js';
import type { AppReads, Database } from '../../db/database.js';
import { batchedStateSource, memoryStateSource } from './session-state.js';

// DESIGN §3 step 2: one read per request returns session-live, user-active and the account epoch; on
// PostgreSQL the reads of concurrent requests are coalesced, each still starting after it was asked for.
describe.each(engines())('session state reads [%s]', (engine) => {
  let t: TestApp;
  let admin: LoggedIn;
  const users: LoggedIn[] = [];
  const sidOf = (who: LoggedIn) => jwtPart<AccessClaims>(who.accessToken, 1).sid;

  beforeAll(async () => {
    t = await startTestApp(engine);
    admin = await loginAsAdmin(t);
    for (let i = 0; i < 4; i++) users.push(await loginAsPlainUser(t, admin));
  });
  afterAll(() => t.close());

  /** The app's database, counting the units of work (or, on PostgreSQL, the single statements) the state source sends. */
  function counting(db: Database) {
    const counter = { units: 0 };
    const reads = db.appReads;
    const appReads: AppReads | undefined = reads && {
      connections: reads.connections,
      query<R>(name: string, text: string, values: readonly unknown[]) {
        counter.units++;
        return reads.query<R>(name, text, values);
      },
    };
    const wrapped: Database = { ...db, globalWork: (fn) => (counter.units++, db.globalWork(fn)), ...(appReads ? { appReads } : {}) };
    return { db: wrapped, counter };
  }

  it('answers many concurrent reads with a few batched queries, each with its own session’s facts', async () => {
    const { db, counter } = counting(t.app.db);
    const source = batchedStateSource(db, { maxInFlight: 1 });
    await t.app.db.tenantWork(admin.tenantId, (tx) => t.app.services.sessions.revokeAllSessionsOfUser(tx, admin.tenantId, users[0]!.userId, 'test'));
    const asks = Array.from({ length: 40 }, (_, i) => users[i % users.length]!);
    const states = await Promise.all(asks.map((u) => source.read(admin.tenantId, sidOf(u))));
    states.forEach((s, i) => {
      expect(s).toMatchObject({ tenantId: admin.tenantId, userId: asks[i]!.userId, accountId: admin.accountId, userActive: true, revoked: asks[i] === users[0] });
      expect(typeof s!.authzEpoch).toBe('number');
    });
    // All 40 asked in the same event-loop turn: they share one statement, sent at the end of that turn.
    expect(counter.units).toBe(1);
  });

  it('sends one batch per event-loop turn even with connections free, and reads asked while it runs go in the next', async () => {
    const { db, counter } = counting(t.app.db);
    const sizes: number[] = [];
    const source = batchedStateSource(db, { maxInFlight: 4, onBatch: (size) => sizes.push(size) });
    const first = Array.from({ length: 12 }, (_, i) => source.read(admin.tenantId, sidOf(users[i % users.length]!)));
    // The first batch has been sent (end of the turn); these are asked while it runs.
    await new Promise((resolve) => setImmediate(resolve));
    const second = Array.from({ length: 5 }, (_, i) => source.read(admin.tenantId, sidOf(users[i % users.length]!)));
    await Promise.all([...first, ...second]);
    // Not one batch per request while connections are free (that is one statement per request).
    expect(sizes).toEqual([12, 5]);
    expect(counter.units).toBe(2);
  });

  it('a read asked while a batch for the same session runs waits for a batch of its own (it sees a revocation made meanwhile)', async () => {
    // The first batch's answer is held back until the second read has been asked, so the two overlap for certain.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const hold = async <T,>(answer: Promise<T>): Promise<T> => {
      const value = await answer;
      await held;
      return value;
    };
    const db = t.app.db;
    const reads = db.appReads;
    const holding: Database = {
      ...db,
      globalWork: (fn) => hold(db.globalWork(fn)),
      ...(reads ? { appReads: { connections: reads.connections, query: <R,>(name: string, text: string, values: readonly unknown[]) => hold(reads.query<R>(name, text, values)) } } : {}),
    };
    const source = batchedStateSource(holding);
    const who = users[2]!;
    const before = source.read(admin.tenantId, sidOf(who));
    await new Promise((resolve) => setImmediate(resolve));
    // DESIGN §3 step 2: a read starts after its request arrived; it never shares an earlier batch still running.
    await db.tenantWork(admin.tenantId, (tx) => t.app.services.sessions.revokeAllSessionsOfUser(tx, admin.tenantId, who.userId, 'test'));
    const after = source.read(admin.tenantId, sidOf(who));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    expect(await before).toMatchObject({ userId: who.userId });
    expect(await after).toMatchObject({ userId: who.userId, revoked: true });
  });

  it.runIf(engine === 'postgres')('sends each batch as one statement, as the application role with no tenant (row-level security applies)', async () => {
    const reads = t.app.db.appReads!;
    const [who] = await reads.query<{ role: string; tenant: string; visible: number }>(
      'session-state-test-role',
      `select current_user as role, current_setting('tessera.tenant_id') as tenant, (select count(*) from sessions)::int as visible`,
      [],
    );
    // DESIGN §4: requests never run as the tables' owner; with no tenant set, a tenant table shows nothing.
    expect(who).toEqual({ role: 'tessera_app', tenant: '', visible: 0 });
    const { db, counter } = counting(t.app.db);
    const source = batchedStateSource(db);
    expect(await source.read(admin.tenantId, sidOf(admin))).toMatchObject({ tenantId: admin.tenantId, userId: admin.userId, revoked: false });
    expect(counter.units).toBe(1);
  });

  it.runIf(engine === 'postgres')('a statement whose result type changed under it (a migration) is prepared again, not failed', async () => {
    const reads = t.app.db.appReads!;
    const table = `plan_probe_${crypto.randomUUID().replaceAll('-', '')}`;
    await t.app.db.ownerWork((tx) => sql.raw(`create table ${table} (a int); insert into ${table} values (1); grant select on ${table} to tessera_app`).execute(tx));
    try {
      // Every read connection prepares the statement, then the "migration" changes what it returns.
      await Promise.all(Array.from({ length: reads.connections }, () => reads.query(`probe-${table}`, `select * from ${table}`, [])));
      await t.app.db.ownerWork((tx) => sql.raw(`alter table ${table} add column b int default 2`).execute(tx));
      // PostgreSQL refuses each stale prepared plan once (SQLSTATE 0A000); every read still answers.
      const rows = await Promise.all(Array.from({ length: reads.connections }, () => reads.query(`probe-${table}`, `select * from ${table}`, [])));
      for (const r of rows) expect(r).toEqual([{ a: 1, b: 2 }]);
    } finally {
      await t.app.db.ownerWork((tx) => sql.raw(`drop table ${table}`).execute(tx));
    }
  });

  it.runIf(engine === 'postgres')('a read looks its session up by key, however many sessions the tenant holds (no scan of the tenant\'s sessions)', async () => {
    // Migration 0031: the generic plan once chose, from the statistics of a tenant with thousands of sessions, to
    // read every session of every user of the tenant and filter; each batch then grew with the tenant.
    const who = users[2]!;
    const sid = sidOf(who);
    const columns = ['tenant_id', 'user_id', 'account_id', 'amr', 'user_agent', 'ip', 'created_at', 'last_seen_at', 'expires_at', 'auth_time'];
    await t.app.db.ownerWork(async (tx) => {
      // 3,000 more sessions for the users of this tenant, then fresh statistics, as a tenant in use has.
      await sql.raw(`insert into sessions (id, ${columns.join(', ')}) select gen_random_uuid(), ${columns.map((c) => `s.${c}`).join(', ')}
        from sessions s, generate_series(1, 600) where s.tenant_id = '${admin.tenantId}'`).execute(tx);
    });
    const reads = t.app.db.appReads!;
    const fetched = async () => {
      const r = await t.app.db.ownerWork((tx) =>
        sql<{ n: string }>`select pg_stat_clear_snapshot(), (select coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) from pg_stat_user_tables where relname = 'sessions')::text as n`.execute(tx),
      );
      return Number(r.rows[0]!.n);
    };
    const source = batchedStateSource(t.app.db);
    /** Rows of `sessions` read by five reads of one session, once every read connection has its plan. */
    const rowsForFiveReads = async () => {
      await Promise.all(Array.from({ length: reads.connections * 4 }, () => source.read(who.tenantId, sid)));
      // The read connections' counters reach the shared statistics when each one reports; force it.
      const flush = () => Promise.all(Array.from({ length: reads.connections * 2 }, () => reads.query('flush-stats', 'select pg_stat_force_next_flush()', [])));
      await flush();
      await flush();
      const before = await fetched();
      for (let i = 0; i < 5; i++) expect(await source.read(who.tenantId, sid)).toMatchObject({ userId: who.userId });
      await flush();
      await flush();
      return (await fetched()) - before;
    };
    // The plans the read connections made while the table was small (no statistics yet), then with statistics of
    // the grown table. Five reads of one session: five key lookups, not thousands of rows.
    expect(await rowsForFiveReads()).toBeLessThan(50);
    await t.app.db.ownerWork((tx) => sql`analyze sessions`.execute(tx));
    expect(await rowsForFiveReads()).toBeLessThan(50);
  });

  it('reads nothing for an unknown session, or a session id under another tenant', async () => {
    const source = batchedStateSource(t.app.db);
    const other = await loginAsAdmin(t, { tenantName: 'Other' });
    expect(await source.read(admin.tenantId, crypto.randomUUID())).toBeUndefined();
    expect(await source.read(admin.tenantId, sidOf(other))).toBeUndefined();
    expect(await source.read(other.tenantId, sidOf(other))).toMatchObject({ tenantId: other.tenantId, userId: other.userId });
  });

  it('the in-memory source (embedded) reads once, then serves from memory until a revocation forgets it', async () => {
    const { db, counter } = counting(t.app.db);
    const source = memoryStateSource(db);
    const who = users[1]!;
    await source.read(admin.tenantId, sidOf(who));
    await source.read(admin.tenantId, sidOf(who));
    expect(counter.units).toBe(1);
    source.forgetUser(admin.tenantId, who.userId);
    await source.read(admin.tenantId, sidOf(who));
    expect(counter.units).toBe(2);
  });
});

// DESIGN §3 step 2, "revocation stays immediate", under real concurrency: many clients keep requests in flight over
// HTTP (on PostgreSQL several session-read batches overlap), and sessions are logged out one after another
// meanwhile. A request sent after its session's logout was answered is never answered 200.
describe.each(engines())('a logout is seen by every request sent after it, with many reads in flight [%s]', (engine) => {
  let t: TestApp;
  afterAll(() => t?.close());

  it('no request sent after its session’s logout response is accepted', async () => {
    t = await startTestApp(engine);
    const admin = await loginAsAdmin(t);
    const victims: LoggedIn[] = [];
    for (let i = 0; i < 6; i++) victims.push(await loginAsPlainUser(t, admin));
    const everyone = [admin, ...victims];

    // Batches in flight at once, observed on the app's own session-read connections (PostgreSQL).
    const reads = t.app.db.appReads as { query: AppReads['query'] } | undefined;
    let inFlight = 0;
    let mostInFlight = 0;
    if (reads) {
      const query = reads.query.bind(reads);
      reads.query = async <R,>(name: string, text: string, values: readonly unknown[]): Promise<R[]> => {
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        try {
          return await query<R>(name, text, values);
        } finally {
          inFlight--;
        }
      };
    }

    const loggedOutAt = new Map<LoggedIn, number>();
    const answers: { who: LoggedIn; sentAt: number; status: number }[] = [];
    let running = true;
    const client = async (n: number) => {
      for (let i = n; running; i++) {
        const who = everyone[i % everyone.length]!;
        const sentAt = performance.now();
        const response = await fetch(`${t.url}/api/v1/me`, { headers: authHeaders(who, false) });
        await response.arrayBuffer();
        answers.push({ who, sentAt, status: response.status });
      }
    };
    const clients = Array.from({ length: 48 }, (_, n) => client(n));
    try {
      for (const who of victims) {
        // Each victim is seen accepted under load first, so its logout lands among requests in flight.
        while (!answers.some((a) => a.who === who && a.status === 200)) await new Promise((resolve) => setTimeout(resolve, 5));
        await new Promise((resolve) => setTimeout(resolve, 20));
        const response = await fetch(`${t.url}/auth/logout`, { method: 'POST', headers: authHeaders(who, false) });
        expect(response.status).toBe(204);
        loggedOutAt.set(who, performance.now());
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      running = false;
      await Promise.all(clients);
    }

    const after = answers.filter((a) => loggedOutAt.has(a.who) && a.sentAt > loggedOutAt.get(a.who)!);
    expect(after.length).toBeGreaterThan(victims.length * 5);
    expect(after.filter((a) => a.status !== 401)).toEqual([]);
    // The clients were really concurrent with the logouts: each victim was accepted before its logout.
    for (const who of victims) expect(answers.some((a) => a.who === who && a.status === 200 && a.sentAt < loggedOutAt.get(who)!)).toBe(true);
    expect(answers.filter((a) => a.who === admin).every((a) => a.status === 200)).toBe(true);
    if (engine === 'postgres') expect(mostInFlight).toBeGreaterThanOrEqual(2);
  }, 60_000);
});
