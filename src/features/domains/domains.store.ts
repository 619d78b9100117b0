import { sql } from 'kysely';
import type { Tx } from '../../db/database.js';
import type { DomainsTable } from './domains.tables.js';
import './domains.tables.js';

const COLUMNS = ['id', 'domain', 'token', 'status', 'verified_at', 'verified_by', 'last_checked_at', 'next_check_at', 'failures', 'created_at', 'require_sso'] as const;

export type DomainRow = Pick<DomainsTable, 'id' | 'domain' | 'token' | 'status' | 'verified_at' | 'verified_by' | 'last_checked_at' | 'next_check_at'> & { failures: number; created_at: Date; require_sso: boolean };

export async function insertDomain(tx: Tx, tenantId: string, row: { id: string; domain: string; token: string; createdBy: string | null; now: Date; nextCheckAt: Date }): Promise<void> {
  await tx
    .insertInto('domains')
    .values({ tenant_id: tenantId, id: row.id, domain: row.domain, token: row.token, status: 'pending', created_by: row.createdBy, created_at: row.now, next_check_at: row.nextCheckAt })
    .execute();
}

export async function listDomains(tx: Tx, tenantId: string): Promise<DomainRow[]> {
  return tx.selectFrom('domains').select(COLUMNS).where('tenant_id', '=', tenantId).orderBy('domain').execute();
}

export async function findDomain(tx: Tx, tenantId: string, id: string): Promise<DomainRow | undefined> {
  return tx.selectFrom('domains').select(COLUMNS).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
}

export async function findDomainByName(tx: Tx, tenantId: string, domain: string): Promise<DomainRow | undefined> {
  return tx.selectFrom('domains').select(COLUMNS).where('tenant_id', '=', tenantId).where('domain', '=', domain).executeTakeFirst();
}

/** The row, locked for the rest of the unit of work (a check and a concurrent one apply in turn). */
export async function lockDomain(tx: Tx, tenantId: string, id: string): Promise<DomainRow | undefined> {
  return tx.selectFrom('domains').select(COLUMNS).where('tenant_id', '=', tenantId).where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Writes a check's result to the one row: status, verification, failure count, next check. */
export async function updateCheck(
  tx: Tx,
  tenantId: string,
  id: string,
  change: { status: 'pending' | 'verified'; verifiedAt: Date | null; verifiedBy: 'dns' | 'operator' | null; failures: number; lastCheckedAt: Date | null; nextCheckAt: Date | null },
): Promise<void> {
  await tx
    .updateTable('domains')
    .set({ status: change.status, verified_at: change.verifiedAt, verified_by: change.verifiedBy, failures: change.failures, last_checked_at: change.lastCheckedAt, next_check_at: change.nextCheckAt })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .execute();
}

export async function deleteDomain(tx: Tx, tenantId: string, id: string): Promise<boolean> {
  const r = await tx.deleteFrom('domains').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** The tenant holding `domain` verified, whichever tenant the unit of work is for (SQL function of migration 0012). */
export async function verifiedDomainOwner(tx: Tx, domain: string): Promise<string | undefined> {
  const result = await sql<{ owner: string | null }>`select tessera_verified_domain_owner(${domain}) as owner`.execute(tx);
  return result.rows[0]?.owner ?? undefined;
}

/** Domains due for a re-check, across tenants (the re-check job; SQL function of migration 0012). */
export async function dueDomains(tx: Tx, now: Date, limit: number): Promise<{ tenant_id: string; id: string }[]> {
  const result = await sql<{ tenant_id: string; id: string }>`select * from tessera_due_domains(${now}::timestamptz, ${limit})`.execute(tx);
  return result.rows;
}

/** Turns Require SSO on or off for the tenant's domain. */
export async function setRequireSso(tx: Tx, tenantId: string, id: string, requireSso: boolean): Promise<void> {
  await tx.updateTable('domains').set({ require_sso: requireSso }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

/** The tenant's verified domains with Require SSO on (names). */
export async function requireSsoDomains(tx: Tx, tenantId: string): Promise<string[]> {
  const rows = await tx.selectFrom('domains').select('domain').where('tenant_id', '=', tenantId).where('status', '=', 'verified').where('require_sso', '=', true).orderBy('domain').execute();
  return rows.map((r) => r.domain);
}
