import type { Tx } from '../../db/database.js';

export async function insertTenant(tx: Tx, tenantId: string, tenant: { name: string; createdAt: Date }): Promise<void> {
  await tx.insertInto('tenants').values({ id: tenantId, name: tenant.name, created_at: tenant.createdAt, updated_at: tenant.createdAt }).execute();
}

export async function findTenant(tx: Tx, tenantId: string) {
  return tx.selectFrom('tenants').select(['id', 'name', 'created_at']).where('id', '=', tenantId).executeTakeFirst();
}

/** Creates an account and links it to the tenant creating it. */
export async function insertAccount(tx: Tx, tenantId: string, account: { id: string; name: string; createdAt: Date }): Promise<void> {
  await tx.insertInto('accounts').values({ id: account.id, name: account.name, created_at: account.createdAt, updated_at: account.createdAt }).execute();
  await tx.insertInto('account_tenants').values({ tenant_id: tenantId, account_id: account.id, created_at: account.createdAt }).execute();
}

/** Accounts linked to the tenant. */
export async function listAccounts(tx: Tx, tenantId: string) {
  return tx
    .selectFrom('accounts')
    .innerJoin('account_tenants', 'account_tenants.account_id', 'accounts.id')
    .select(['accounts.id', 'accounts.name', 'accounts.created_at'])
    .where('account_tenants.tenant_id', '=', tenantId)
    .orderBy('accounts.created_at')
    .execute();
}

/** Operator work (owner, across tenants). */
export async function countAllTenants(tx: Tx): Promise<number> {
  const row = await tx.selectFrom('tenants').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}
