import type { Tx } from '../../db/database.js';
import { accountNamesIn } from '../tenants/index.js';
import * as store from './rbac.store.js';

/**
 * The accounts the user may enter at `now` (login's account selection, DESIGN §2 "Session"): those where it
 * holds an assignment that counts — directly or through a group, not expired — by name, then id. Whether
 * the user is active is the caller's to check. In the caller's unit of work, in one statement.
 */
export async function enterableAccounts(tx: Tx, tenantId: string, userId: string, now: Date): Promise<{ id: string; name: string }[]> {
  return accountNamesIn(tx, store.accountsOfActiveAssignmentsSql(tenantId, userId, now));
}
