import type { Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import { withAccountAdminsKept } from './account-admins.js';
import * as groups from './groups.store.js';
import type { GrantRule } from './grant-rule.js';
import { RbacErrors } from './rbac.errors.js';
import { isUniqueViolation, type LocalChanges, type RbacDeps } from './rbac.ports.js';
import * as store from './rbac.store.js';
import { ACCOUNT_ADMIN } from './system-roles.js';

export interface Group {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly memberCount: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

function toGroup(r: groups.GroupRow): Group {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    memberCount: Number(r.member_count),
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

type UserActor = { readonly type: 'user'; readonly id: string; readonly ip?: string | null; readonly userAgent?: string | null };

/** Groups of a tenant and their members (issue 4, "Groups"). Changes need a tenant administrator. */
export function createGroupsService({ clock, audit, requireTenantAdmin }: RbacDeps, local: LocalChanges, grants: GrantRule) {
  async function findOrThrow(tx: Tx, tenantId: string, groupId: string) {
    const row = await groups.findGroup(tx, tenantId, groupId);
    if (!row) throw new AppError(KernelErrors.not_found, { message: 'No such group.' });
    return row;
  }

  async function userOrThrow(tx: Tx, tenantId: string, userId: string) {
    const user = await store.findUser(tx, tenantId, userId);
    if (!user) throw new AppError(KernelErrors.not_found, { message: 'No such user.' });
    return user;
  }

  function named<T>(run: () => Promise<T>): Promise<T> {
    return run().catch((error: unknown) => {
      if (isUniqueViolation(error)) throw new AppError(RbacErrors['rbac.group_name_taken'], { cause: error });
      throw error;
    });
  }

  return {
    async listGroups(tx: Tx, tenantId: string, query: { q?: string | undefined; limit: number; offset: number }) {
      const { items, total } = await groups.listGroups(tx, tenantId, query);
      return { items: items.map(toGroup), total, limit: query.limit, offset: query.offset };
    },

    async getGroup(tx: Tx, tenantId: string, groupId: string): Promise<Group> {
      return toGroup(await findOrThrow(tx, tenantId, groupId));
    },

    async createGroup(tx: Tx, tenantId: string, actor: UserActor, input: { name: string; description?: string | undefined }): Promise<Group> {
      await requireTenantAdmin(tx, tenantId, actor.id);
      const now = clock.now();
      const id = newId(now.getTime());
      const name = input.name.trim();
      await named(() => groups.insertGroup(tx, tenantId, { id, name, description: input.description ?? '', now }));
      await audit.record(tx, tenantId, { action: 'group.created', actor, target: { type: 'group', id }, outcome: 'success', details: { name } });
      return toGroup(await findOrThrow(tx, tenantId, id));
    },

    async updateGroup(tx: Tx, tenantId: string, actor: UserActor, groupId: string, patch: { name?: string | undefined; description?: string | undefined }): Promise<Group> {
      await requireTenantAdmin(tx, tenantId, actor.id);
      const before = toGroup(await findOrThrow(tx, tenantId, groupId));
      await named(() => groups.updateGroup(tx, tenantId, groupId, { name: patch.name?.trim(), description: patch.description }, clock.now()));
      const after = toGroup(await findOrThrow(tx, tenantId, groupId));
      const changes: Record<string, { from: unknown; to: unknown }> = {};
      for (const key of ['name', 'description'] as const) if (before[key] !== after[key]) changes[key] = { from: before[key], to: after[key] };
      if (Object.keys(changes).length > 0) {
        await audit.record(tx, tenantId, { action: 'group.updated', actor, target: { type: 'group', id: groupId }, outcome: 'success', details: { changes } });
      }
      return after;
    },

    /** Hard delete: memberships and the group's assignments go with it, in the caller's transaction. */
    async deleteGroup(tx: Tx, tenantId: string, actor: UserActor, groupId: string): Promise<void> {
      await requireTenantAdmin(tx, tenantId, actor.id);
      const group = await findOrThrow(tx, tenantId, groupId);
      const removed = await withAccountAdminsKept(tx, tenantId, { groupId }, () => groups.deleteGroup(tx, tenantId, groupId));
      local.generation++;
      await audit.record(tx, tenantId, {
        action: 'group.deleted',
        actor,
        target: { type: 'group', id: groupId },
        outcome: 'success',
        details: { name: group.name, membersRemoved: removed.members, assignmentsRemoved: removed.assignments },
      });
    },

    async listMembers(tx: Tx, tenantId: string, groupId: string, query: { q?: string | undefined; limit: number; offset: number }) {
      await findOrThrow(tx, tenantId, groupId);
      const rows = await groups.listMembers(tx, tenantId, groupId, query);
      return { items: rows.map((r) => ({ id: r.id, email: r.email, name: r.name, active: r.active, addedAt: new Date(r.added_at).toISOString() })), limit: query.limit, offset: query.offset };
    },

    async addMember(tx: Tx, tenantId: string, actor: UserActor, groupId: string, userId: string): Promise<void> {
      await requireTenantAdmin(tx, tenantId, actor.id);
      const group = await findOrThrow(tx, tenantId, groupId);
      const user = await userOrThrow(tx, tenantId, userId);
      const now = clock.now();
      // Already a member: nothing is given (the call is idempotent).
      if (await groups.isMember(tx, tenantId, groupId, userId)) return;
      // The grant rule: a new member gains every role the group holds, in every account, until each
      // assignment's end; tenant administration alone does not allow giving them. Checked before the insert,
      // so that a granter adding themselves is judged on the access held without the group.
      const given = await store.grantsOfGroup(tx, tenantId, groupId, now);
      await grants.assertWithinOwnAccess(
        tx,
        { tenantId, userId: actor.id },
        given.map((g) => ({ accountId: g.account_id, keys: g.permissions, organizationId: g.organization_id, accountAdmin: g.system_key === ACCOUNT_ADMIN.systemKey, until: g.expires_at && new Date(g.expires_at) })),
        { change: 'group.member_add', target: { type: 'group', id: groupId }, details: { group: group.name, userId, roles: [...new Set(given.map((g) => g.role_name))].sort() } },
      );
      if (!(await groups.addMember(tx, tenantId, groupId, userId, now))) return;
      local.generation++;
      await audit.record(tx, tenantId, { action: 'group.member_added', actor, target: { type: 'group', id: groupId }, outcome: 'success', details: { group: group.name, userId, email: user.email } });
    },

    async removeMember(tx: Tx, tenantId: string, actor: UserActor, groupId: string, userId: string): Promise<void> {
      await requireTenantAdmin(tx, tenantId, actor.id);
      const group = await findOrThrow(tx, tenantId, groupId);
      const user = await userOrThrow(tx, tenantId, userId);
      const removed = await withAccountAdminsKept(tx, tenantId, { userId }, () => groups.removeMember(tx, tenantId, groupId, userId));
      if (!removed) throw new AppError(KernelErrors.not_found, { message: 'The user is not a member of the group.' });
      local.generation++;
      await audit.record(tx, tenantId, { action: 'group.member_removed', actor, target: { type: 'group', id: groupId }, outcome: 'success', details: { group: group.name, userId, email: user.email } });
    },
  };
}

export type GroupsService = ReturnType<typeof createGroupsService>;
