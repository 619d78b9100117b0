import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, engines, type TestDatabase } from '../../../test/support/databases.js';
import { Keyring } from '../../crypto/keyring.js';
import { createMasterKeys } from '../../crypto/master-key.js';
import { allTenantIds } from '../tenants/index.js';
import type { Tx } from '../../db/database.js';
import { FixedClock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import { dataKeyStore } from '../keys/index.js';
import { type ChainedEvent, eventHash } from './audit-chain.js';
import { type Audit, createAudit } from './audit.service.js';
import type { AuditEventInput } from './audit.types.js';

const admin = { type: 'user', id: newId(), email: 'admin@a.example', ip: '203.0.113.7', userAgent: 'Mozilla/5.0' } as const;

function event(action: string, extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return { action, actor: admin, outcome: 'success', target: { type: 'user', id: newId() }, ...extra };
}

/** Parses RFC 4180 CSV (quoted cells, doubled quotes, CRLF) — the reader side of the export round trip. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return rows;
}

/** The documented inverse of formula neutralization: one leading quote before = + - @ tab CR or quote. */
function unneutralize(cell: string): string {
  return /^'[=+\-@\t\r']/.test(cell) ? cell.slice(1) : cell;
}

function fromCsvRow(header: string[], cells: string[]): ChainedEvent {
  const v = Object.fromEntries(header.map((h, i) => [h, unneutralize(cells[i] ?? '')]));
  const orNull = (s: string) => (s === '' ? null : s);
  return {
    tenantId: v.tenant_id!,
    seq: Number(v.seq),
    occurredAt: v.occurred_at!,
    actor: { type: v.actor_type!, id: orNull(v.actor_id!), email: orNull(v.actor_email!), ip: orNull(v.actor_ip!), userAgent: orNull(v.actor_user_agent!) },
    action: v.action!,
    target: v.target_type ? { type: v.target_type, id: v.target_id! } : null,
    outcome: v.outcome as 'success' | 'failure',
    errorCode: orNull(v.error_code!),
    details: JSON.parse(v.details!) as Record<string, unknown>,
    prevHash: v.prev_hash!,
    hash: v.hash!,
  };
}

async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const c of chunks) out += c;
  return out;
}

describe.each(engines())('audit log [%s]', (engine) => {
  let t: TestDatabase;
  let audit: Audit;
  const clock = new FixedClock('2026-03-01T10:00:00.000Z');
  const keyring = new Keyring<Tx>(createMasterKeys(randomBytes(32)), dataKeyStore);

  async function newTenant(): Promise<string> {
    const id = newId();
    await t.db.tenantWork(id, async (tx) => {
      await tx.insertInto('tenants').values({ id, name: `tenant ${id}` }).execute();
      await keyring.createDataKey(tx, id);
    });
    return id;
  }

  async function recordMany(tenantId: string, n: number, make: (i: number) => AuditEventInput = (i) => event('user.updated', { details: { i } })) {
    for (let i = 0; i < n; i++) {
      await t.db.tenantWork(tenantId, (tx) => audit.record(tx, tenantId, make(i)));
      clock.advance(1000);
    }
  }

  /** Tampering as someone with direct database access would: as the owner, with the append-only trigger off. */
  async function tamper(statement: ReturnType<typeof sql>) {
    await t.db.ownerWork(async (tx) => {
      await sql`alter table audit_events disable trigger audit_events_append_only`.execute(tx);
      await statement.execute(tx);
      await sql`alter table audit_events enable trigger audit_events_append_only`.execute(tx);
    });
  }

  beforeAll(async () => {
    t = await createTestDatabase(engine);
    audit = createAudit({ db: t.db, clock, keyring, tenantIds: allTenantIds, network: { allowLoopback: false, privateNetworks: [] } });
  });
  afterAll(() => t.drop());

  it('records in the caller’s transaction: a rolled-back change leaves no event', async () => {
    const tenant = await newTenant();
    await expect(
      t.db.tenantWork(tenant, async (tx) => {
        await audit.record(tx, tenant, event('user.created'));
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await recordMany(tenant, 1);
    const { events } = await audit.listEvents(tenant, { filters: {}, limit: 10 });
    expect(events.map((e) => [e.seq, e.action])).toEqual([[1, 'user.updated']]);
    expect((await audit.verify(tenant)).ok).toBe(true);
  });

  // PGlite runs one transaction at a time, so concurrent appends exist only on PostgreSQL.
  it.runIf(engine === 'postgres')('keeps one chain per tenant, gapless under concurrent appends, and verifiable (PostgreSQL)', async () => {
    const tenant = await newTenant();
    // Twenty units of work appending to one chain at once: real concurrent transactions on a pool; the head
    // row lock serializes them.
    await Promise.all(Array.from({ length: 20 }, (_, i) => t.db.tenantWork(tenant, (tx) => audit.record(tx, tenant, event('group.member_added', { details: { i } })))));
    const report = await audit.verify(tenant);
    expect(report).toMatchObject({ ok: true, checked: 20, lastSeq: 20, break: null });
    const all = await audit.listEvents(tenant, { filters: {}, limit: 100 });
    expect(all.events.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => 20 - i));
  });

  it('timestamps have microsecond form and never go backwards when the clock does', async () => {
    const tenant = await newTenant();
    clock.set('2026-03-02T12:00:00.250Z');
    await recordMany(tenant, 1);
    clock.set('2026-03-02T11:00:00.000Z'); // another instance's clock, an hour behind
    await recordMany(tenant, 1);
    const { events } = await audit.listEvents(tenant, { filters: {}, limit: 10 });
    expect(events.map((e) => e.occurredAt)).toEqual(['2026-03-02T12:00:00.250000Z', '2026-03-02T12:00:00.250000Z']);
    expect((await audit.verify(tenant)).ok).toBe(true);
  });

  it('never stores secrets in details (DESIGN §6 rule 7)', async () => {
    const tenant = await newTenant();
    await t.db.tenantWork(tenant, (tx) =>
      audit.record(tx, tenant, event('user.password_reset', { details: { password: 'hunter22hunter22', nested: { refreshToken: 'rt' }, reason: 'admin' } })),
    );
    const [e] = (await audit.listEvents(tenant, { filters: {}, limit: 1 })).events;
    expect(e!.details).toEqual({ password: '[REDACTED]', nested: { refreshToken: '[REDACTED]' }, reason: 'admin' });
  });

  it('stores and hashes awkward text consistently: NUL, unpaired surrogates, a long user agent cut inside an emoji', async () => {
    const tenant = await newTenant();
    const userAgent = `${'a'.repeat(999)}😀 and more`;
    await t.db.tenantWork(tenant, (tx) =>
      audit.record(tx, tenant, event('user.updated', { actor: { ...admin, userAgent }, details: { name: 'nul\u0000here', broken: '\ud800x', when: new Date('2026-01-02T03:04:05Z') } })),
    );
    const [e] = (await audit.listEvents(tenant, { filters: {}, limit: 1 })).events;
    expect(e!.details).toEqual({ name: 'nulhere', broken: '\uFFFDx', when: '2026-01-02T03:04:05.000Z' });
    expect(e!.actor.userAgent).toBe(`${'a'.repeat(999)}\uFFFD`);
    expect((await audit.verify(tenant)).ok).toBe(true);
  });

  it('another tenant sees nothing, and cannot append to a chain that is not its own', async () => {
    const a = await newTenant();
    const b = await newTenant();
    await recordMany(a, 2);
    expect((await audit.listEvents(b, { filters: {}, limit: 10 })).events).toEqual([]);
    const leaked = await t.db.tenantWork(b, (tx) => tx.selectFrom('audit_events').select('seq').execute());
    expect(leaked).toEqual([]);
    await expect(t.db.tenantWork(b, (tx) => audit.record(tx, a, event('user.created')))).rejects.toThrow('new row violates row-level security policy');
    expect((await audit.verify(a)).lastSeq).toBe(2);
  });

  // OWASP ASVS V7.3.3 (logs protected from modification): the table is append-only — database privileges and a trigger.
  it('the application role cannot UPDATE, DELETE or TRUNCATE audit events', async () => {
    const tenant = await newTenant();
    await recordMany(tenant, 1);
    await expect(t.db.tenantWork(tenant, (tx) => sql`update audit_events set action = 'x.y' where tenant_id = ${tenant}`.execute(tx))).rejects.toThrow(/permission denied/);
    await expect(t.db.tenantWork(tenant, (tx) => sql`delete from audit_events where tenant_id = ${tenant}`.execute(tx))).rejects.toThrow(/permission denied/);
    await expect(t.db.tenantWork(tenant, (tx) => sql`truncate audit_events`.execute(tx))).rejects.toThrow(/permission denied/);
  });

  it('even the owner cannot UPDATE or DELETE audit events outside retention (trigger)', async () => {
    const tenant = await newTenant();
    await recordMany(tenant, 1);
    await expect(t.db.ownerWork((tx) => sql`update audit_events set action = 'x.y' where tenant_id = ${tenant}`.execute(tx))).rejects.toThrow(/append-only/);
    await expect(t.db.ownerWork((tx) => sql`delete from audit_events where tenant_id = ${tenant}`.execute(tx))).rejects.toThrow(/append-only/);
    await expect(t.db.ownerWork((tx) => sql`truncate audit_events`.execute(tx))).rejects.toThrow(/append-only/);
  });

  describe('verify detects tampering with rows in the database', () => {
    it('an edited field', async () => {
      const tenant = await newTenant();
      await recordMany(tenant, 5);
      await tamper(sql`update audit_events set outcome = 'failure' where tenant_id = ${tenant} and seq = 3`);
      expect(await audit.verify(tenant)).toMatchObject({ ok: false, checked: 2, break: { seq: 3, reason: 'hash_mismatch' } });
    });

    it('an edited field whose hash was recomputed (the next link breaks)', async () => {
      const tenant = await newTenant();
      await recordMany(tenant, 5);
      const [e3] = (await audit.listEvents(tenant, { filters: {}, limit: 1, cursor: Buffer.from('s:4').toString('base64url') })).events;
      const forged = { ...e3!, details: { i: 999 } };
      await tamper(sql`update audit_events set details = ${JSON.stringify(forged.details)}::jsonb, hash = ${eventHash(forged)} where tenant_id = ${tenant} and seq = 3`);
      expect(await audit.verify(tenant)).toMatchObject({ ok: false, break: { seq: 4, reason: 'prev_hash_mismatch' } });
    });

    it('a timestamp moved backwards, even with the hashes and the head rewritten to match', async () => {
      const tenant = await newTenant();
      await recordMany(tenant, 3);
      const [last] = (await audit.listEvents(tenant, { filters: {}, limit: 1 })).events;
      const forged = { ...last!, occurredAt: '2000-01-01T00:00:00.000000Z' };
      const hash = eventHash(forged);
      await tamper(sql`update audit_events set occurred_at = ${forged.occurredAt}::timestamptz, hash = ${hash} where tenant_id = ${tenant} and seq = 3`);
      await t.db.ownerWork((tx) => sql`update audit_heads set last_hash = ${hash} where tenant_id = ${tenant}`.execute(tx));
      expect(await audit.verify(tenant)).toMatchObject({ ok: false, checked: 2, break: { seq: 3, reason: 'time_reversed' } });
    });

    it('a deleted row', async () => {
      const tenant = await newTenant();
      await recordMany(tenant, 5);
      await tamper(sql`delete from audit_events where tenant_id = ${tenant} and seq = 2`);
      expect(await audit.verify(tenant)).toMatchObject({ ok: false, break: { seq: 3, reason: 'sequence_gap' } });
    });

    it('deleted newest rows (the chain head disagrees)', async () => {
      const tenant = await newTenant();
      await recordMany(tenant, 5);
      await tamper(sql`delete from audit_events where tenant_id = ${tenant} and seq >= 4`);
      expect(await audit.verify(tenant)).toMatchObject({ ok: false, checked: 3, break: { seq: 4, reason: 'head_mismatch' } });
    });

    it('an inserted row', async () => {
      const tenant = await newTenant();
      await recordMany(tenant, 3);
      // Make room after seq 1 and insert a forged event there, correctly hashed against its predecessor.
      await tamper(sql`update audit_events set seq = seq + 100 where tenant_id = ${tenant} and seq >= 2`);
      const [first] = (await audit.listEvents(tenant, { filters: {}, limit: 1, cursor: Buffer.from('s:2').toString('base64url') })).events;
      const forged: ChainedEvent = {
        ...first!,
        seq: 2,
        actor: { type: 'user', id: null, email: null, ip: null, userAgent: null },
        action: 'role.deleted',
        target: null,
        details: {},
        prevHash: first!.hash,
      };
      await tamper(sql`insert into audit_events (tenant_id, seq, occurred_at, actor_type, action, outcome, details, prev_hash, hash)
        values (${tenant}, 2, ${forged.occurredAt}::timestamptz, 'user', 'role.deleted', 'success', '{}'::jsonb, ${forged.prevHash}, ${eventHash(forged)})`);
      await tamper(sql`update audit_events set seq = seq - 99 where tenant_id = ${tenant} and seq > 100`);
      // The forged event itself is well formed; the event after it no longer links to its predecessor.
      expect(await audit.verify(tenant)).toMatchObject({ ok: false, checked: 2, break: { seq: 3, reason: 'prev_hash_mismatch' } });
    });

    it('two reordered rows', async () => {
      const tenant = await newTenant();
      await recordMany(tenant, 5);
      await tamper(sql`update audit_events set seq = case seq when 2 then 3 else 2 end + 1000 where tenant_id = ${tenant} and seq in (2, 3)`);
      await tamper(sql`update audit_events set seq = seq - 1000 where tenant_id = ${tenant} and seq > 1000`);
      expect(await audit.verify(tenant)).toMatchObject({ ok: false, break: { seq: 2, reason: 'prev_hash_mismatch' } });
    });
  });

  it('lists newest first with filters and cursor pagination', async () => {
    const tenant = await newTenant();
    clock.set('2026-04-01T00:00:00.000Z');
    const other = { type: 'system', id: 'keys' } as const;
    await recordMany(tenant, 7, (i) =>
      i % 2 === 0
        ? event(i < 4 ? 'auth.login.succeeded' : 'auth.login.failed', { outcome: i < 4 ? 'success' : 'failure', errorCode: i < 4 ? null : 'sessions.invalid_credentials' })
        : event('keys.signing_key.rotated', { actor: other, target: { type: 'signing_key', id: `k${i}` } }),
    );
    const page1 = await audit.listEvents(tenant, { filters: {}, limit: 3 });
    expect(page1.events.map((e) => e.seq)).toEqual([7, 6, 5]);
    const page2 = await audit.listEvents(tenant, { filters: {}, limit: 3, cursor: page1.nextCursor! });
    expect(page2.events.map((e) => e.seq)).toEqual([4, 3, 2]);
    const page3 = await audit.listEvents(tenant, { filters: {}, limit: 3, cursor: page2.nextCursor! });
    expect(page3).toMatchObject({ events: [{ seq: 1 }], nextCursor: null });

    const seqs = async (filters: Parameters<Audit['listEvents']>[1]['filters']) => (await audit.listEvents(tenant, { filters, limit: 100 })).events.map((e) => e.seq);
    expect(await seqs({ action: 'auth.login' })).toEqual([7, 5, 3, 1]);
    expect(await seqs({ action: 'auth.' })).toEqual([7, 5, 3, 1]);
    expect(await seqs({ action: 'auth.login.failed' })).toEqual([7, 5]);
    expect(await seqs({ action: 'auth.log' })).toEqual([]);
    expect(await seqs({ outcome: 'failure' })).toEqual([7, 5]);
    expect(await seqs({ actor: 'keys' })).toEqual([6, 4, 2]);
    expect(await seqs({ actor: 'ADMIN@a.example' })).toEqual([7, 5, 3, 1]);
    expect(await seqs({ targetType: 'signing_key', targetId: 'k3' })).toEqual([4]);
    expect(await seqs({ from: new Date('2026-04-01T00:00:02Z'), to: new Date('2026-04-01T00:00:04Z') })).toEqual([4, 3]);
    await expect(audit.listEvents(tenant, { filters: {}, limit: 3, cursor: 'bm9wZQ' })).rejects.toMatchObject({ code: 'audit.invalid_cursor' });
  });

  describe('export', () => {
    let tenant: string;
    const hostile = '=HYPERLINK("http://evil.example","x")';
    beforeAll(async () => {
      tenant = await newTenant();
      await recordMany(tenant, 4, (i) =>
        event('user.updated', {
          actor: { ...admin, userAgent: i === 1 ? hostile : i === 2 ? "'quoted" : 'agent, "with" quotes\nand a newline' },
          target: { type: 'user', id: i === 3 ? '-1+2' : `u${i}` },
          details: { i, note: i === 0 ? '@SUM(A1:A2)' : 'ünïcødé ✓' },
        }),
      );
    });

    it('ndjson round-trips and re-verifies', async () => {
      const text = await collect(audit.exportEvents(tenant, 'ndjson'));
      const events = text.trimEnd().split('\n').map((l) => JSON.parse(l) as ChainedEvent);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      for (const e of events) expect(eventHash(e)).toBe(e.hash);
      expect(events).toEqual((await audit.listEvents(tenant, { filters: {}, limit: 10 })).events.reverse());
    });

    it('json round-trips and re-verifies; an empty export is an empty array', async () => {
      const events = JSON.parse(await collect(audit.exportEvents(tenant, 'json'))) as ChainedEvent[];
      expect(events).toHaveLength(4);
      for (const e of events) expect(eventHash(e)).toBe(e.hash);
      expect(JSON.parse(await collect(audit.exportEvents(tenant, 'json', { action: 'nothing.here' })))).toEqual([]);
    });

    // OWASP CSV Injection: cells starting with = + - @ are neutralized with a leading quote.
    it('csv round-trips, escapes per RFC 4180 and neutralizes formulas', async () => {
      const text = await collect(audit.exportEvents(tenant, 'csv'));
      expect(text.startsWith('\uFEFFtenant_id,seq,occurred_at,')).toBe(true);
      const [header, ...rows] = parseCsv(text.slice(1));
      expect(rows).toHaveLength(4);
      const raw = rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]])));
      expect(raw[1]!.actor_user_agent).toBe(`'${hostile}`);
      expect(raw[3]!.target_id).toBe("'-1+2");
      expect(raw[2]!.actor_user_agent).toBe("''quoted");
      for (const r of rows) for (const cell of r) expect(cell).not.toMatch(/^[=+\-@]/);
      const events = rows.map((r) => fromCsvRow(header!, r));
      for (const e of events) expect(eventHash(e)).toBe(e.hash);
      expect(events).toEqual((await audit.listEvents(tenant, { filters: {}, limit: 10 })).events.reverse());
    });

    it('pages through chains longer than one page, filtered', async () => {
      const big = await newTenant();
      await t.db.tenantWork(big, async (tx) => {
        for (let i = 0; i < 1001; i++) await audit.record(tx, big, event(i % 3 === 0 ? 'auth.login.failed' : 'auth.login.succeeded'));
      });
      const lines = (await collect(audit.exportEvents(big, 'ndjson'))).trimEnd().split('\n');
      expect(lines).toHaveLength(1001);
      const failed = (await collect(audit.exportEvents(big, 'ndjson', { action: 'auth.login.failed' }))).trimEnd().split('\n');
      expect(failed).toHaveLength(334);
      expect(await audit.countEvents(big, {})).toBe(1001);
      expect((await audit.verify(big)).checked).toBe(1001);
    });
  });

  it('retention removes events older than the tenant’s retention, checkpoints, and the rest still verifies', async () => {
    const tenant = await newTenant();
    const keep = await newTenant();
    clock.set('2018-01-01T00:00:00.000Z');
    await recordMany(tenant, 3);
    await recordMany(keep, 2);
    clock.set('2025-06-01T00:00:00.000Z');
    await recordMany(tenant, 2);
    // Default retention: 7 years before 2025-06-01 removes the 2018 events of both tenants.
    expect(await audit.settings(tenant)).toEqual({ retentionDays: 2557, webhookUrl: null });
    await audit.setRetention(keep, admin, 36_500);
    const reports = await audit.applyRetention();
    expect(reports.filter((r) => r.tenantId === tenant || r.tenantId === keep)).toEqual([{ tenantId: tenant, removed: 3 }]);
    const report = await audit.verify(tenant);
    expect(report).toMatchObject({ ok: true, start: { seq: 3 }, checked: 3, lastSeq: 6, break: null });
    const { events } = await audit.listEvents(tenant, { filters: {}, limit: 10 });
    expect(events.map((e) => e.action)).toEqual(['audit.retention.applied', 'user.updated', 'user.updated']);
    expect(events[0]!.details).toMatchObject({ removed: 3, retentionDays: 2557 });
    // A second run has nothing to remove; the kept tenant still has its whole chain.
    expect((await audit.applyRetention()).filter((r) => r.tenantId === tenant)).toEqual([]);
    expect(await audit.verify(keep)).toMatchObject({ ok: true, start: { seq: 0 }, checked: 3 });
    await expect(audit.setRetention(tenant, admin, 0)).rejects.toMatchObject({ code: 'audit.invalid_settings' });
  });

  it('deleting events after a checkpoint is still detected', async () => {
    const tenant = await newTenant();
    clock.set('2017-01-01T00:00:00.000Z');
    await recordMany(tenant, 2);
    clock.set('2025-06-01T00:00:00.000Z');
    await recordMany(tenant, 3);
    await audit.applyRetention();
    await tamper(sql`delete from audit_events where tenant_id = ${tenant} and seq = 3`);
    expect(await audit.verify(tenant)).toMatchObject({ ok: false, start: { seq: 2 }, break: { seq: 4, reason: 'sequence_gap' } });
  });
});

describe.each(engines())('audit webhook to a SIEM [%s]', (engine) => {
  let t: TestDatabase;
  let audit: Audit;
  let server: Server;
  let url: string;
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  let failNext = 0;
  const clock = new FixedClock('2026-05-01T08:00:00.000Z');
  const keyring = new Keyring<Tx>(createMasterKeys(randomBytes(32)), dataKeyStore);
  /** A tenant of the test's own, so no test reads the chain, outbox or settings another one left. */
  async function siemTenant(): Promise<string> {
    const tenant = newId();
    await t.db.tenantWork(tenant, async (tx) => {
      await tx.insertInto('tenants').values({ id: tenant, name: 'SIEM tenant' }).execute();
      await keyring.createDataKey(tx, tenant);
    });
    return tenant;
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        if (failNext > 0) {
          failNext--;
          res.writeHead(503).end();
          return;
        }
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/siem/hook?token=abc`;
    t = await createTestDatabase(engine);
    // The receiver listens on loopback, which the webhook guard refuses unless the operator allows it.
    audit = createAudit({ db: t.db, clock, keyring, tenantIds: allTenantIds, network: { allowLoopback: true, privateNetworks: [] } });
  });
  afterAll(async () => {
    await t.drop();
    await new Promise((resolve) => server.close(resolve));
  });

  it('delivers each event as JSON signed with HMAC-SHA256, from a durable outbox, retrying with backoff', async () => {
    const tenant = await siemTenant();
    received.length = 0;
    // No webhook yet: events are not queued.
    await t.db.tenantWork(tenant, (tx) => audit.record(tx, tenant, event('user.created')));
    const { secret } = await audit.setWebhook(tenant, admin, { url });
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The secret is stored encrypted (keyring), never in clear.
    const stored = await t.db.ownerWork((tx) => tx.selectFrom('audit_settings').select('webhook_secret_enc').where('tenant_id', '=', tenant).executeTakeFirstOrThrow());
    expect(Buffer.from(stored.webhook_secret_enc!).includes(Buffer.from(secret!))).toBe(false);

    await t.db.tenantWork(tenant, (tx) => audit.record(tx, tenant, event('user.deactivated')));
    // Recording never waits for the SIEM: the event is only queued.
    expect(received).toHaveLength(0);
    expect(await audit.deliverOutbox()).toEqual({ delivered: 2, failed: 0 });
    expect(received.map((r) => (JSON.parse(r.body) as ChainedEvent).action)).toEqual(['audit.webhook.configured', 'user.deactivated']);

    const last = received[1]!;
    const sent = JSON.parse(last.body) as ChainedEvent;
    expect(eventHash(sent)).toBe(sent.hash);
    expect(last.headers['x-tessera-event']).toBe(`${tenant}:${sent.seq}`);
    const [, ts, mac] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(last.headers['x-tessera-signature']))!;
    expect(mac).toBe(createHmac('sha256', secret!).update(`${ts}.${last.body}`).digest('hex'));
    expect(Number(ts)).toBe(Math.floor(clock.now().getTime() / 1000));
    // The configured event names the URL without its query string.
    expect((JSON.parse(received[0]!.body) as ChainedEvent).details).toEqual({ url: url.split('?')[0] });

    // The SIEM is down: the event stays in the outbox and is retried after the backoff, not before.
    failNext = 1;
    await t.db.tenantWork(tenant, (tx) => audit.record(tx, tenant, event('role.deleted')));
    expect(await audit.deliverOutbox()).toEqual({ delivered: 0, failed: 1 });
    const pending = await t.db.tenantWork(tenant, (tx) => tx.selectFrom('audit_outbox').select(['seq', 'attempts', 'last_error']).execute());
    expect(pending).toEqual([{ seq: 4, attempts: 1, last_error: 'HTTP 503' }]);
    expect(await audit.deliverOutbox()).toEqual({ delivered: 0, failed: 0 });
    clock.advance(5_000);
    expect(await audit.deliverOutbox()).toEqual({ delivered: 1, failed: 0 });
    expect((JSON.parse(received.at(-1)!.body) as ChainedEvent).action).toBe('role.deleted');
    expect(await t.db.tenantWork(tenant, (tx) => tx.selectFrom('audit_outbox').select('seq').execute())).toEqual([]);
  });

  it('the background job started by serve delivers from the outbox and stops cleanly', async () => {
    const tenant = await siemTenant();
    await audit.setWebhook(tenant, admin, { url });
    const before = received.length;
    const errors: unknown[] = [];
    const jobs = audit.startJobs({ log: { error: (obj) => errors.push(obj), info: () => {} }, outboxIntervalMs: 20 });
    try {
      await t.db.tenantWork(tenant, (tx) => audit.record(tx, tenant, event('group.created')));
      await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThan(before + 1);
    } finally {
      await jobs.stop();
    }
    expect(errors).toEqual([]);
    expect(received.slice(before).map((r) => (JSON.parse(r.body) as ChainedEvent).action)).toEqual(['audit.webhook.configured', 'group.created']);
  });

  it('refuses non-http(s) or credential-bearing webhook URLs; removing the webhook drops pending deliveries', async () => {
    const tenant = await siemTenant();
    await expect(audit.setWebhook(tenant, admin, { url: 'ftp://example.com/x' })).rejects.toMatchObject({ code: 'audit.invalid_settings' });
    await expect(audit.setWebhook(tenant, admin, { url: 'https://user:pw@example.com/x' })).rejects.toMatchObject({ code: 'audit.invalid_settings' });
    expect(await audit.settings(tenant)).toMatchObject({ webhookUrl: null });
    await audit.setWebhook(tenant, admin, { url });
    expect(await audit.deliverOutbox()).toEqual({ delivered: 1, failed: 0 });
    failNext = 1;
    await t.db.tenantWork(tenant, (tx) => audit.record(tx, tenant, event('user.created')));
    expect(await audit.deliverOutbox()).toMatchObject({ failed: 1 });
    await audit.setWebhook(tenant, admin, { url: null });
    clock.advance(3_600_000);
    const before = received.length;
    expect(await audit.deliverOutbox()).toEqual({ delivered: 0, failed: 0 });
    expect(received.length).toBe(before);
    expect(await audit.settings(tenant)).toMatchObject({ webhookUrl: null });
    expect((await audit.verify(tenant)).ok).toBe(true);
  });
});
