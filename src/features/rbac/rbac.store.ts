import { type RawBuilder, sql } from 'kysely';
import type { Tx } from '../../db/database.js';
import { groupIdsOfUserSql } from '../identity/index.js';
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

/** The role, if it belongs to one of the accounts (SSO checks a connection's roles against its tenant's accounts). */
export async function findRoleInAccounts(tx: Tx, accountIds: readonly string[], roleId: string): Promise<(RoleRow & { account_id: string }) | undefined> {
  if (accountIds.length === 0) return undefined;
  return tx.selectFrom('roles').select([...ROLE_COLUMNS, 'account_id']).where('account_id', 'in', [...accountIds]).where('id', '=', roleId).executeTakeFirst();
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

/** How many roles of the account are scoped to the organization. */
export async function countRolesScopedTo(tx: Tx, accountId: string, organizationId: string): Promise<number> {
  const row = await tx.selectFrom('roles').select((eb) => eb.fn.countAll<number>().as('n')).where('account_id', '=', accountId).where('organization_id', '=', organizationId).executeTakeFirstOrThrow();
  return Number(row.n);
}

// ---- assignments (tenant-owned) ----

export interface AssignmentRow {
  id: string;
  account_id: string;
  role_id: string;
  role_name: string;
  user_id: string | null;
  group_id: string | null;
  expires_at: Date | null;
  expired_at: Date | null;
  managed_by: string | null;
  created_at: Date;
}

export async function insertAssignment(
  tx: Tx,
  tenantId: string,
  a: { id: string; accountId: string; roleId: string; userId?: string | null; groupId?: string | null; expiresAt: Date | null; createdAt: Date; managedBy?: string | null },
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
      managed_by: a.managedBy ?? null,
      created_at: a.createdAt,
    })
    .execute();
}

function assignmentsQuery(tx: Tx, tenantId: string) {
  return tx
    .selectFrom('role_assignments as ra')
    .innerJoin('roles as r', (j) => j.onRef('r.account_id', '=', 'ra.account_id').onRef('r.id', '=', 'ra.role_id'))
    .select(['ra.id', 'ra.account_id', 'ra.role_id', 'r.name as role_name', 'ra.user_id', 'ra.group_id', 'ra.expires_at', 'ra.expired_at', 'ra.managed_by', 'ra.created_at'])
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
  /** Who manages the assignment: null, a person; `sso:<connectionId>`, that connection's mapping rules. */
  managed_by?: string | null;
  /** Filled from the directory (identity owns groups): the source label `group:NAME`. */
  group_name: string | null;
}

/**
 * Every assignment that counts for the user at `now`, directly or through one of `groupIds` (the user's
 * groups, identity's to say), with its role: the resolver's query. `accountId` undefined: in every account.
 */
export async function grantsOfUser(tx: Tx, tenantId: string, userId: string, groupIds: readonly string[], accountId: string | undefined, now: Date): Promise<Omit<GrantRow, 'group_name'>[]> {
  const account = accountId === undefined ? sql`` : sql`and ra.account_id = ${accountId}`;
  const result = await sql<Omit<GrantRow, 'group_name'>>`
    select ra.id as assignment_id, ra.account_id, r.id as role_id, r.name as role_name, r.system_key, r.organization_id,
           r.permissions, ra.expires_at, ra.group_id, ra.managed_by
      from role_assignments ra
      join roles r on r.account_id = ra.account_id and r.id = ra.role_id
     where ra.tenant_id = ${tenantId}
       and (ra.user_id = ${userId} or ra.group_id = any(${sql.val([...groupIds])}::uuid[]))
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

/** Accounts where the user (directly or through `groupIds`, its groups) or the group holds Account Administrator. */
export async function adminAccountsOfPrincipal(tx: Tx, tenantId: string, principal: { userId: string; groupIds: readonly string[] } | { groupId: string }): Promise<string[]> {
  const who =
    'userId' in principal
      ? sql`(ra.user_id = ${principal.userId} or ra.group_id = any(${sql.val([...principal.groupIds])}::uuid[]))`
      : sql`ra.group_id = ${principal.groupId}`;
  const result = await sql<{ account_id: string }>`
    select distinct ra.account_id from role_assignments ra
      join roles r on r.account_id = ra.account_id and r.id = ra.role_id
     where ra.tenant_id = ${tenantId} and r.system_key = 'account_admin' and ${who}`.execute(tx);
  return result.rows.map((r) => r.account_id);
}

/** Assignments due for marking, across tenants (the expiry job). */
export async function dueAssignments(tx: Tx, now: Date, limit: number) {
  const result = await sql<{ tenant_id: string; id: string }>`select * from tessera_due_assignments(${now}::timestamptz, ${limit})`.execute(tx);
  return result.rows;
}

/** Removes the group's assignments (the group is being deleted); how many. */
export async function deleteAssignmentsOfGroup(tx: Tx, tenantId: string, groupId: string): Promise<number> {
  const r = await tx.deleteFrom('role_assignments').where('tenant_id', '=', tenantId).where('group_id', '=', groupId).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/**
 * SQL (runs no query): the ids of the accounts where the user holds an assignment that counts at `now`, directly or
 * through one of its groups, as a subquery for `id in (…)` in another feature's query (login's account selection:
 * one statement with the accounts' names instead of three).
 */
export function accountsOfActiveAssignmentsSql(tenantId: string, userId: string, now: Date): RawBuilder<string> {
  return sql<string>`(select ra.account_id from role_assignments ra
    where ra.tenant_id = ${tenantId} and (ra.user_id = ${userId} or ra.group_id in ${groupIdsOfUserSql(sql`${tenantId}`, sql`${userId}`)})
      and ra.expired_at is null and (ra.expires_at is null or ra.expires_at > ${now}))`;
}

// ---- assignments managed by an identity source (SSO mapping rules) ----

/** The user's direct assignments that `managedBy` (e.g. `sso:<connectionId>`) manages, in every account. */
export async function managedAssignmentsOfUser(tx: Tx, tenantId: string, userId: string, managedBy: string) {
  return tx
    .selectFrom('role_assignments')
    .select(['id', 'account_id', 'role_id'])
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .where('managed_by', '=', managedBy)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Removes every assignment `managedBy` manages (its connection is being deleted); the removed ones. */
export async function deleteManagedAssignments(tx: Tx, tenantId: string, managedBy: string) {
  return tx.deleteFrom('role_assignments').where('tenant_id', '=', tenantId).where('managed_by', '=', managedBy).returning(['id', 'account_id', 'role_id', 'user_id']).execute();
}

/** Assignments to groups that an identity source manages (`managed_by`), e.g. a SCIM directory's role mappings. */
export async function managedGroupAssignments(tx: Tx, tenantId: string, managedBy: string) {
  return tx
    .selectFrom('role_assignments')
    .select(['id', 'account_id', 'role_id', 'group_id'])
    .where('tenant_id', '=', tenantId)
    .where('managed_by', '=', managedBy)
    .where('group_id', 'is not', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}
