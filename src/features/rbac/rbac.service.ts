import type { Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import * as store from './rbac.store.js';
import { ACCOUNT_ADMIN } from './system-roles.js';

export function createRbacService({ clock }: { readonly clock: Clock }) {
  return {
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
