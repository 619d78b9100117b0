import type { Tx } from '../../db/database.js';
import './api-keys.tables.js';

export async function insertKey(
  tx: Tx,
  tenantId: string,
  key: { id: string; accountId: string; name: string; hash: Buffer; permissions: string[]; createdBy: string; createdAt: Date },
): Promise<void> {
  await tx
    .insertInto('api_keys')
    .values({ tenant_id: tenantId, id: key.id, account_id: key.accountId, name: key.name, key_hash: key.hash, permissions: key.permissions, created_by: key.createdBy, created_at: key.createdAt })
    .execute();
}

export async function listKeys(tx: Tx, tenantId: string, accountId: string) {
  return tx
    .selectFrom('api_keys')
    .select(['id', 'name', 'account_id', 'permissions', 'created_at', 'last_used_at', 'revoked_at'])
    .where('tenant_id', '=', tenantId)
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .execute();
}

export async function findKey(tx: Tx, tenantId: string, accountId: string, id: string) {
  return tx.selectFrom('api_keys').select(['id', 'name', 'revoked_at']).where('tenant_id', '=', tenantId).where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

export async function revokeKey(tx: Tx, tenantId: string, id: string, now: Date): Promise<void> {
  await tx.updateTable('api_keys').set({ revoked_at: now }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

/** The live (not revoked) key with this hash. */
export async function findLiveKeyByHash(tx: Tx, tenantId: string, hash: Buffer) {
  return tx
    .selectFrom('api_keys')
    .select(['id', 'account_id', 'permissions', 'created_by'])
    .where('tenant_id', '=', tenantId)
    .where('key_hash', '=', hash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}
