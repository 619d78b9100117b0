import type { Tx } from '../../db/database.js';
import { newId } from '../../kernel/ids.js';
import { findUserRef } from '../identity/index.js';
import { tenantAccounts } from '../tenants/index.js';
import type { AccessService } from './access.service.js';
import { isAllowed, shortfall } from './grant-rule.js';
import type { LocalChanges, RbacDeps } from './rbac.ports.js';
import * as store from './rbac.store.js';
import type { Resolved } from './resolver.js';
import { ACCOUNT_ADMIN } from './system-roles.js';

/** Why a role an identity source wanted to give was not given. */
export interface ManagedRefusal {
  readonly roleId: string;
  readonly accountId: string | null;
  readonly role: string | null;
  /** `account_admin`: never through an identity source; `grant_exceeds`: beyond the granter's access; `role_not_found`. */
  readonly reason: 'account_admin' | 'grant_exceeds' | 'role_not_found';
  readonly missing: readonly string[];
}

export interface ManagedSync {
  /** Role ids the source managed for the user before, and manages after (sorted). */
  readonly before: readonly string[];
  readonly after: readonly string[];
  readonly added: ReadonlyArray<{ readonly assignmentId: string; readonly roleId: string; readonly accountId: string }>;
  readonly removed: ReadonlyArray<{ readonly assignmentId: string; readonly roleId: string; readonly accountId: string }>;
  readonly refused: readonly ManagedRefusal[];
  /** The roles given, named (what a dry run would assign). */
  readonly given: ReadonlyArray<{ readonly roleId: string; readonly accountId: string; readonly role: string }>;
}

/**
 * Assignments an identity source manages (`role_assignments.managed_by`, e.g. `sso:<connectionId>`): the source
 * says which roles the user should hold through it, and the user's assignments it manages become exactly those;
 * assignments a person made are never touched. Every role goes through the grant rule at that moment
 * (grant-rule.ts): never Account Administrator, never beyond the current access of the `granter` (the
 * administrator who last configured the source; a deactivated or unknown one holds nothing). A refused role is
 * skipped and reported, for the caller to audit; the rest is applied.
 */
export function createManagedAssignments({ clock }: RbacDeps, local: LocalChanges, access: Pick<AccessService, 'compute'>) {
  return {
    async sync(
      tx: Tx,
      tenantId: string,
      input: { userId: string | null; managedBy: string; roleIds: readonly string[]; granterId: string | null; dryRun?: boolean },
    ): Promise<ManagedSync> {
      const accounts = (await tenantAccounts(tx, tenantId)).map((a) => a.id);
      const granter = input.granterId ? await findUserRef(tx, tenantId, input.granterId) : undefined;
      const held = new Map<string, Resolved>();
      const refused: ManagedRefusal[] = [];
      const given: { roleId: string; accountId: string; role: string }[] = [];
      for (const roleId of [...new Set(input.roleIds)]) {
        const role = await store.findRoleInAccounts(tx, accounts, roleId);
        if (!role) {
          refused.push({ roleId, accountId: null, role: null, reason: 'role_not_found', missing: [] });
          continue;
        }
        if (role.system_key === ACCOUNT_ADMIN.systemKey) {
          refused.push({ roleId, accountId: role.account_id, role: role.name, reason: 'account_admin', missing: [] });
          continue;
        }
        let granterAccess = held.get(role.account_id);
        if (!granterAccess) {
          granterAccess = granter?.active
            ? await access.compute(tx, tenantId, granter.id, role.account_id)
            : { permissions: new Map(), accountAdmin: [], validUntil: Infinity };
          held.set(role.account_id, granterAccess);
        }
        // A source hands its roles out without end: the granter must hold them without end, in the role's scope.
        const s = shortfall(granterAccess, [{ accountId: role.account_id, keys: role.permissions, organizationId: role.organization_id, until: null }]);
        if (!isAllowed(s)) {
          refused.push({ roleId, accountId: role.account_id, role: role.name, reason: 'grant_exceeds', missing: s.missing });
          continue;
        }
        given.push({ roleId, accountId: role.account_id, role: role.name });
      }

      const current = input.userId ? await store.managedAssignmentsOfUser(tx, tenantId, input.userId, input.managedBy) : [];
      const wanted = new Set(given.map((g) => g.roleId));
      const kept = new Set<string>();
      const removed = [];
      for (const a of current) {
        // A role no longer wanted, or a second assignment of the same role: removed.
        if (wanted.has(a.role_id) && !kept.has(a.role_id)) kept.add(a.role_id);
        else removed.push({ assignmentId: a.id, roleId: a.role_id, accountId: a.account_id });
      }
      const added = given.filter((g) => !kept.has(g.roleId)).map((g) => ({ assignmentId: newId(clock.now().getTime()), roleId: g.roleId, accountId: g.accountId }));
      if (!input.dryRun && input.userId) {
        const now = clock.now();
        for (const r of removed) await store.deleteAssignment(tx, tenantId, r.assignmentId);
        for (const a of added) await store.insertAssignment(tx, tenantId, { id: a.assignmentId, accountId: a.accountId, roleId: a.roleId, userId: input.userId, expiresAt: null, createdAt: now, managedBy: input.managedBy });
        if (removed.length + added.length > 0) local.generation++;
      }
      const sorted = (ids: Iterable<string>) => [...new Set(ids)].sort();
      return { before: sorted(current.map((a) => a.role_id)), after: sorted(wanted), added, removed, refused, given };
    },

    /** Removes every assignment the source manages (the source is deleted); the removed ones. */
    async removeAll(tx: Tx, tenantId: string, managedBy: string) {
      const rows = await store.deleteManagedAssignments(tx, tenantId, managedBy);
      if (rows.length > 0) local.generation++;
      return rows.map((r) => ({ assignmentId: r.id, roleId: r.role_id, accountId: r.account_id, userId: r.user_id }));
    },
  };
}

export type ManagedAssignments = ReturnType<typeof createManagedAssignments>;
