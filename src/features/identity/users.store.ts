import type { Tx } from '../../db/database.js';

export interface NewUser {
  id: string;
  email: string;
  name: string | null;
  passwordHash: string | null;
  mustChangePassword: boolean;
  isTenantAdmin: boolean;
  createdAt: Date;
}

export async function insertUser(tx: Tx, tenantId: string, user: NewUser): Promise<void> {
  await tx
    .insertInto('users')
    .values({
      tenant_id: tenantId,
      id: user.id,
      email: user.email,
      name: user.name,
      password_hash: user.passwordHash,
      must_change_password: user.mustChangePassword,
      is_tenant_admin: user.isTenantAdmin,
      created_at: user.createdAt,
      updated_at: user.createdAt,
    })
    .execute();
}

export async function findUserByEmail(tx: Tx, tenantId: string, email: string) {
  return tx
    .selectFrom('users')
    .select(['id', 'email', 'name', 'active', 'is_tenant_admin', 'password_hash', 'must_change_password'])
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
}
