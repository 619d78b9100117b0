import { sql } from 'kysely';
import type { Tx } from '../../db/database.js';
import './rbac.tables.js';

// ---- permission catalog (account-owned) ----

export async function appCatalog(tx: Tx, accountId: string) {
  return tx.selectFrom('permission_catalog').select(['key', 'category', 'description']).where('account_id', '=', accountId).orderBy('key').execute();
}

export async function appTemplates(tx: Tx, accountId: string) {
  return tx.selectFrom('role_templates').select(['key', 'name', 'description', 'permissions']).where('account_id', '=', accountId).orderBy('key').execute();
}

/** The catalog's version, locked for the rest of the transaction (0: nothing registered yet). */
export async function lockCatalogVersion(tx: Tx, accountId: string): Promise<number> {
  await tx.insertInto('permission_catalog_versions').values({ account_id: accountId, version: 0, updated_at: new Date(0) }).onConflict((oc) => oc.column('account_id').doNothing()).execute();
  const row = await tx.selectFrom('permission_catalog_versions').select('version').where('account_id', '=', accountId).forUpdate().executeTakeFirstOrThrow();
  return row.version;
}

export async function catalogVersion(tx: Tx, accountId: string): Promise<number> {
  const row = await tx.selectFrom('permission_catalog_versions').select('version').where('account_id', '=', accountId).executeTakeFirst();
  return row?.version ?? 0;
}

export async function replaceAppCatalog(
  tx: Tx,
  accountId: string,
  input: { permissions: { key: string; category: string; description: string }[]; templates: { key: string; name: string; description: string; permissions: string[] }[]; version: number; now: Date },
): Promise<void> {
  await tx.deleteFrom('permission_catalog').where('account_id', '=', accountId).execute();
  await tx.deleteFrom('role_templates').where('account_id', '=', accountId).execute();
  if (input.permissions.length > 0) {
    await tx.insertInto('permission_catalog').values(input.permissions.map((p) => ({ account_id: accountId, ...p, created_at: input.now }))).execute();
  }
  if (input.templates.length > 0) {
    await tx.insertInto('role_templates').values(input.templates.map((t) => ({ account_id: accountId, ...t }))).execute();
  }
  await tx.updateTable('permission_catalog_versions').set({ version: input.version, updated_at: input.now }).where('account_id', '=', accountId).execute();
}

/** Roles of the account that use any of `keys`. */
export async function rolesUsing(tx: Tx, accountId: string, keys: string[]) {
  if (keys.length === 0) return [];
  return tx
    .selectFrom('roles')
    .select(['id', 'name', 'permissions'])
    .where('account_id', '=', accountId)
    .where(sql<boolean>`permissions && ${sql.val(keys)}::text[]`)
    .execute();
}

// ---- roles (account-owned) ----

export interface RoleRow {
  id: string;
  name: string;
  description: string;
  organization_id: string | null;
  system_key: string | null;
  permissions: string[];
  created_at: Date;
  updated_at: Date;
}

const ROLE_COLUMNS = ['id', 'name', 'description', 'organization_id', 'system_key', 'permissions', 'created_at', 'updated_at'] as const;

export async function insertRole(
  tx: Tx,
  accountId: string,
  role: { id: string; name: string; description: string; systemKey: string | null; organizationId?: string | null; permissions: string[]; createdAt: Date },
): Promise<void> {
  await tx
    .insertInto('roles')
    .values({
      account_id: accountId,
      id: role.id,
      name: role.name,
      description: role.description,
      system_key: role.systemKey,
      organization_id: role.organizationId ?? null,
      permissions: role.permissions,
      created_at: role.createdAt,
      updated_at: role.createdAt,
    })
    .execute();
}

export async function findSystemRole(tx: Tx, accountId: string, systemKey: string) {
  return tx.selectFrom('roles').select(['id', 'name']).where('account_id', '=', accountId).where('system_key', '=', systemKey).executeTakeFirst();
}

export async function listRoles(tx: Tx, accountId: string): Promise<RoleRow[]> {
  return tx.selectFrom('roles').select(ROLE_COLUMNS).where('account_id', '=', accountId).orderBy('name').execute();
}

export async function findRole(tx: Tx, accountId: string, roleId: string): Promise<RoleRow | undefined> {
  return tx.selectFrom('roles').select(ROLE_COLUMNS).where('account_id', '=', accountId).where('id', '=', roleId).executeTakeFirst();
}

export async function updateRole(
  tx: Tx,
  accountId: string,
  roleId: string,
  patch: { name?: string | undefined; description?: string | undefined; organizationId?: string | null | undefined; permissions?: string[] | undefined },
  now: Date,
): Promise<void> {
  await tx
    .updateTable('roles')
    .set({
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.organizationId !== undefined ? { organization_id: patch.organizationId } : {}),
      ...(patch.permissions !== undefined ? { permissions: patch.permissions } : {}),
      updated_at: now,
    })
    .where('account_id', '=', accountId)
    .where('id', '=', roleId)
    .execute();
}

export async function setRolePermissions(tx: Tx, accountId: string, roleId: string, permissions: string[], now: Date): Promise<void> {
  await tx.updateTable('roles').set({ permissions, updated_at: now }).where('account_id', '=', accountId).where('id', '=', roleId).execute();
}

export async function deleteRole(tx: Tx, accountId: string, roleId: string): Promise<void> {
  await tx.deleteFrom('roles').where('account_id', '=', accountId).where('id', '=', roleId).execute();
}

export async function organizationExists(tx: Tx, accountId: string, organizationId: string): Promise<boolean> {
  const row = await tx.selectFrom('organizations').select('id').where('account_id', '=', accountId).where('id', '=', organizationId).executeTakeFirst();
  return row !== undefined;
}

/** How many roles of the account are scoped to the organization. */
export async function countRolesScopedTo(tx: Tx, accountId: string, organizationId: string): Promise<number> {
  const row = await tx.selectFrom('roles').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', accountId).where('organization_id', '=', organizationId).executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function organizationsOf(tx: Tx, accountIds: string[]) {
  if (accountIds.length === 0) return [];
  return tx.selectFrom('organizations').select(['account_id', 'id', 'name']).where('account_id', 'in', accountIds).orderBy('name').execute();
}

export async function accountName(tx: Tx, accountId: string) {
  return tx.selectFrom('accounts').select(['id', 'name']).where('id', '=', accountId).executeTakeFirst();
}

/** Whether the tenant is linked to the account (the accounts whose assignments it may hold). */
export async function tenantLinkedToAccount(tx: Tx, tenantId: string, accountId: string): Promise<boolean> {
  const row = await tx.selectFrom('account_tenants').select('account_id').where('tenant_id', '=', tenantId).where('account_id', '=', accountId).executeTakeFirst();
  return row !== undefined;
}

// ---- assignments (tenant-owned) ----

export interface AssignmentRow {
  id: string;
  account_id: string;
  role_id: string;
  role_name: string;
  user_id: string | null;
  group_id: string | null;
  principal_name: string | null;
  expires_at: Date | null;
  expired_at: Date | null;
  created_at: Date;
}

export async function insertAssignment(
  tx: Tx,
  tenantId: string,
  a: { id: string; accountId: string; roleId: string; userId?: string | null; groupId?: string | null; expiresAt: Date | null; createdAt: Date },
): Promise<void> {
  await tx
    .insertInto('role_assignments')
    .values({
      tenant_id: tenantId,
      id: a.id,
      account_id: a.accountId,
      role_id: a.roleId,
      user_id: a.userId ?? null,
      group_id: a.groupId ?? null,
      expires_at: a.expiresAt,
      created_at: a.createdAt,
    })
    .execute();
}

function assignmentsQuery(tx: Tx, tenantId: string) {
  return tx
    .selectFrom('role_assignments as ra')
    .innerJoin('roles as r', (j) => j.onRef('r.account_id', '=', 'ra.account_id').onRef('r.id', '=', 'ra.role_id'))
    .leftJoin('users as u', (j) => j.onRef('u.tenant_id', '=', 'ra.tenant_id').onRef('u.id', '=', 'ra.user_id'))
    .leftJoin('groups as g', (j) => j.onRef('g.tenant_id', '=', 'ra.tenant_id').onRef('g.id', '=', 'ra.group_id'))
    .select(['ra.id', 'ra.account_id', 'ra.role_id', 'r.name as role_name', 'ra.user_id', 'ra.group_id', 'ra.expires_at', 'ra.expired_at', 'ra.created_at'])
    .select(sql<string | null>`coalesce(u.email, g.name)`.as('principal_name'))
    .where('ra.tenant_id', '=', tenantId);
}

export async function findAssignment(tx: Tx, tenantId: string, id: string): Promise<AssignmentRow | undefined> {
  return assignmentsQuery(tx, tenantId).where('ra.id', '=', id).executeTakeFirst();
}

export async function listAssignments(
  tx: Tx,
  tenantId: string,
  accountId: string,
  filter: { userId?: string | undefined; groupId?: string | undefined; roleId?: string | undefined; includeExpired: boolean; now: Date },
): Promise<AssignmentRow[]> {
  let q = assignmentsQuery(tx, tenantId).where('ra.account_id', '=', accountId);
  if (filter.userId) q = q.where('ra.user_id', '=', filter.userId);
  if (filter.groupId) q = q.where('ra.group_id', '=', filter.groupId);
  if (filter.roleId) q = q.where('ra.role_id', '=', filter.roleId);
  if (!filter.includeExpired) q = q.where('ra.expired_at', 'is', null).where((eb) => eb.or([eb('ra.expires_at', 'is', null), eb('ra.expires_at', '>', filter.now)]));
  return q.orderBy('ra.created_at').orderBy('ra.id').execute();
}

export async function deleteAssignment(tx: Tx, tenantId: string, id: string): Promise<void> {
  await tx.deleteFrom('role_assignments').where('tenant_id', '=', tenantId).where('id', '=', id).execute();
}

export async function markExpired(tx: Tx, tenantId: string, id: string, now: Date): Promise<boolean> {
  const r = await tx
    .updateTable('role_assignments')
    .set({ expired_at: now })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('expired_at', 'is', null)
    .where('expires_at', '<=', now)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Roles of the account's own tenant's assignments that still count at `now`. */
export async function activeAssignmentsOfRole(tx: Tx, tenantId: string, accountId: string, roleId: string, now: Date): Promise<number> {
  const row = await tx
    .selectFrom('role_assignments')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('tenant_id', '=', tenantId)
    .where('account_id', '=', accountId)
    .where('role_id', '=', roleId)
    .where('expired_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function deleteLapsedAssignmentsOfRole(tx: Tx, tenantId: string, accountId: string, roleId: string, now: Date): Promise<void> {
  await tx
    .deleteFrom('role_assignments')
    .where('tenant_id', '=', tenantId)
    .where('account_id', '=', accountId)
    .where('role_id', '=', roleId)
    .where('expires_at', '<=', now)
    .execute();
}

export interface GrantRow {
  assignment_id: string;
  account_id: string;
  role_id: string;
  role_name: string;
  system_key: string | null;
  organization_id: string | null;
  permissions: string[];
  expires_at: Date | null;
  group_id: string | null;
  group_name: string | null;
}

/**
 * Every assignment that counts for the user at `now`, directly or through a group, with its role: the
 * resolver's one query. `accountId` undefined: in every account.
 */
export async function grantsOfUser(tx: Tx, tenantId: string, userId: string, accountId: string | undefined, now: Date): Promise<GrantRow[]> {
  const account = accountId === undefined ? sql`` : sql`and ra.account_id = ${accountId}`;
  const result = await sql<GrantRow>`
    select ra.id as assignment_id, ra.account_id, r.id as role_id, r.name as role_name, r.system_key, r.organization_id,
           r.permissions, ra.expires_at, g.id as group_id, g.name as group_name
      from role_assignments ra
      join roles r on r.account_id = ra.account_id and r.id = ra.role_id
      left join groups g on g.tenant_id = ra.tenant_id and g.id = ra.group_id
     where ra.tenant_id = ${tenantId}
       and (ra.user_id = ${userId}
            or ra.group_id in (select group_id from group_members where tenant_id = ${tenantId} and user_id = ${userId}))
       and ra.expired_at is null and (ra.expires_at is null or ra.expires_at > ${now})
       ${account}
     order by ra.created_at, ra.id`.execute(tx);
  return result.rows;
}

/** The assignments of a group that count at `now`, in every account, with their roles: what a new member gains. */
export async function grantsOfGroup(tx: Tx, tenantId: string, groupId: string, now: Date) {
  return tx
    .selectFrom('role_assignments as ra')
    .innerJoin('roles as r', (j) => j.onRef('r.account_id', '=', 'ra.account_id').onRef('r.id', '=', 'ra.role_id'))
    .select(['ra.account_id', 'r.id as role_id', 'r.name as role_name', 'r.system_key', 'r.organization_id', 'r.permissions', 'ra.expires_at'])
    .where('ra.tenant_id', '=', tenantId)
    .where('ra.group_id', '=', groupId)
    .where('ra.expired_at', 'is', null)
    .where((eb) => eb.or([eb('ra.expires_at', 'is', null), eb('ra.expires_at', '>', now)]))
    .execute();
}

/** Active users holding Account Administrator without expiry in the account, over every tenant linked to it. */
export async function accountAdminCount(tx: Tx, accountId: string): Promise<number> {
  const result = await sql<{ n: number | string }>`select tessera_account_admin_count(${accountId}::uuid) as n`.execute(tx);
  return Number(result.rows[0]?.n ?? 0);
}

/** Accounts where the user (directly or through groups) or the group holds Account Administrator. */
export async function adminAccountsOfPrincipal(tx: Tx, tenantId: string, principal: { userId?: string; groupId?: string }): Promise<string[]> {
  const who = principal.userId
    ? sql`(ra.user_id = ${principal.userId} or ra.group_id in (select group_id from group_members where tenant_id = ${tenantId} and user_id = ${principal.userId}))`
    : sql`ra.group_id = ${principal.groupId!}`;
  const result = await sql<{ account_id: string }>`
    select distinct ra.account_id from role_assignments ra
      join roles r on r.account_id = ra.account_id and r.id = ra.role_id
     where ra.tenant_id = ${tenantId} and r.system_key = 'account_admin' and ${who}`.execute(tx);
  return result.rows.map((r) => r.account_id);
}

/** Locks the accounts' rows: changes that could remove their last administrator run one at a time. */
export async function lockAccounts(tx: Tx, accountIds: string[]): Promise<void> {
  if (accountIds.length === 0) return;
  await tx.selectFrom('accounts').select('id').where('id', 'in', accountIds).orderBy('id').forUpdate().execute();
}

/** Assignments due for marking, across tenants (the expiry job). */
export async function dueAssignments(tx: Tx, now: Date, limit: number) {
  const result = await sql<{ tenant_id: string; id: string }>`select * from tessera_due_assignments(${now}::timestamptz, ${limit})`.execute(tx);
  return result.rows;
}

// ---- principals ----

export async function findUser(tx: Tx, tenantId: string, userId: string) {
  return tx.selectFrom('users').select(['id', 'email', 'name', 'active']).where('tenant_id', '=', tenantId).where('id', '=', userId).executeTakeFirst();
}

/** Users and groups of the tenant whose email, name or group name contains `q` (assignment search). */
export async function searchPrincipals(tx: Tx, tenantId: string, q: string, limit: number) {
  const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const users = await tx
    .selectFrom('users')
    .select(['id', 'email', 'name'])
    .where('tenant_id', '=', tenantId)
    .where('active', '=', true)
    .where((eb) => eb.or([eb('email', 'ilike', like), eb('name', 'ilike', like)]))
    .orderBy('email')
    .limit(limit)
    .execute();
  const groups = await tx.selectFrom('groups').select(['id', 'name']).where('tenant_id', '=', tenantId).where('name', 'ilike', like).orderBy('name').limit(limit).execute();
  return { users, groups };
}

// ---- accounts a user may enter (asked by the sessions feature) ----

/** Accounts the user may enter: those where the user holds an active role assignment, directly or through a group. */
export async function enterableAccounts(tx: Tx, tenantId: string, userId: string, now: Date): Promise<{ id: string; name: string }[]> {
  const result = await sql<{ id: string; name: string }>`
    select distinct a.id, a.name
      from role_assignments ra
      join accounts a on a.id = ra.account_id
     where ra.tenant_id = ${tenantId}
       and (ra.user_id = ${userId}
            or ra.group_id in (select group_id from group_members where tenant_id = ${tenantId} and user_id = ${userId}))
       and ra.expired_at is null and (ra.expires_at is null or ra.expires_at > ${now})
     order by a.name, a.id`.execute(tx);
  return result.rows;
}
