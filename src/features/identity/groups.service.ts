import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { findUserRef } from './directory.store.js';
import { GroupsErrors } from './groups.errors.js';
import * as groups from './groups.store.js';
import * as users from './users.store.js';
import { IdentityErrors } from './identity.errors.js';
import { isUniqueViolation } from '../../db/pg-errors.js';

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

type UserActor = AuditActor & { readonly type: 'user'; readonly id: string };

/**
 * What groups need of access control (the rbac feature), passed in by app.ts: a group carries role
 * assignments, so its membership is also a grant of access.
 */
export interface GroupAccessRules {
  /**
   * The grant rule for a new member (OWASP A01:2021, CWE-269): the granter must hold every role the group holds,
   * in every account, until each assignment's end. Throws `rbac.grant_exceeds_own_access`.
   */
  assertMayJoin(tx: Tx, tenantId: string, granterId: string, group: { id: string; name: string }, userId: string): Promise<void>;
  /** Runs a unit of work the grant rule may refuse; a refusal is audited in a unit of work of its own. */
  refusalsRecorded<T>(tenantId: string, actor: AuditActor, work: (tx: Tx) => Promise<T>): Promise<T>;
  /** The last-Account-Administrator rule around a change (throws `rbac.last_account_admin`). */
  withAccountAdminsKept<T>(tx: Tx, tenantId: string, principal: { userId: string } | { groupId: string }, change: () => Promise<T>): Promise<T>;
  /** Removes the group's role assignments (the group is being deleted); how many. */
  removeGroupAssignments(tx: Tx, tenantId: string, groupId: string): Promise<number>;
  /** A membership changed: permissions cached in this process before it are stale. */
  membershipChanged(): void;
}

export interface GroupsDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  readonly access: GroupAccessRules;
}

/** Groups of a tenant and their members (DESIGN §2 "Group"). Changes need a tenant administrator. */
export function createGroupsService({ db, clock, audit, access }: GroupsDeps) {
  async function requireTenantAdmin(tx: Tx, tenantId: string, userId: string): Promise<void> {
    if (!(await users.isActiveTenantAdmin(tx, tenantId, userId))) throw new AppError(IdentityErrors['identity.tenant_admin_required']);
  }

  async function findOrThrow(tx: Tx, tenantId: string, groupId: string) {
    const row = await groups.findGroup(tx, tenantId, groupId);
    if (!row) throw new AppError(KernelErrors.not_found, { message: 'No such group.' });
    return row;
  }

  async function userOrThrow(tx: Tx, tenantId: string, userId: string) {
    const user = await findUserRef(tx, tenantId, userId);
    if (!user) throw new AppError(KernelErrors.not_found, { message: 'No such user.' });
    return user;
  }

  function named<T>(run: () => Promise<T>): Promise<T> {
    return run().catch((error: unknown) => {
      if (isUniqueViolation(error)) throw new AppError(GroupsErrors['identity.group_name_taken'], { cause: error });
      throw error;
    });
  }

  /**
   * Groups an identity source owns (a SCIM directory, through app.ts): they run in the caller's unit of work, which
   * audits them; the source's own authentication stands for the tenant administrator. Membership changes are
   * set-based (one statement per batch), so a 1,000-member change is not 1,000 round trips. The product rules still
   * hold: the last Account Administrator is kept (`rbac.last_account_admin`), a group's name is unique in the tenant.
   */
  const directoryGroups = {
    async create(tx: Tx, tenantId: string, name: string): Promise<string> {
      if (await groups.groupNameTaken(tx, tenantId, name)) throw new AppError(GroupsErrors['identity.group_name_taken']);
      const now = clock.now();
      const id = newId(now.getTime());
      await groups.insertGroup(tx, tenantId, { id, name, description: '', now });
      return id;
    },
    async rename(tx: Tx, tenantId: string, groupId: string, name: string): Promise<void> {
      if (await groups.groupNameTaken(tx, tenantId, name, groupId)) throw new AppError(GroupsErrors['identity.group_name_taken']);
      await groups.updateGroup(tx, tenantId, groupId, { name }, clock.now());
    },
    /** Deletes the group, its memberships and its role assignments. */
    async remove(tx: Tx, tenantId: string, groupId: string): Promise<{ members: number; assignments: number }> {
      const removed = await access.withAccountAdminsKept(tx, tenantId, { groupId }, async () => {
        const assignments = await access.removeGroupAssignments(tx, tenantId, groupId);
        return { assignments, ...(await groups.deleteGroup(tx, tenantId, groupId)) };
      });
      access.membershipChanged();
      return removed;
    },
    memberIds: (tx: Tx, tenantId: string, groupIds: readonly string[]) => groups.memberIdsOfGroups(tx, tenantId, groupIds),
    /** Adds the users (of the tenant) not yet members; the ones added. */
    async addMembers(tx: Tx, tenantId: string, groupId: string, userIds: readonly string[]): Promise<string[]> {
      const added = await groups.addMembers(tx, tenantId, groupId, userIds, clock.now());
      if (added.length > 0) access.membershipChanged();
      return added;
    },
    /** Removes the users from the group; the ones removed. */
    async removeMembers(tx: Tx, tenantId: string, groupId: string, userIds: readonly string[]): Promise<string[]> {
      const removed = await access.withAccountAdminsKept(tx, tenantId, { groupId }, () => groups.removeMembers(tx, tenantId, groupId, userIds));
      if (removed.length > 0) access.membershipChanged();
      return removed;
    },
    /** Removes a user from each of the groups (the user left the directory). */
    async removeUserFromGroups(tx: Tx, tenantId: string, userId: string, groupIds: readonly string[]): Promise<number> {
      const n = await access.withAccountAdminsKept(tx, tenantId, { userId }, () => groups.removeUserFromGroups(tx, tenantId, userId, groupIds));
      if (n > 0) access.membershipChanged();
      return n;
    },
  };

  return {
    directoryGroups,

    async listGroups(tenantId: string, query: { q?: string | undefined; limit: number; offset: number }) {
      const { items, total } = await db.tenantWork(tenantId, (tx) => groups.listGroups(tx, tenantId, query));
      return { items: items.map(toGroup), total, limit: query.limit, offset: query.offset };
    },

    async getGroup(tenantId: string, groupId: string): Promise<Group> {
      return toGroup(await db.tenantWork(tenantId, (tx) => findOrThrow(tx, tenantId, groupId)));
    },

    createGroup(tenantId: string, actor: UserActor, input: { name: string; description?: string | undefined }): Promise<Group> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const now = clock.now();
        const id = newId(now.getTime());
        const name = input.name.trim();
        await named(() => groups.insertGroup(tx, tenantId, { id, name, description: input.description ?? '', now }));
        await audit.record(tx, tenantId, { action: 'group.created', actor, target: { type: 'group', id }, outcome: 'success', details: { name } });
        return toGroup(await findOrThrow(tx, tenantId, id));
      });
    },

    updateGroup(tenantId: string, actor: UserActor, groupId: string, patch: { name?: string | undefined; description?: string | undefined }): Promise<Group> {
      return db.tenantWork(tenantId, async (tx) => {
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
      });
    },

    /** Hard delete: memberships and the group's assignments go with it, in one unit of work. */
    deleteGroup(tenantId: string, actor: UserActor, groupId: string): Promise<void> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const group = await findOrThrow(tx, tenantId, groupId);
        const removed = await access.withAccountAdminsKept(tx, tenantId, { groupId }, async () => {
          const assignments = await access.removeGroupAssignments(tx, tenantId, groupId);
          return { assignments, ...(await groups.deleteGroup(tx, tenantId, groupId)) };
        });
        access.membershipChanged();
        await audit.record(tx, tenantId, {
          action: 'group.deleted',
          actor,
          target: { type: 'group', id: groupId },
          outcome: 'success',
          details: { name: group.name, membersRemoved: removed.members, assignmentsRemoved: removed.assignments },
        });
      });
    },

    listMembers(tenantId: string, groupId: string, query: { q?: string | undefined; limit: number; offset: number }) {
      return db.tenantWork(tenantId, async (tx) => {
        await findOrThrow(tx, tenantId, groupId);
        const rows = await groups.listMembers(tx, tenantId, groupId, query);
        return { items: rows.map((r) => ({ id: r.id, email: r.email, name: r.name, active: r.active, addedAt: new Date(r.added_at).toISOString() })), limit: query.limit, offset: query.offset };
      });
    },

    /** Adds a member (idempotent). The grant rule may refuse it; the refusal is audited. */
    addMember(tenantId: string, actor: UserActor, groupId: string, userId: string): Promise<void> {
      return access.refusalsRecorded(tenantId, actor, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const group = await findOrThrow(tx, tenantId, groupId);
        const user = await userOrThrow(tx, tenantId, userId);
        // Already a member: nothing is given (the call is idempotent).
        if (await groups.isMember(tx, tenantId, groupId, userId)) return;
        // Checked before the insert, so that a granter adding themselves is judged on the access held without the group;
        // tenant administration alone does not allow giving the group's roles.
        await access.assertMayJoin(tx, tenantId, actor.id, group, userId);
        if (!(await groups.addMember(tx, tenantId, groupId, userId, clock.now()))) return;
        access.membershipChanged();
        await audit.record(tx, tenantId, { action: 'group.member_added', actor, target: { type: 'group', id: groupId }, outcome: 'success', details: { group: group.name, userId, email: user.email } });
      });
    },

    removeMember(tenantId: string, actor: UserActor, groupId: string, userId: string): Promise<void> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const group = await findOrThrow(tx, tenantId, groupId);
        const user = await userOrThrow(tx, tenantId, userId);
        const removed = await access.withAccountAdminsKept(tx, tenantId, { userId }, () => groups.removeMember(tx, tenantId, groupId, userId));
        if (!removed) throw new AppError(KernelErrors.not_found, { message: 'The user is not a member of the group.' });
        access.membershipChanged();
        await audit.record(tx, tenantId, { action: 'group.member_removed', actor, target: { type: 'group', id: groupId }, outcome: 'success', details: { group: group.name, userId, email: user.email } });
      });
    },
  };
}

export type GroupsService = ReturnType<typeof createGroupsService>;
