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
