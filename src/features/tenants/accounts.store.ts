import type { RawBuilder } from 'kysely';
import type { Tx } from '../../db/database.js';

/**
 * What other features read of accounts and organizations (the tenants feature owns both). Every function takes
 * the caller's transaction: they run inside another feature's unit of work.
 */

/** The accounts' names by name, then id (accounts whose row the caller's tenant may read; others are missing). */
export async function accountNames(tx: Tx, accountIds: readonly string[]): Promise<{ id: string; name: string }[]> {
  if (accountIds.length === 0) return [];
  return tx.selectFrom('accounts').select(['id', 'name']).where('id', 'in', [...accountIds]).orderBy('name').orderBy('id').execute();
}

/** The same for the accounts a subquery of another feature names (one statement with it), by name, then id. */
export async function accountNamesIn(tx: Tx, accountIds: RawBuilder<string>): Promise<{ id: string; name: string }[]> {
  return tx.selectFrom('accounts').select(['id', 'name']).where('id', 'in', accountIds).orderBy('name').orderBy('id').execute();
}

/** The account's authorization epoch (DESIGN §3 step 2), or undefined for an unknown account. */
export async function authzEpochOf(tx: Tx, accountId: string): Promise<number | undefined> {
  const row = await tx.selectFrom('accounts').select('authz_epoch').where('id', '=', accountId).executeTakeFirst();
  return row ? Number(row.authz_epoch) : undefined;
}

/** Moves the account's authorization epoch: every cached permission of the account is rebuilt (DESIGN §3). */
export async function bumpAuthzEpoch(tx: Tx, accountId: string): Promise<void> {
  await tx
    .updateTable('accounts')
    .set((eb) => ({ authz_epoch: eb('authz_epoch', '+', 1) }))
    .where('id', '=', accountId)
    .execute();
}

/** Locks the accounts' rows (in id order, so two lockers cannot deadlock) for the rest of the transaction. */
export async function lockAccounts(tx: Tx, accountIds: readonly string[]): Promise<void> {
  if (accountIds.length === 0) return;
  await tx.selectFrom('accounts').select('id').where('id', 'in', [...accountIds]).orderBy('id').forUpdate().execute();
}

/** Whether the tenant is linked to the account (the accounts whose assignments it may hold). */
export async function tenantLinkedToAccount(tx: Tx, tenantId: string, accountId: string): Promise<boolean> {
  const row = await tx.selectFrom('account_tenants').select('account_id').where('tenant_id', '=', tenantId).where('account_id', '=', accountId).executeTakeFirst();
  return row !== undefined;
}

export async function organizationExists(tx: Tx, accountId: string, organizationId: string): Promise<boolean> {
  const row = await tx.selectFrom('organizations').select('id').where('account_id', '=', accountId).where('id', '=', organizationId).executeTakeFirst();
  return row !== undefined;
}

/** The organizations of the accounts, by name. */
export async function organizationsOf(tx: Tx, accountIds: readonly string[]) {
  if (accountIds.length === 0) return [];
  return tx.selectFrom('organizations').select(['account_id', 'id', 'name']).where('account_id', 'in', [...accountIds]).orderBy('name').execute();
}

/** The names of the tenant's linked accounts among `accountIds` (the sessions list shows them). */
export async function linkedAccountNames(tx: Tx, tenantId: string, accountIds: readonly string[]): Promise<Map<string, string>> {
  if (accountIds.length === 0) return new Map();
  const rows = await tx
    .selectFrom('accounts')
    .innerJoin('account_tenants', 'account_tenants.account_id', 'accounts.id')
    .select(['accounts.id', 'accounts.name'])
    .where('account_tenants.tenant_id', '=', tenantId)
    .where('accounts.id', 'in', [...accountIds])
    .execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}
