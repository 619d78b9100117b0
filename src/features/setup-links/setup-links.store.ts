import { sql, type Selectable } from 'kysely';
import type { Tx } from '../../db/database.js';
import type { SetupLinksTable } from './setup-links.tables.js';
import './setup-links.tables.js';

export type SetupLinkRow = Selectable<SetupLinksTable>;

export async function insertLink(tx: Tx, tenantId: string, row: { id: string; tokenHash: Buffer; intent: string; note: string; createdBy: string | null; now: Date; expiresAt: Date; connectionId: string }): Promise<void> {
  await tx
    .insertInto('setup_links')
    .values({ tenant_id: tenantId, id: row.id, token_hash: row.tokenHash, intent: row.intent, note: row.note, created_by: row.createdBy, created_at: row.now, expires_at: row.expiresAt, connection_id: row.connectionId, domain_ids: [] })
    .execute();
}

export function listLinks(tx: Tx, tenantId: string): Promise<SetupLinkRow[]> {
  return tx.selectFrom('setup_links').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(200).execute();
}

export function findLink(tx: Tx, tenantId: string, id: string, forUpdate = false): Promise<SetupLinkRow | undefined> {
  const q = tx.selectFrom('setup_links').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id);
  return (forUpdate ? q.forUpdate() : q).executeTakeFirst();
}

/** The link of a token, locked: its requests are serialised (one person at a time, steps done once). */
export function lockLinkByToken(tx: Tx, tenantId: string, tokenHash: Buffer): Promise<SetupLinkRow | undefined> {
  return tx.selectFrom('setup_links').selectAll().where('tenant_id', '=', tenantId).where('token_hash', '=', tokenHash).forUpdate().executeTakeFirst();
}

/** The tenant of a token's link, before any tenant is known (a SECURITY DEFINER function: only the tenant id leaves it). */
export async function linkTenant(tx: Tx, tokenHash: Buffer): Promise<string | undefined> {
  const result = await sql<{ tenant: string | null }>`select tessera_setup_link_tenant(${tokenHash}) as tenant`.execute(tx);
  return result.rows[0]?.tenant ?? undefined;
}

export async function updateLink(
  tx: Tx,
  tenantId: string,
  id: string,
  values: Partial<Pick<SetupLinksTable, 'revoked_at' | 'revoked_by' | 'completed_at' | 'claim_hash' | 'claimed_at' | 'last_activity_at' | 'last_ip' | 'connection_created_at' | 'test_id' | 'directory_id' | 'scim_token_issued_at' | 'domain_ids'>>,
): Promise<void> {
  await tx.updateTable('setup_links').set(values).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

type OnceColumn = 'connection_created_at' | 'directory_id' | 'scim_token_issued_at' | 'completed_at';

/**
 * Marks a step done if it was not (compare-and-set on one column): false when it was done already, so two
 * requests racing through the same step cannot both do it (a replay is refused `setup_link.step_done`).
 */
export async function markOnce<C extends OnceColumn>(tx: Tx, tenantId: string, id: string, column: C, value: SetupLinksTable[C] & {}): Promise<boolean> {
  const result = await tx
    .updateTable('setup_links')
    .set({ [column]: value } as never)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where(column, 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
