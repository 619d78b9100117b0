import { sql } from 'kysely';
import type { Tx } from '../../db/database.js';
import { type Principal, toPrincipal } from '../../kernel/principal.js';
import './identity.tables.js';

export interface NewUser {
  id: string;
  email: string;
  name: string | null;
  phone?: string | null;
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
      phone: user.phone ?? null,
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

/** A user's own record, read through the principal projection (the `user_principals` view, migration 0011). */
export async function findUser(tx: Tx, tenantId: string, userId: string): Promise<Principal | undefined> {
  const row = await tx.selectFrom('user_principals').selectAll().where('tenant_id', '=', tenantId).where('user_id', '=', userId).executeTakeFirst();
  return row && toPrincipal(row);
}

export async function passwordHashOf(tx: Tx, tenantId: string, userId: string): Promise<string | null> {
  const row = await tx.selectFrom('users').select('password_hash').where('tenant_id', '=', tenantId).where('id', '=', userId).executeTakeFirst();
  return row?.password_hash ?? null;
}

export async function isActiveTenantAdmin(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
  const row = await tx
    .selectFrom('users')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .where('active', '=', true)
    .where('is_tenant_admin', '=', true)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The tenant's active administrators, row-locked until the transaction ends: two administrators demoting
 * each other at once are serialized, and the second sees the first's change (the last one stays).
 */
export async function lockActiveTenantAdmins(tx: Tx, tenantId: string): Promise<string[]> {
  const rows = await tx
    .selectFrom('users')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('active', '=', true)
    .where('is_tenant_admin', '=', true)
    .orderBy('id')
    .forUpdate()
    .execute();
  return rows.map((r) => r.id);
}

export interface UserQuery {
  /** Case-insensitive substring of the email or name. */
  search?: string | undefined;
  active?: boolean | undefined;
  limit: number;
  offset: number;
}

function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function listUsers(tx: Tx, tenantId: string, query: UserQuery): Promise<{ items: Principal[]; total: number }> {
  let base = tx.selectFrom('user_principals').where('tenant_id', '=', tenantId);
  if (query.search) {
    const pattern = likePattern(query.search);
    base = base.where((eb) => eb.or([eb(eb.fn('lower', ['email']), 'like', pattern), eb(eb.fn('lower', ['name']), 'like', pattern)]));
  }
  if (query.active !== undefined) base = base.where('active', '=', query.active);
  const rows = await base
    .selectAll()
    .orderBy((eb) => eb.fn('lower', ['email']))
    .orderBy('user_id')
    .limit(query.limit)
    .offset(query.offset)
    .execute();
  const count = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return { items: rows.map(toPrincipal), total: Number(count.n) };
}

export interface UserChanges {
  email?: string | undefined;
  name?: string | null | undefined;
  phone?: string | null | undefined;
  active?: boolean | undefined;
  isTenantAdmin?: boolean | undefined;
}

export async function updateUser(tx: Tx, tenantId: string, userId: string, changes: UserChanges, now: Date): Promise<boolean> {
  const result = await tx
    .updateTable('users')
    .set({
      ...(changes.email !== undefined ? { email: changes.email } : {}),
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.phone !== undefined ? { phone: changes.phone } : {}),
      ...(changes.active !== undefined ? { active: changes.active } : {}),
      ...(changes.isTenantAdmin !== undefined ? { is_tenant_admin: changes.isTenantAdmin } : {}),
      updated_at: now,
    })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function setPassword(tx: Tx, tenantId: string, userId: string, passwordHash: string, mustChange: boolean, now: Date): Promise<boolean> {
  const result = await tx
    .updateTable('users')
    .set({ password_hash: passwordHash, must_change_password: mustChange, updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** A new random security stamp (migration 0008): every login-phase token issued before is refused. */
export async function rotateSecurityStamp(tx: Tx, tenantId: string, userId: string): Promise<void> {
  await tx
    .updateTable('users')
    .set({ security_stamp: sql<string>`gen_random_uuid()` })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', userId)
    .execute();
}
