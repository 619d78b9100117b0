import type { Tx } from '../../db/database.js';

export interface OrganizationRow {
  id: string;
  name: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = ['id', 'name', 'created_at', 'updated_at'] as const;

function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

// Organizations belong to an account; row-level security shows only those of accounts linked to the
// unit of work's tenant, and every query here also filters by the caller's account.

export async function listOrganizations(tx: Tx, accountId: string, query: { q?: string | undefined; limit: number; offset: number }) {
  let q = tx.selectFrom('organizations').select(COLUMNS).where('account_id', '=', accountId);
  let c = tx.selectFrom('organizations').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', accountId);
  if (query.q) {
    q = q.where('name', 'ilike', likePattern(query.q));
    c = c.where('name', 'ilike', likePattern(query.q));
  }
  const items: OrganizationRow[] = await q.orderBy('name').orderBy('id').limit(query.limit).offset(query.offset).execute();
  const { n } = await c.executeTakeFirstOrThrow();
  return { items, total: Number(n) };
}

export async function findOrganization(tx: Tx, accountId: string, organizationId: string): Promise<OrganizationRow | undefined> {
  return tx.selectFrom('organizations').select(COLUMNS).where('account_id', '=', accountId).where('id', '=', organizationId).executeTakeFirst();
}

/**
 * The organization, locked until the transaction ends: a role being scoped to it at the same moment waits
 * (its foreign-key check takes a KEY SHARE lock on this row), so a delete never cascades into a new role.
 */
export async function lockOrganization(tx: Tx, accountId: string, organizationId: string): Promise<OrganizationRow | undefined> {
  return tx.selectFrom('organizations').select(COLUMNS).where('account_id', '=', accountId).where('id', '=', organizationId).forUpdate().executeTakeFirst();
}

export async function insertOrganization(tx: Tx, accountId: string, org: { id: string; name: string; createdAt: Date }): Promise<void> {
  await tx.insertInto('organizations').values({ account_id: accountId, id: org.id, name: org.name, created_at: org.createdAt, updated_at: org.createdAt }).execute();
}

export async function renameOrganization(tx: Tx, accountId: string, organizationId: string, name: string, now: Date): Promise<boolean> {
  const result = await tx.updateTable('organizations').set({ name, updated_at: now }).where('account_id', '=', accountId).where('id', '=', organizationId).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deleteOrganization(tx: Tx, accountId: string, organizationId: string): Promise<boolean> {
  const result = await tx.deleteFrom('organizations').where('account_id', '=', accountId).where('id', '=', organizationId).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}
