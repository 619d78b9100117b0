import { sql } from 'kysely';
import type { Tx } from '../../db/database.js';
import './openid-provider.tables.js';

/**
 * The back-channel logout outbox (migration 0028). Enqueued in the tenant's unit of work that ended the sessions;
 * claimed across tenants by the delivery pass (owner work under an advisory lock, like the audit outbox).
 */

/** The clients holding a grant of these provider accounts (`<tenant id>.<session id>`): who signed in during them. */
export async function grantsOfAccounts(tx: Tx, tenantId: string, accountIds: readonly string[]): Promise<{ accountId: string; clientId: string }[]> {
  if (accountIds.length === 0) return [];
  const result = await sql<{ account_id: string; client_id: string }>`
    select distinct payload->>'accountId' as account_id, payload->>'clientId' as client_id from oidc_provider_artifacts
    where model = 'Grant' and tenant_id = ${tenantId} and payload->>'accountId' = any(${[...accountIds]}::text[])`.execute(tx);
  return result.rows.map((r) => ({ accountId: r.account_id, clientId: r.client_id }));
}

export interface Delivery {
  readonly applicationId: string;
  readonly clientId: string;
  readonly userId: string;
  readonly sessionId: string;
}

/** Records deliveries (once per session and application); returns how many are new. */
export async function enqueue(tx: Tx, tenantId: string, deliveries: readonly Delivery[], newId: () => string, now: Date): Promise<number> {
  if (deliveries.length === 0) return 0;
  const rows = deliveries.map((d) => ({ tenant_id: tenantId, id: newId(), application_id: d.applicationId, client_id: d.clientId, user_id: d.userId, session_id: d.sessionId, created_at: now, next_attempt_at: now }));
  const result = await tx.insertInto('backchannel_logout_outbox').values(rows).onConflict((oc) => oc.columns(['tenant_id', 'session_id', 'application_id']).doNothing()).executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0);
}

export interface ClaimedDelivery {
  readonly tenantId: string;
  readonly id: string;
  readonly attempts: number;
}

/** Leases due entries (every tenant): their next attempt moves to `leaseUntil`, their attempt count up by one. */
export async function claimDue(tx: Tx, now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
  const result = await sql<{ tenant_id: string; id: string; attempts: number }>`
    update backchannel_logout_outbox o set attempts = o.attempts + 1, next_attempt_at = ${leaseUntil}::timestamptz
    from (select tenant_id, id from backchannel_logout_outbox where next_attempt_at <= ${now}::timestamptz
          order by next_attempt_at, tenant_id, id limit ${limit} for update skip locked) due
    where o.tenant_id = due.tenant_id and o.id = due.id
    returning o.tenant_id, o.id, o.attempts`.execute(tx);
  return result.rows.map((r) => ({ tenantId: r.tenant_id, id: r.id, attempts: Number(r.attempts) }));
}

export async function findDelivery(tx: Tx, tenantId: string, id: string) {
  return tx
    .selectFrom('backchannel_logout_outbox')
    .select(['id', 'application_id', 'client_id', 'user_id', 'session_id', 'created_at'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function deleteDelivery(tx: Tx, tenantId: string, id: string): Promise<void> {
  await tx.deleteFrom('backchannel_logout_outbox').where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

export async function rescheduleDelivery(tx: Tx, tenantId: string, id: string, nextAttemptAt: Date, error: string): Promise<void> {
  await tx.updateTable('backchannel_logout_outbox').set({ next_attempt_at: nextAttemptAt, last_error: error }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}
