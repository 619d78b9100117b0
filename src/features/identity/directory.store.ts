import type { Tx } from '../../db/database.js';
import { likePattern } from './like-pattern.js';

/**
 * Reads of the directory (users) that other features make inside their own unit of work: access control
 * names the principals of its assignments, API keys check their creator. Identity owns the `users` table;
 * these are the only user reads outside identity's own use cases.
 */

/** A user as others refer to it. */
export interface UserRef {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  readonly active: boolean;
}

export async function findUserRef(tx: Tx, tenantId: string, userId: string): Promise<UserRef | undefined> {
  return tx.selectFrom('users').select(['id', 'email', 'name', 'active']).where('tenant_id', '=', tenantId).where('id', '=', userId).executeTakeFirst();
}

export async function userRefs(tx: Tx, tenantId: string, userIds: readonly string[]): Promise<UserRef[]> {
  if (userIds.length === 0) return [];
  return tx.selectFrom('users').select(['id', 'email', 'name', 'active']).where('tenant_id', '=', tenantId).where('id', 'in', [...userIds]).execute();
}

/** Active users of the tenant whose email or name contains `q`. */
export async function searchActiveUsers(tx: Tx, tenantId: string, q: string, limit: number) {
  const like = likePattern(q);
  return tx
    .selectFrom('users')
    .select(['id', 'email', 'name'])
    .where('tenant_id', '=', tenantId)
    .where('active', '=', true)
    .where((eb) => eb.or([eb('email', 'ilike', like), eb('name', 'ilike', like)]))
    .orderBy('email')
    .limit(limit)
    .execute();
}
