import type { Tx } from '../../db/database.js';

export async function insertRole(
  tx: Tx,
  accountId: string,
  role: { id: string; name: string; description: string; systemKey: string | null; permissions: string[]; createdAt: Date },
): Promise<void> {
  await tx
    .insertInto('roles')
    .values({
      account_id: accountId,
      id: role.id,
      name: role.name,
      description: role.description,
      system_key: role.systemKey,
      organization_id: null,
      permissions: role.permissions,
      created_at: role.createdAt,
      updated_at: role.createdAt,
    })
    .execute();
}

export async function findSystemRole(tx: Tx, accountId: string, systemKey: string) {
  return tx.selectFrom('roles').select(['id', 'name']).where('account_id', '=', accountId).where('system_key', '=', systemKey).executeTakeFirst();
}

export async function insertAssignment(
  tx: Tx,
  tenantId: string,
  assignment: { id: string; accountId: string; roleId: string; userId: string; expiresAt: Date | null; createdAt: Date },
): Promise<void> {
  await tx
    .insertInto('role_assignments')
    .values({
      tenant_id: tenantId,
      id: assignment.id,
      account_id: assignment.accountId,
      role_id: assignment.roleId,
      user_id: assignment.userId,
      expires_at: assignment.expiresAt,
      created_at: assignment.createdAt,
    })
    .execute();
}

/** The roles a user holds in an account through assignments that have not expired at `now`. */
export async function activeRolesOfUser(tx: Tx, tenantId: string, userId: string, accountId: string, now: Date) {
  return tx
    .selectFrom('role_assignments as ra')
    .innerJoin('roles as r', (join) => join.onRef('r.account_id', '=', 'ra.account_id').onRef('r.id', '=', 'ra.role_id'))
    .select(['r.id', 'r.name', 'r.system_key', 'r.permissions', 'ra.expires_at'])
    .where('ra.tenant_id', '=', tenantId)
    .where('ra.user_id', '=', userId)
    .where('ra.account_id', '=', accountId)
    .where((eb) => eb.or([eb('ra.expires_at', 'is', null), eb('ra.expires_at', '>', now)]))
    .execute();
}
