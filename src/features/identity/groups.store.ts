import { type RawBuilder, sql } from 'kysely';
import type { Tx } from '../../db/database.js';
import { likePattern } from './like-pattern.js';
import './groups.tables.js';

export interface GroupRow {
  id: string;
  name: string;
  description: string;
  created_at: Date;
  updated_at: Date;
  member_count: number | string;
}

function groupsQuery(tx: Tx, tenantId: string) {
  return tx
    .selectFrom('groups as g')
    .select(['g.id', 'g.name', 'g.description', 'g.created_at', 'g.updated_at'])
    .select((eb) =>
      eb.selectFrom('group_members as m').select((e) => e.fn.countAll<number>().as('n')).whereRef('m.tenant_id', '=', 'g.tenant_id').whereRef('m.group_id', '=', 'g.id').as('member_count'),
    )
    .where('g.tenant_id', '=', tenantId);
}

export async function listGroups(tx: Tx, tenantId: string, query: { q?: string | undefined; limit: number; offset: number }) {
  let q = groupsQuery(tx, tenantId);
  if (query.q) q = q.where('g.name', 'ilike', likePattern(query.q));
  const items = (await q.orderBy('g.name').limit(query.limit).offset(query.offset).execute()) as GroupRow[];
  let c = tx.selectFrom('groups').select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', tenantId);
  if (query.q) c = c.where('name', 'ilike', likePattern(query.q));
  const { n } = await c.executeTakeFirstOrThrow();
  return { items, total: Number(n) };
}

export async function findGroup(tx: Tx, tenantId: string, groupId: string): Promise<GroupRow | undefined> {
  return (await groupsQuery(tx, tenantId).where('g.id', '=', groupId).executeTakeFirst()) as GroupRow | undefined;
}

export async function insertGroup(tx: Tx, tenantId: string, g: { id: string; name: string; description: string; now: Date }): Promise<void> {
  await tx.insertInto('groups').values({ tenant_id: tenantId, id: g.id, name: g.name, description: g.description, created_at: g.now, updated_at: g.now }).execute();
}

export async function updateGroup(tx: Tx, tenantId: string, groupId: string, patch: { name?: string | undefined; description?: string | undefined }, now: Date) {
  await tx
    .updateTable('groups')
    .set({ ...(patch.name !== undefined ? { name: patch.name } : {}), ...(patch.description !== undefined ? { description: patch.description } : {}), updated_at: now })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', groupId)
    .execute();
}

/** Removes the group's memberships, then the group (its role assignments are access control's to remove first). */
export async function deleteGroup(tx: Tx, tenantId: string, groupId: string): Promise<{ members: number }> {
  const m = await tx.deleteFrom('group_members').where('tenant_id', '=', tenantId).where('group_id', '=', groupId).executeTakeFirst();
  await tx.deleteFrom('groups').where('tenant_id', '=', tenantId).where('id', '=', groupId).execute();
  return { members: Number(m.numDeletedRows) };
}

export async function listMembers(tx: Tx, tenantId: string, groupId: string, query: { q?: string | undefined; limit: number; offset: number }) {
  let q = tx
    .selectFrom('group_members as m')
    .innerJoin('users as u', (j) => j.onRef('u.tenant_id', '=', 'm.tenant_id').onRef('u.id', '=', 'm.user_id'))
    .select(['u.id', 'u.email', 'u.name', 'u.active', 'm.created_at as added_at'])
    .where('m.tenant_id', '=', tenantId)
    .where('m.group_id', '=', groupId);
  if (query.q) {
    const like = likePattern(query.q);
    q = q.where((eb) => eb.or([eb('u.email', 'ilike', like), eb('u.name', 'ilike', like)]));
  }
  return q.orderBy('u.email').limit(query.limit).offset(query.offset).execute();
}

export async function isMember(tx: Tx, tenantId: string, groupId: string, userId: string): Promise<boolean> {
  const row = await tx.selectFrom('group_members').select('user_id').where('tenant_id', '=', tenantId).where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
  return row !== undefined;
}

export async function addMember(tx: Tx, tenantId: string, groupId: string, userId: string, now: Date): Promise<boolean> {
  const r = await tx
    .insertInto('group_members')
    .values({ tenant_id: tenantId, group_id: groupId, user_id: userId, created_at: now })
    .onConflict((oc) => oc.columns(['tenant_id', 'group_id', 'user_id']).doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function removeMember(tx: Tx, tenantId: string, groupId: string, userId: string): Promise<boolean> {
  const r = await tx.deleteFrom('group_members').where('tenant_id', '=', tenantId).where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

// ---- reads other features make in their own unit of work (access control resolves groups' assignments) ----

/** A group as others refer to it. */
export interface GroupRef {
  readonly id: string;
  readonly name: string;
}

/** The groups the user is a member of: one indexed read (the resolver's first, DESIGN §3 step 3). */
export async function groupsOfUser(tx: Tx, tenantId: string, userId: string): Promise<GroupRef[]> {
  return tx
    .selectFrom('group_members as m')
    .innerJoin('groups as g', (j) => j.onRef('g.tenant_id', '=', 'm.tenant_id').onRef('g.id', '=', 'm.group_id'))
    .select(['g.id', 'g.name'])
    .where('m.tenant_id', '=', tenantId)
    .where('m.user_id', '=', userId)
    .execute();
}

export async function groupRefs(tx: Tx, tenantId: string, groupIds: readonly string[]): Promise<GroupRef[]> {
  if (groupIds.length === 0) return [];
  return tx.selectFrom('groups').select(['id', 'name']).where('tenant_id', '=', tenantId).where('id', 'in', [...groupIds]).execute();
}

/** Groups of the tenant whose name contains `q`. */
export async function searchGroups(tx: Tx, tenantId: string, q: string, limit: number): Promise<GroupRef[]> {
  return tx.selectFrom('groups').select(['id', 'name']).where('tenant_id', '=', tenantId).where('name', 'ilike', likePattern(q)).orderBy('name').limit(limit).execute();
}

// ---- directory-driven groups (SCIM, through identity's groups service): set-based, in the caller's unit of work ----

export async function groupNameTaken(tx: Tx, tenantId: string, name: string, exceptGroupId?: string): Promise<boolean> {
  let q = tx.selectFrom('groups').select('id').where('tenant_id', '=', tenantId).where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase()));
  if (exceptGroupId) q = q.where('id', '<>', exceptGroupId);
  return (await q.executeTakeFirst()) !== undefined;
}

/** The member ids of each group (one query; groups without members are absent). */
export async function memberIdsOfGroups(tx: Tx, tenantId: string, groupIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (groupIds.length === 0) return out;
  const rows = await tx
    .selectFrom('group_members')
    .select(['group_id', 'user_id'])
    .where('tenant_id', '=', tenantId)
    .where('group_id', 'in', [...groupIds])
    .orderBy('group_id')
    .orderBy('created_at')
    .orderBy('user_id')
    .execute();
  for (const r of rows) {
    const list = out.get(r.group_id) ?? [];
    list.push(r.user_id);
    out.set(r.group_id, list);
  }
  return out;
}

/**
 * Adds users to a group in one statement (a batch of any size is one round trip); existing members are left
 * alone. Only ids of users of the tenant are added. The users added.
 */
export async function addMembers(tx: Tx, tenantId: string, groupId: string, userIds: readonly string[], now: Date): Promise<string[]> {
  if (userIds.length === 0) return [];
  const rows = await tx
    .insertInto('group_members')
    .columns(['tenant_id', 'group_id', 'user_id', 'created_at'])
    .expression((eb) =>
      eb
        .selectFrom('users')
        .select([sql<string>`${tenantId}::uuid`.as('tenant_id'), sql`${groupId}::uuid`.as('group_id'), 'users.id as user_id', sql`${now}::timestamptz`.as('created_at')])
        .where('users.tenant_id', '=', tenantId)
        .where('users.id', '=', sql<string>`any(${sql.val([...new Set(userIds)])}::uuid[])`),
    )
    .onConflict((oc) => oc.columns(['tenant_id', 'group_id', 'user_id']).doNothing())
    .returning('user_id')
    .execute();
  return rows.map((r) => r.user_id);
}

/** Removes users from a group in one statement; the users removed. */
export async function removeMembers(tx: Tx, tenantId: string, groupId: string, userIds: readonly string[]): Promise<string[]> {
  if (userIds.length === 0) return [];
  const rows = await tx
    .deleteFrom('group_members')
    .where('tenant_id', '=', tenantId)
    .where('group_id', '=', groupId)
    .where('user_id', '=', sql<string>`any(${sql.val([...new Set(userIds)])}::uuid[])`)
    .returning('user_id')
    .execute();
  return rows.map((r) => r.user_id);
}

/** Removes a user from every group of `groupIds` (one statement); how many memberships ended. */
export async function removeUserFromGroups(tx: Tx, tenantId: string, userId: string, groupIds: readonly string[]): Promise<number> {
  if (groupIds.length === 0) return 0;
  const r = await tx.deleteFrom('group_members').where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('group_id', 'in', [...groupIds]).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/**
 * SQL (runs no query): the members of the group `groupId` (a column of the caller's query) as a jsonb array of
 * `{"value": <user id>}`, for filters on `members` that another feature's query applies (SCIM's
 * `members[value eq "…"]`). Correlated on (tenant_id, group_id), the primary key of group_members.
 */
export function membersJsonSql(tenantId: RawBuilder<unknown>, groupId: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(select coalesce(jsonb_agg(jsonb_build_object('value', gm.user_id::text)), '[]'::jsonb) from group_members gm where gm.tenant_id = ${tenantId} and gm.group_id = ${groupId})`;
}

/**
 * SQL (runs no query): the ids of the groups the user `userId` (a column of the caller's query) is a member of, as
 * a subquery for `group_id in (…)` in another feature's query (SCIM's read-only `groups` of a User, RFC 7643
 * §4.1.2). Driven by group_members_user_idx (tenant_id, user_id).
 */
export function groupIdsOfUserSql(tenantId: RawBuilder<unknown>, userId: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(select gm.group_id from group_members gm where gm.tenant_id = ${tenantId} and gm.user_id = ${userId})`;
}
