import { sql } from 'kysely';
import type { Tx } from '../../db/database.js';

/**
 * The user as the login pipeline and the session lifecycle read it, in their own unit of work: identity owns
 * the `users` table, sessions asks for these through its identity port. Every function takes the tenant first
 * and filters on it (RLS is the second wall).
 */

/** The user of `email` in the tenant (case-insensitive), with what the first factor and the stamp check need. */
export async function findLoginUser(tx: Tx, tenantId: string, email: string) {
  return tx
    .selectFrom('users')
    .select(['id', 'email', 'active', 'password_hash', 'must_change_password', 'security_stamp'])
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
}

/** The user by id, as a login-phase token's redemption and a refresh check it (active, stamp, forced change). */
export async function findLoginUserById(tx: Tx, tenantId: string, userId: string) {
  return tx
    .selectFrom('users')
    .select(['id', 'email', 'active', 'must_change_password', 'security_stamp'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .executeTakeFirst();
}

export type LoginUser = NonNullable<Awaited<ReturnType<typeof findLoginUser>>>;
export type LoginUserById = NonNullable<Awaited<ReturnType<typeof findLoginUserById>>>;

/** Candidate tenants for an email when the caller gave none (SECURITY DEFINER function, at most 4), in a global unit of work. */
export async function loginTenants(tx: Tx, email: string): Promise<string[]> {
  const result = await sql<{ t: string }>`select t from tessera_login_tenants(${email}) as t`.execute(tx);
  return result.rows.map((r) => r.t);
}
