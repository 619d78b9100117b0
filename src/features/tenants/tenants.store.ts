import { sql } from 'kysely';
import type { Tx } from '../../db/database.js';

export async function insertTenant(tx: Tx, tenantId: string, tenant: { name: string; slug: string; createdAt: Date }): Promise<void> {
  await tx.insertInto('tenants').values({ id: tenantId, name: tenant.name, slug: tenant.slug, created_at: tenant.createdAt, updated_at: tenant.createdAt }).execute();
}

export async function findTenant(tx: Tx, tenantId: string) {
  return tx.selectFrom('tenants').select(['id', 'name', 'slug', 'created_at']).where('id', '=', tenantId).executeTakeFirst();
}

/**
 * The tenant a slug names, across tenants (migration 0024's SECURITY DEFINER function: only its id and name leave).
 * Callable from any unit of work, the tenant-less one of the public sign-in page included.
 */
export async function tenantBySlug(tx: Tx, slug: string): Promise<{ id: string; name: string } | undefined> {
  const result = await sql<{ id: string; name: string }>`select id, name from tessera_tenant_by_slug(${slug})`.execute(tx);
  return result.rows[0];
}

/** Changes the tenant's slug; false when there is no such tenant (in this unit of work). */
export async function updateSlug(tx: Tx, tenantId: string, slug: string, now: Date): Promise<boolean> {
  const result = await tx.updateTable('tenants').set({ slug, updated_at: now }).where('id', '=', tenantId).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
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

/** The stored security settings object (`settings.security`), undefined when never set or no such tenant. */
export async function readSecuritySettings(tx: Tx, tenantId: string): Promise<unknown> {
  const row = await tx
    .selectFrom('tenants')
    .select(sql<unknown>`settings -> 'security'`.as('security'))
    .where('id', '=', tenantId)
    .executeTakeFirst();
  return row?.security ?? undefined;
}

/** Replaces `settings.security`, keeping the other keys of `settings`. */
export async function writeSecuritySettings(tx: Tx, tenantId: string, security: Record<string, unknown>, now: Date): Promise<boolean> {
  const result = await tx
    .updateTable('tenants')
    .set({ settings: sql<string>`settings || jsonb_build_object('security', ${JSON.stringify(security)}::jsonb)`, updated_at: now })
    .where('id', '=', tenantId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The first tenant an account was linked to: across tenants, so only in the owner's unit of work (operator commands). */
export async function firstTenantOfAccount(tx: Tx, accountId: string): Promise<string | undefined> {
  const row = await tx.selectFrom('account_tenants').select('tenant_id').where('account_id', '=', accountId).orderBy('created_at').executeTakeFirst();
  return row?.tenant_id;
}

/** Every tenant's id, in order: across tenants, so only in the owner's unit of work (global events, retention). */
export async function allTenantIds(tx: Tx): Promise<string[]> {
  const rows = await tx.selectFrom('tenants').select('id').orderBy('id').execute();
  return rows.map((r) => r.id);
}
