import { type Expression, type Selectable, type SqlBool, sql } from 'kysely';
import type { Tx } from '../../db/database.js';
import type { CanonicalParts, ChainedEvent } from './audit-chain.js';
import type { AuditEventsTable } from './audit.tables.js';

/** timestamptz → ISO 8601 UTC with microseconds, exactly as hashed (a JS Date would drop the microseconds). */
const isoMicros = (column: string) => sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export interface Head {
  readonly seq: number;
  readonly hash: string;
  readonly at: string | null;
}

/** The tenant's chain head, locked until the end of the transaction (appends of one tenant are serialized). */
export async function lockHead(tx: Tx, tenantId: string): Promise<Head | undefined> {
  const row = await tx
    .selectFrom('audit_heads')
    .select(['last_seq', 'last_hash', isoMicros('last_at').as('last_at')])
    .where('tenant_id', '=', tenantId)
    .forUpdate()
    .executeTakeFirst();
  return row && { seq: Number(row.last_seq), hash: row.last_hash, at: row.last_at };
}

export async function createHead(tx: Tx, tenantId: string, genesisHash: string): Promise<void> {
  await tx
    .insertInto('audit_heads')
    .values({ tenant_id: tenantId, last_seq: 0, last_hash: genesisHash, last_at: null })
    .onConflict((oc) => oc.column('tenant_id').doNothing())
    .execute();
}

export async function readHead(tx: Tx, tenantId: string): Promise<Head | undefined> {
  const row = await tx
    .selectFrom('audit_heads')
    .select(['last_seq', 'last_hash', isoMicros('last_at').as('last_at')])
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return row && { seq: Number(row.last_seq), hash: row.last_hash, at: row.last_at };
}

/**
 * The columns an event row is written with (both ways of appending use them): its tenant and place, what
 * describedEvent() gives, then the chain links.
 */
const INSERT_COLUMNS = sql.raw(
  'tenant_id, seq, occurred_at, actor_type, actor_id, actor_email, actor_ip, actor_user_agent, action, target_type, target_id, outcome, error_code, details, prev_hash, hash',
);

/** The values of the columns from actor_type to details, in INSERT_COLUMNS order. */
function describedEvent(e: Omit<ChainedEvent, 'seq' | 'occurredAt' | 'prevHash' | 'hash'>) {
  return sql`${e.actor.type}, ${e.actor.id}, ${e.actor.email}, ${e.actor.ip}, ${e.actor.userAgent}, ${e.action}, ${e.target?.type ?? null}, ${e.target?.id ?? null}, ${e.outcome}, ${e.errorCode}, ${JSON.stringify(e.details)}::jsonb`;
}

/**
 * Appends the event at the tenant's chain head in one statement: locks the head row (concurrent appends of
 * one tenant wait here until this transaction ends), takes the next sequence number and the later of the
 * head's time and `now` (never backwards), completes the canonical form and hashes it (SHA-256, as
 * eventHash() does), inserts the event, queues it for the tenant's webhook if one is configured, and moves
 * the head. Returns the sequence number, or undefined when the tenant has no head row yet.
 */
export async function appendAtHead(
  tx: Tx,
  tenantId: string,
  e: Omit<ChainedEvent, 'seq' | 'occurredAt' | 'prevHash' | 'hash'>,
  parts: CanonicalParts,
  now: string,
): Promise<number | undefined> {
  const result = await sql<{ seq: number }>`
    with head as (
      select last_seq + 1 as seq, last_hash as prev_hash, greatest(coalesce(last_at, ${now}::timestamptz), ${now}::timestamptz) as at
      from audit_heads where tenant_id = ${tenantId} for update
    ), chained as (
      select seq, prev_hash, at,
             encode(sha256(convert_to(${parts.prefix} || to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || ${parts.beforePrevHash}
                                      || prev_hash || ${parts.beforeSeq} || seq::text || ${parts.suffix}, 'UTF8')), 'hex') as hash
      from head
    ), inserted as (
      insert into audit_events (${INSERT_COLUMNS})
      select ${tenantId}, seq, at, ${describedEvent(e)}, prev_hash, hash
      from chained
    ), queued as (
      insert into audit_outbox (tenant_id, seq, next_attempt_at, created_at)
      select s.tenant_id, c.seq, c.at, c.at from chained c, audit_settings s where s.tenant_id = ${tenantId} and s.webhook_url is not null
    )
    update audit_heads h set last_seq = c.seq, last_hash = c.hash, last_at = c.at
    from chained c where h.tenant_id = ${tenantId}
    returning c.seq`.execute(tx);
  const row = result.rows[0];
  return row === undefined ? undefined : Number(row.seq);
}

/**
 * Inserts an event whose place and hash the caller computed under lockHead(), queues it for the tenant's
 * webhook if one is configured, and moves the head, in one statement.
 */
export async function appendEvent(tx: Tx, tenantId: string, e: ChainedEvent): Promise<void> {
  await sql`
    with inserted as (
      insert into audit_events (${INSERT_COLUMNS})
      values (${tenantId}, ${e.seq}, ${e.occurredAt}::timestamptz, ${describedEvent(e)}, ${e.prevHash}, ${e.hash})
    ), queued as (
      insert into audit_outbox (tenant_id, seq, next_attempt_at, created_at)
      select tenant_id, ${e.seq}, ${e.occurredAt}::timestamptz, ${e.occurredAt}::timestamptz
      from audit_settings where tenant_id = ${tenantId} and webhook_url is not null
    )
    update audit_heads set last_seq = ${e.seq}, last_hash = ${e.hash}, last_at = ${e.occurredAt}::timestamptz
    where tenant_id = ${tenantId}`.execute(tx);
}

export interface EventFilters {
  readonly from?: Date;
  readonly to?: Date;
  /** A user, API key, directory or system job id; or an email when it contains `@`. */
  readonly actor?: string;
  /** A dotted prefix: `auth.` matches `auth.login.succeeded`; an exact name matches itself. */
  readonly action?: string;
  readonly targetType?: string;
  readonly targetId?: string;
  readonly outcome?: 'success' | 'failure';
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const eventColumns = [
  'tenant_id',
  'seq',
  'actor_type',
  'actor_id',
  'actor_email',
  'actor_ip',
  'actor_user_agent',
  'action',
  'target_type',
  'target_id',
  'outcome',
  'error_code',
  'details',
  'prev_hash',
  'hash',
] as const;

/** A selected event row: the table's columns, with the timestamp read as ISO text with microseconds. */
type EventRow = Omit<Selectable<AuditEventsTable>, 'occurred_at'> & { occurred_at: string };

function toEvent(r: EventRow): ChainedEvent {
  return {
    tenantId: r.tenant_id,
    seq: Number(r.seq),
    occurredAt: r.occurred_at,
    actor: { type: r.actor_type, id: r.actor_id, email: r.actor_email, ip: r.actor_ip, userAgent: r.actor_user_agent },
    action: r.action,
    target: r.target_type === null ? null : { type: r.target_type, id: r.target_id ?? '' },
    outcome: r.outcome as 'success' | 'failure',
    errorCode: r.error_code,
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * One keyset page of events: after `afterSeq` ascending, or before `beforeSeq` descending (newest first).
 * Pages use the primary key (tenant_id, seq), so every page costs the same however deep it is.
 */
export async function pageEvents(
  tx: Tx,
  tenantId: string,
  page: { readonly order: 'asc' | 'desc'; readonly afterSeq?: number; readonly beforeSeq?: number; readonly limit: number; readonly filters?: EventFilters },
): Promise<ChainedEvent[]> {
  const f = page.filters ?? {};
  let q = tx
    .selectFrom('audit_events')
    .select([...eventColumns, isoMicros('occurred_at').as('occurred_at')])
    .where('tenant_id', '=', tenantId);
  if (page.afterSeq !== undefined) q = q.where('seq', '>', page.afterSeq);
  if (page.beforeSeq !== undefined) q = q.where('seq', '<', page.beforeSeq);
  if (f.from) q = q.where('occurred_at', '>=', f.from);
  if (f.to) q = q.where('occurred_at', '<', f.to);
  if (f.actor !== undefined) {
    const actor = f.actor;
    q = actor.includes('@') ? q.where((eb) => eb(eb.fn('lower', ['actor_email']), '=', actor.toLowerCase())) : q.where('actor_id', '=', actor);
  }
  if (f.action !== undefined) {
    const action = f.action;
    q = action.endsWith('.')
      ? q.where(sql<SqlBool>`action like ${`${escapeLike(action)}%`}` as Expression<SqlBool>)
      : q.where((eb) => eb.or([eb('action', '=', action), eb('action', 'like', `${escapeLike(action)}.%`)]));
  }
  if (f.targetType !== undefined) q = q.where('target_type', '=', f.targetType);
  if (f.targetId !== undefined) q = q.where('target_id', '=', f.targetId);
  if (f.outcome !== undefined) q = q.where('outcome', '=', f.outcome);
  const rows = await q.orderBy('seq', page.order).limit(page.limit).execute();
  return (rows as unknown as EventRow[]).map(toEvent);
}

export async function countEvents(tx: Tx, tenantId: string, filters: EventFilters): Promise<number> {
  let q = tx.selectFrom('audit_events').select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', tenantId);
  if (filters.from) q = q.where('occurred_at', '>=', filters.from);
  if (filters.to) q = q.where('occurred_at', '<', filters.to);
  const row = await q.executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function latestCheckpoint(tx: Tx, tenantId: string): Promise<Head | undefined> {
  const row = await tx
    .selectFrom('audit_checkpoints')
    .select(['seq', 'hash', isoMicros('occurred_at').as('occurred_at')])
    .where('tenant_id', '=', tenantId)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && { seq: Number(row.seq), hash: row.hash, at: row.occurred_at };
}

/** Operator work (owner): the retention of each tenant that has audit settings (the others keep the default). */
export async function retentionSettings(tx: Tx): Promise<Map<string, number>> {
  const rows = await tx.selectFrom('audit_settings').select(['tenant_id', 'retention_days']).execute();
  return new Map(rows.map((r) => [r.tenant_id, r.retention_days]));
}

/** Operator work (owner): removes up to `limit` of the oldest events before `cutoff`, checkpoint first. */
export async function retainBefore(tx: Tx, tenantId: string, cutoff: Date, limit: number, now: Date): Promise<number> {
  const result = await sql<{ removed: number }>`select tessera_audit_retain(${tenantId}::uuid, ${cutoff}::timestamptz, ${limit}::integer, ${now}::timestamptz) as removed`.execute(tx);
  return Number(result.rows[0]?.removed ?? 0);
}

export interface AuditSettingsRow {
  readonly retentionDays: number | null;
  readonly webhookUrl: string | null;
  readonly webhookSecretEnc: Uint8Array | null;
}

export async function readSettings(tx: Tx, tenantId: string): Promise<AuditSettingsRow | undefined> {
  const row = await tx
    .selectFrom('audit_settings')
    .select(['retention_days', 'webhook_url', 'webhook_secret_enc'])
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return row && { retentionDays: row.retention_days, webhookUrl: row.webhook_url, webhookSecretEnc: row.webhook_secret_enc };
}

export async function upsertSettings(
  tx: Tx,
  tenantId: string,
  change: { retentionDays?: number; webhook?: { url: string; secretEnc: Uint8Array } | null },
  now: Date,
): Promise<void> {
  const set: { retention_days?: number; webhook_url?: string | null; webhook_secret_enc?: Uint8Array | null; updated_at: Date } = { updated_at: now };
  if (change.retentionDays !== undefined) set.retention_days = change.retentionDays;
  if (change.webhook !== undefined) {
    set.webhook_url = change.webhook?.url ?? null;
    set.webhook_secret_enc = change.webhook?.secretEnc ?? null;
  }
  await tx
    .insertInto('audit_settings')
    .values({ tenant_id: tenantId, ...set })
    .onConflict((oc) => oc.column('tenant_id').doUpdateSet(set))
    .execute();
}

/**
 * Operator work (owner): leases up to `limit` due outbox entries across tenants to this worker, so another
 * instance skips them (FOR UPDATE SKIP LOCKED now, the lease until `leaseUntil`).
 */
export async function claimOutbox(tx: Tx, now: Date, leaseUntil: Date, limit: number): Promise<{ tenantId: string; seq: number; attempts: number }[]> {
  const result = await sql<{ tenant_id: string; seq: number; attempts: number }>`
    update audit_outbox o set attempts = o.attempts + 1, next_attempt_at = ${leaseUntil}::timestamptz
    from (select tenant_id, seq from audit_outbox where next_attempt_at <= ${now}::timestamptz
          order by next_attempt_at, tenant_id, seq limit ${limit} for update skip locked) due
    where o.tenant_id = due.tenant_id and o.seq = due.seq
    returning o.tenant_id, o.seq, o.attempts`.execute(tx);
  return result.rows.map((r) => ({ tenantId: r.tenant_id, seq: Number(r.seq), attempts: Number(r.attempts) }));
}

export async function eventsBySeq(tx: Tx, tenantId: string, seqs: readonly number[]): Promise<ChainedEvent[]> {
  if (seqs.length === 0) return [];
  const rows = await tx
    .selectFrom('audit_events')
    .select([...eventColumns, isoMicros('occurred_at').as('occurred_at')])
    .where('tenant_id', '=', tenantId)
    .where('seq', 'in', [...seqs])
    .orderBy('seq')
    .execute();
  return (rows as unknown as EventRow[]).map(toEvent);
}

export async function deleteOutbox(tx: Tx, tenantId: string, seqs: readonly number[]): Promise<void> {
  if (seqs.length === 0) return;
  await tx.deleteFrom('audit_outbox').where('tenant_id', '=', tenantId).where('seq', 'in', [...seqs]).execute();
}

export async function rescheduleOutbox(tx: Tx, tenantId: string, seq: number, nextAttemptAt: Date, error: string): Promise<void> {
  await tx
    .updateTable('audit_outbox')
    .set({ next_attempt_at: nextAttemptAt, last_error: error.slice(0, 500) })
    .where('tenant_id', '=', tenantId)
    .where('seq', '=', seq)
    .execute();
}

/** Operator read (owner): outbox entries of every tenant. */
export async function outboxBacklog(tx: Tx): Promise<number> {
  const row = await tx.selectFrom('audit_outbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function outboxOf(tx: Tx, tenantId: string) {
  return tx.selectFrom('audit_outbox').select(['seq', 'attempts', 'next_attempt_at', 'last_error']).where('tenant_id', '=', tenantId).orderBy('seq').execute();
}
