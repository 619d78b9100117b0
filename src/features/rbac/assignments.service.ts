import { tryAdvisoryXactLock } from '../../db/advisory-lock.js';
import type { Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import { findUserRef, groupRefs, searchActiveUsers, searchGroups, userRefs } from '../identity/index.js';
import { withAccountAdminsKept } from './account-admins.js';
import { RbacErrors } from './rbac.errors.js';
import type { GrantRule } from './grant-rule.js';
import { granterOf, type LocalChanges, type RbacActor, type RbacDeps, type Scope } from './rbac.ports.js';
import * as store from './rbac.store.js';
import { ACCOUNT_ADMIN } from './system-roles.js';

export interface Assignment {
  readonly id: string;
  readonly accountId: string;
  readonly roleId: string;
  readonly role: string;
  readonly principal: { readonly type: 'user' | 'group'; readonly id: string; readonly name: string | null };
  readonly expiresAt: string | null;
  readonly expired: boolean;
  readonly managedBy: string | null;
  readonly createdAt: string;
}

type NamedAssignmentRow = store.AssignmentRow & { principal_name: string | null };

/** Names the assignments' principals (users by email, groups by name): the directory is identity's. */
async function named(tx: Tx, tenantId: string, rows: readonly store.AssignmentRow[]): Promise<NamedAssignmentRow[]> {
  const userIds = [...new Set(rows.flatMap((r) => (r.user_id ? [r.user_id] : [])))];
  const groupIds = [...new Set(rows.flatMap((r) => (r.group_id ? [r.group_id] : [])))];
  const names = new Map<string, string>();
  for (const u of await userRefs(tx, tenantId, userIds)) names.set(u.id, u.email);
  for (const g of await groupRefs(tx, tenantId, groupIds)) names.set(g.id, g.name);
  return rows.map((r) => ({ ...r, principal_name: names.get(r.user_id ?? r.group_id ?? '') ?? null }));
}

function toAssignment(r: NamedAssignmentRow, now: Date): Assignment {
  return {
    id: r.id,
    accountId: r.account_id,
    roleId: r.role_id,
    role: r.role_name,
    principal: r.user_id ? { type: 'user', id: r.user_id, name: r.principal_name } : { type: 'group', id: r.group_id!, name: r.principal_name },
    expiresAt: r.expires_at ? new Date(r.expires_at).toISOString() : null,
    expired: r.expired_at !== null || (r.expires_at !== null && new Date(r.expires_at) <= now),
    managedBy: r.managed_by,
    createdAt: new Date(r.created_at).toISOString(),
  };
}

// One instance at a time runs the expiry job (DESIGN §1).
const EXPIRY_LOCK = 7_430_117_004;

/** Role assignments to users and groups, optionally expiring (DESIGN §2 "Assignment"). */
export function createAssignmentsService({ db, clock, audit }: RbacDeps, local: LocalChanges, grants: GrantRule) {
  async function findOrThrow(tx: Tx, scope: Scope, id: string) {
    const row = await store.findAssignment(tx, scope.tenantId, id);
    if (!row || row.account_id !== scope.accountId) throw new AppError(KernelErrors.not_found, { message: 'No such assignment.' });
    return row;
  }

  async function expireOne(tenantId: string, id: string): Promise<boolean> {
    return db.tenantWork(tenantId, async (tx) => {
      const now = clock.now();
      const row = await store.findAssignment(tx, tenantId, id);
      if (!row || !(await store.markExpired(tx, tenantId, id, now))) return false;
      local.generation++;
      await audit.record(tx, tenantId, {
        action: 'role_assignment.expired',
        actor: { type: 'system', id: 'rbac.expiry' },
        target: { type: 'role_assignment', id },
        outcome: 'success',
        details: { accountId: row.account_id, roleId: row.role_id, role: row.role_name, userId: row.user_id, groupId: row.group_id, expiresAt: row.expires_at && new Date(row.expires_at).toISOString() },
      });
      return true;
    });
  }

  return {
    listAssignments(scope: Scope, filter: { userId?: string | undefined; groupId?: string | undefined; roleId?: string | undefined; includeExpired?: boolean | undefined }) {
      return db.tenantWork(scope.tenantId, async (tx) => {
        const now = clock.now();
        const rows = await store.listAssignments(tx, scope.tenantId, scope.accountId, { ...filter, includeExpired: filter.includeExpired ?? false, now });
        return { items: (await named(tx, scope.tenantId, rows)).map((r) => toAssignment(r, now)) };
      });
    },

    /** Assigns a role to a user or a group. The grant rule may refuse it; the refusal is audited. */
    createAssignment(scope: Scope, actor: RbacActor, input: { roleId: string; userId?: string | undefined; groupId?: string | undefined; expiresAt?: Date | null | undefined }): Promise<Assignment> {
      return grants.refusalsRecorded(scope.tenantId, actor, (tx) => createAssignment(tx, scope, actor, input));
    },

    removeAssignment(scope: Scope, actor: RbacActor, id: string): Promise<void> {
      return db.tenantWork(scope.tenantId, (tx) => removeAssignment(tx, scope, actor, id));
    },

    /** Users and groups an assignment may name: only the caller's tenant, which is linked to the account. */
    searchPrincipals(scope: Scope, q: string) {
      return db.tenantWork(scope.tenantId, async (tx) => {
        const users = await searchActiveUsers(tx, scope.tenantId, q, 20);
        const found = await searchGroups(tx, scope.tenantId, q, 20);
        return {
          users: users.map((u) => ({ id: u.id, email: u.email, name: u.name })),
          groups: found.map((g) => ({ id: g.id, name: g.name })),
        };
      });
    },

    expireDue,
  };

  async function createAssignment(
    tx: Tx,
    scope: Scope,
    actor: RbacActor,
    input: { roleId: string; userId?: string | undefined; groupId?: string | undefined; expiresAt?: Date | null | undefined },
  ): Promise<Assignment> {
    const now = clock.now();
    const role = await store.findRole(tx, scope.accountId, input.roleId);
    if (!role) throw new AppError(KernelErrors.not_found, { message: 'No such role.' });
    // Principals are searched only in the caller's tenant, which is linked to the account.
    if (input.userId && !(await findUserRef(tx, scope.tenantId, input.userId))) throw new AppError(KernelErrors.not_found, { message: 'No such user.' });
    if (input.groupId && (await groupRefs(tx, scope.tenantId, [input.groupId])).length === 0) throw new AppError(KernelErrors.not_found, { message: 'No such group.' });
    if (input.expiresAt && input.expiresAt <= now) throw new AppError(RbacErrors['rbac.expiry_in_past']);
    // The grant rule: the role's keys in its scope until the assignment's end; Account Administrator only by one of its holders.
    const granter = granterOf(scope.tenantId, actor);
    if (granter) {
      const principal = input.userId ? { type: 'user', id: input.userId } : { type: 'group', id: input.groupId! };
      await grants.assertWithinOwnAccess(
        tx,
        granter,
        [{ accountId: scope.accountId, keys: role.permissions, organizationId: role.organization_id, accountAdmin: role.system_key === ACCOUNT_ADMIN.systemKey, until: input.expiresAt ?? null }],
        { change: 'role_assignment.create', target: principal, details: { roleId: role.id, role: role.name, expiresAt: input.expiresAt?.toISOString() ?? null } },
      );
    }
    const id = newId(now.getTime());
    await store.insertAssignment(tx, scope.tenantId, { id, accountId: scope.accountId, roleId: role.id, userId: input.userId ?? null, groupId: input.groupId ?? null, expiresAt: input.expiresAt ?? null, createdAt: now });
    local.generation++;
    await audit.record(tx, scope.tenantId, {
      action: 'role_assignment.created',
      actor,
      target: { type: 'role_assignment', id },
      outcome: 'success',
      details: { accountId: scope.accountId, roleId: role.id, role: role.name, userId: input.userId ?? null, groupId: input.groupId ?? null, expiresAt: input.expiresAt?.toISOString() ?? null },
    });
    const [created] = await named(tx, scope.tenantId, [(await store.findAssignment(tx, scope.tenantId, id))!]);
    return toAssignment(created!, now);
  }

  async function removeAssignment(tx: Tx, scope: Scope, actor: RbacActor, id: string): Promise<void> {
    const row = await findOrThrow(tx, scope, id);
    const principal = row.user_id ? { userId: row.user_id } : { groupId: row.group_id! };
    await withAccountAdminsKept(tx, scope.tenantId, principal, () => store.deleteAssignment(tx, scope.tenantId, id));
    local.generation++;
    await audit.record(tx, scope.tenantId, {
      action: 'role_assignment.removed',
      actor,
      target: { type: 'role_assignment', id },
      outcome: 'success',
      details: { accountId: scope.accountId, roleId: row.role_id, role: row.role_name, userId: row.user_id, groupId: row.group_id },
    });
  }

    /**
     * Marks assignments whose `expires_at` has passed as expired and records each (system actor). They
     * already stopped counting at that instant; this keeps the record. One instance at a time (advisory lock).
     */
  async function expireDue({ batch = 500 } = {}): Promise<number | null> {
    const run = async (): Promise<number> => {
      let count = 0;
      for (;;) {
        const due = await db.globalWork((tx) => store.dueAssignments(tx, clock.now(), batch));
        let progressed = 0;
        for (const d of due) if (await expireOne(d.tenant_id, d.id)) progressed++;
        count += progressed;
        if (progressed === 0 || due.length < batch) return count;
      }
    };
    // The embedded database has one process: no other instance to exclude (and one connection to hold).
    if (db.engine === 'pglite') return run();
    return db.globalWork(async (tx) => {
      return (await tryAdvisoryXactLock(tx, EXPIRY_LOCK)) ? run() : null;
    });
  }
}

export type AssignmentsService = ReturnType<typeof createAssignmentsService>;
