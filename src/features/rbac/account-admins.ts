import type { Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import { groupsOfUser } from '../identity/index.js';
import { lockAccounts } from '../tenants/index.js';
import { RbacErrors } from './rbac.errors.js';
import * as store from './rbac.store.js';

/**
 * The last active Account Administrator of an account is protected (product rule: an account is never left
 * without someone who can administer it) through every path — removing or expiring the assignment,
 * deactivating its user, removing the user from the group that carries it, deleting the group. The change
 * runs, then every account where the principal held the role must still count an administrator (active user,
 * assignment without expiry, any linked tenant); otherwise `rbac.last_account_admin` is thrown and the
 * caller's transaction rolls back. The accounts' rows are locked first, so two such changes to one account
 * run one after the other and the second sees the first.
 */
export async function withAccountAdminsKept<T>(tx: Tx, tenantId: string, principal: { userId: string } | { groupId: string }, change: () => Promise<T>): Promise<T> {
  const who = 'userId' in principal ? { userId: principal.userId, groupIds: (await groupsOfUser(tx, tenantId, principal.userId)).map((g) => g.id) } : principal;
  const accounts = await store.adminAccountsOfPrincipal(tx, tenantId, who);
  if (accounts.length === 0) return change();
  await lockAccounts(tx, accounts);
  const before = new Map<string, number>();
  for (const id of accounts) before.set(id, await store.accountAdminCount(tx, id));
  const result = await change();
  for (const id of accounts) {
    if (before.get(id)! > 0 && (await store.accountAdminCount(tx, id)) === 0) {
      throw new AppError(RbacErrors['rbac.last_account_admin'], { detail: { accountId: id } });
    }
  }
  return result;
}
