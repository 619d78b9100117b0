import type { Database, Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import * as store from './rbac.store.js';
import { ACCOUNT_ADMIN } from './system-roles.js';

export function createRbacService({ db, clock }: { readonly db: Database; readonly clock: Clock }) {
  /** Whether the user holds `permission` in the account through an unexpired assignment. */
  async function hasPermission(tx: Tx, tenantId: string, userId: string, accountId: string, permission: string): Promise<boolean> {
    const roles = await store.activeRolesOfUser(tx, tenantId, userId, accountId, clock.now());
    return roles.some((r) => r.system_key === ACCOUNT_ADMIN.systemKey || r.permissions.includes(permission));
  }

  return {
    hasPermission,

    /** The permission check the HTTP guard uses (http/auth.ts PermissionChecker). */
    permissionChecker() {
      return {
        has: (auth: { tenantId: string; userId: string; accountId: string }, permission: string) =>
          db.tenantWork(auth.tenantId, (tx) => hasPermission(tx, auth.tenantId, auth.userId, auth.accountId, permission)),
      };
    },

    /** Creates the account's system roles if missing; returns the Account Administrator role id. */
    async ensureSystemRoles(tx: Tx, accountId: string): Promise<{ accountAdminRoleId: string }> {
      const existing = await store.findSystemRole(tx, accountId, ACCOUNT_ADMIN.systemKey);
      if (existing) return { accountAdminRoleId: existing.id };
      const now = clock.now();
      const id = newId(now.getTime());
      await store.insertRole(tx, accountId, { id, ...ACCOUNT_ADMIN, permissions: [], createdAt: now });
      return { accountAdminRoleId: id };
    },

    async assignRoleToUser(tx: Tx, tenantId: string, input: { accountId: string; roleId: string; userId: string; expiresAt?: Date | null }) {
      const now = clock.now();
      const id = newId(now.getTime());
      await store.insertAssignment(tx, tenantId, { id, ...input, expiresAt: input.expiresAt ?? null, createdAt: now });
      return { id };
    },
  };
}

export type RbacService = ReturnType<typeof createRbacService>;
