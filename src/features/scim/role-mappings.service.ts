import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { ACCOUNT_ADMIN, findRoleInAccounts, type Grant, type GrantRule, RbacErrors } from '../rbac/index.js';
import { tenantAccounts } from '../tenants/index.js';
import type { IdentityGroupsPort } from './groups.service.js';
import { ScimErrors } from './scim.errors.js';
import * as store from './scim.store.js';

type UserActor = AuditActor & { readonly type: 'user'; readonly id: string };

export interface RoleMappingsDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  readonly groups: IdentityGroupsPort;
  readonly grants: Pick<GrantRule, 'assertWithinOwnAccess' | 'refusalsRecorded'>;
  readonly requireTenantAdmin: (tx: Tx, tenantId: string, userId: string) => Promise<void>;
  /** rbac: the group assignments `managedBy` manages become exactly `wanted` (never Account Administrator). */
  readonly setManagedGroupRoles: (
    tx: Tx,
    tenantId: string,
    managedBy: string,
    wanted: ReadonlyArray<{ groupId: string; roleId: string }>,
    options: { granterId?: string | null },
  ) => Promise<{ added: number; removed: number; refused: ReadonlyArray<{ groupId: string; roleId: string; accountId: string; missing: string[]; accountAdminRequired: boolean }> }>;
  /** rbac: removes every assignment `managedBy` manages (the directory is deleted). */
  readonly removeManagedAssignments: (tx: Tx, tenantId: string, managedBy: string) => Promise<unknown>;
}

export interface RoleMappings {
  /**
   * displayName of a SCIM group of the directory (case-insensitive) → role, or an enterprise `department`
   * (trimmed, case-insensitive) → role: exactly one of `group` and `department`.
   */
  mappings: Array<{ group?: string | undefined; department?: string | undefined; roleId: string }>;
  /** The role every user of the directory holds ("everyone else → member"); null: none. */
  defaultRoleId: string | null;
}

/** `role_assignments.managed_by` of a directory's mappings. */
export const managedByOf = (directoryId: string) => `scim:${directoryId}`;
/** The identity group holding every user of the directory (created with the first default role). */
const everyoneName = (directoryId: string) => `SCIM ${directoryId}: all users`;
/** A department as it is compared (RFC 7643 §4.3 `department` is caseExact false): trimmed, lower-cased. */
export const departmentKey = (department: string) => department.trim().toLowerCase();
/** The identity group of a mapped department's users. */
const departmentName = (directoryId: string, key: string) => `SCIM ${directoryId}: department ${key}`.slice(0, 200);

/**
 * A directory's group → role mappings (issue's "group → role mapping"; the grant rule of rbac, OWASP A01:2021,
 * CWE-269). Configured by a tenant administrator with `scim.manage`; every role is checked against that
 * administrator's own access (without end, in the role's scope), never Account Administrator. A mapped role is
 * given as an assignment to the identity group (`managed_by = scim:<directoryId>`), so that a membership change
 * moves access on the next request (the group_members trigger moves the authorization epoch, DESIGN §3).
 */
export function createRoleMappingsService({ db, clock, audit, groups, grants, requireTenantAdmin, setManagedGroupRoles, removeManagedAssignments }: RoleMappingsDeps) {
  async function directoryOrThrow(tx: Tx, tenantId: string, directoryId: string) {
    const row = await store.findDirectory(tx, tenantId, directoryId);
    if (!row) throw new AppError(ScimErrors['scim.directory_not_found']);
    return row;
  }

  function represent(rows: readonly store.RoleMappingRow[]): RoleMappings {
    return {
      mappings: rows.filter((r) => r.group_name !== null || r.department !== null).map((r) => (r.group_name !== null ? { group: r.group_name, roleId: r.role_id } : { department: r.department!, roleId: r.role_id })),
      defaultRoleId: rows.find((r) => r.group_name === null && r.department === null)?.role_id ?? null,
    };
  }

  /** The directory's group assignments made equal to its mappings and its groups as they are now. */
  async function apply(tx: Tx, tenantId: string, directoryId: string): Promise<void> {
    const rows = await store.listRoleMappings(tx, tenantId, directoryId);
    const directory = await store.findDirectory(tx, tenantId, directoryId);
    const byName = new Map((await store.directoryGroups(tx, tenantId, directoryId)).map((g) => [g.display_name.toLowerCase(), g.group_id]));
    const wanted: { groupId: string; roleId: string }[] = [];
    for (const r of rows) {
      const groupId = r.group_name !== null ? byName.get(r.group_name.toLowerCase()) : r.department !== null ? r.department_group_id : directory?.everyone_group_id;
      if (groupId) wanted.push({ groupId, roleId: r.role_id });
    }
    // Every assignment added now (a mapped group the IdP pushed after the mappings were set, a rename that makes a
    // mapping match) is checked again against the administrator who set the mappings, as they are now; one beyond
    // their access is skipped and audited `access.grant.refused`, as SSO mapping rules are at sign-in.
    const granterId = rows[0]?.created_by ?? null;
    const { refused } = await setManagedGroupRoles(tx, tenantId, managedByOf(directoryId), wanted, { granterId });
    for (const r of refused) {
      await audit.record(tx, tenantId, {
        action: 'access.grant.refused',
        actor: { type: 'system', id: managedByOf(directoryId) },
        target: { type: 'group', id: r.groupId },
        outcome: 'failure',
        errorCode: RbacErrors['rbac.grant_exceeds_own_access'],
        details: { change: 'scim.role_mappings.apply', directoryId, roleId: r.roleId, accounts: [r.accountId], missing: r.missing, accountAdminRequired: r.accountAdminRequired, granterId },
      });
    }
  }

  async function checkRoles(tx: Tx, tenantId: string, actor: UserActor, directoryId: string, input: RoleMappings): Promise<void> {
    const accounts = (await tenantAccounts(tx, tenantId)).map((a) => a.id);
    const given: Grant[] = [];
    for (const roleId of new Set([...input.mappings.map((m) => m.roleId), ...(input.defaultRoleId ? [input.defaultRoleId] : [])])) {
      const role = await findRoleInAccounts(tx, accounts, roleId);
      if (!role) throw new AppError(ScimErrors['scim.role_not_found'], { message: `The role ${roleId} does not exist in an account of this tenant.` });
      if (role.system_key === ACCOUNT_ADMIN.systemKey) throw new AppError(ScimErrors['scim.role_forbidden']);
      given.push({ accountId: role.account_id, keys: role.permissions, organizationId: role.organization_id, until: null });
    }
    // A directory gives its roles to whoever the IdP puts in its groups, without end: the administrator who
    // configures them must hold their permissions in that scope without end.
    if (given.length > 0) {
      await grants.assertWithinOwnAccess(tx, { tenantId, userId: actor.id }, given, {
        change: 'scim.role_mappings',
        target: { type: 'scim_directory', id: directoryId },
        details: { roles: given.length },
      });
    }
  }

  /** The department groups of the directory's mappings now: department key → identity group id. */
  async function departmentGroupsOf(tx: Tx, tenantId: string, directoryId: string): Promise<Map<string, string>> {
    const groups = new Map<string, string>();
    for (const r of await store.listRoleMappings(tx, tenantId, directoryId)) {
      if (r.department !== null && r.department_group_id !== null) groups.set(departmentKey(r.department), r.department_group_id);
    }
    return groups;
  }

  /**
   * Each department of the new mappings gets its identity group (kept if it had one, else created with the
   * directory's users of that department); the groups of departments no longer mapped are deleted with their roles.
   */
  async function syncDepartmentGroups(tx: Tx, tenantId: string, directoryId: string, keys: readonly string[]): Promise<Map<string, string>> {
    const existing = await departmentGroupsOf(tx, tenantId, directoryId);
    const result = new Map<string, string>();
    for (const key of new Set(keys)) {
      let groupId = existing.get(key);
      if (!groupId) {
        groupId = await groups.create(tx, tenantId, departmentName(directoryId, key));
        await groups.addMembers(tx, tenantId, groupId, await store.directoryUsersInDepartment(tx, tenantId, directoryId, key));
      }
      result.set(key, groupId);
    }
    for (const [key, groupId] of existing) if (!result.has(key)) await groups.remove(tx, tenantId, groupId);
    return result;
  }

  return {
    apply,

    /**
     * A user's enterprise `department` was set or changed (SCIM POST, PUT, PATCH): the user joins the group of the
     * mapped department it matches and leaves the others, so its roles move on the next request (the membership
     * change moves the authorization epoch, DESIGN §3).
     */
    async departmentChanged(tx: Tx, tenantId: string, directoryId: string, userId: string, department: string | null): Promise<void> {
      const mapped = await departmentGroupsOf(tx, tenantId, directoryId);
      if (mapped.size === 0) return;
      const key = department === null ? null : departmentKey(department);
      const leave = [...mapped].filter(([k]) => k !== key).map(([, id]) => id);
      if (leave.length > 0) await groups.removeUserFromGroups(tx, tenantId, userId, leave);
      const join = key === null ? undefined : mapped.get(key);
      if (join) await groups.addMembers(tx, tenantId, join, [userId]);
    },

    async get(tenantId: string, directoryId: string): Promise<RoleMappings> {
      return db.tenantWork(tenantId, async (tx) => {
        await directoryOrThrow(tx, tenantId, directoryId);
        return represent(await store.listRoleMappings(tx, tenantId, directoryId));
      });
    },

    /** PUT: the directory's mappings become `input`; applied to its groups in the same unit of work. */
    put(tenantId: string, actor: UserActor, directoryId: string, input: RoleMappings): Promise<RoleMappings> {
      return grants.refusalsRecorded(tenantId, actor, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const directory = await directoryOrThrow(tx, tenantId, directoryId);
        if (input.mappings.some((m) => (m.group === undefined) === (m.department === undefined))) {
          throw new AppError(ScimErrors['scim.invalid_mapping'], { message: 'A mapping names exactly one of "group" and "department".' });
        }
        const names = input.mappings.map((m) => (m.group !== undefined ? `group:${m.group.trim().toLowerCase()}/${m.roleId}` : `department:${departmentKey(m.department!)}/${m.roleId}`));
        if (new Set(names).size !== names.length) throw new AppError(ScimErrors['scim.invalid_mapping'], { message: 'A group or department is mapped to the same role twice.' });
        await checkRoles(tx, tenantId, actor, directoryId, input);
        const before = represent(await store.listRoleMappings(tx, tenantId, directoryId));
        const now = clock.now();
        const departmentGroups = await syncDepartmentGroups(tx, tenantId, directoryId, input.mappings.flatMap((m) => (m.department !== undefined ? [departmentKey(m.department)] : [])));
        const rows = [
          ...input.mappings.map((m) =>
            m.group !== undefined
              ? { id: newId(now.getTime()), groupName: m.group.trim(), roleId: m.roleId }
              : { id: newId(now.getTime()), groupName: null, department: m.department!.trim(), departmentGroupId: departmentGroups.get(departmentKey(m.department!))!, roleId: m.roleId },
          ),
          ...(input.defaultRoleId ? [{ id: newId(now.getTime()), groupName: null, roleId: input.defaultRoleId }] : []),
        ];
        await store.replaceRoleMappings(tx, tenantId, directoryId, rows, actor.id, now);
        if (input.defaultRoleId && !directory.everyone_group_id) {
          // Every user the directory provisions, now and later, is a member (users.service adds new ones).
          const groupId = await groups.create(tx, tenantId, everyoneName(directoryId));
          await store.setEveryoneGroup(tx, tenantId, directoryId, groupId);
          await groups.addMembers(tx, tenantId, groupId, await store.directoryUserIds(tx, tenantId, directoryId));
        }
        await apply(tx, tenantId, directoryId);
        const after = represent(await store.listRoleMappings(tx, tenantId, directoryId));
        await audit.record(tx, tenantId, { action: 'scim.role_mappings.updated', actor, target: { type: 'scim_directory', id: directoryId }, outcome: 'success', details: { before, after } });
        return after;
      });
    },

    /** A user was provisioned: a member of the directory's everyone group, if there is one. */
    async userProvisioned(tx: Tx, tenantId: string, directoryId: string, userId: string): Promise<void> {
      const directory = await store.findDirectory(tx, tenantId, directoryId);
      if (directory?.everyone_group_id) await groups.addMembers(tx, tenantId, directory.everyone_group_id, [userId]);
    },

    /** A user left the directory: it leaves the everyone group and every group of the directory. */
    async userRemoved(tx: Tx, tenantId: string, directoryId: string, userId: string): Promise<void> {
      const directory = await store.findDirectory(tx, tenantId, directoryId);
      const ids = (await store.directoryGroups(tx, tenantId, directoryId)).map((g) => g.group_id);
      if (directory?.everyone_group_id) ids.push(directory.everyone_group_id);
      ids.push(...(await departmentGroupsOf(tx, tenantId, directoryId)).values());
      await groups.removeUserFromGroups(tx, tenantId, userId, ids);
    },

    /** The directory is being deleted: its groups (identity's) and the roles its mappings gave go with it. */
    async directoryDeleted(tx: Tx, tenantId: string, directoryId: string): Promise<number> {
      await removeManagedAssignments(tx, tenantId, managedByOf(directoryId));
      const directory = await store.findDirectory(tx, tenantId, directoryId);
      const ids = (await store.directoryGroups(tx, tenantId, directoryId)).map((g) => g.group_id);
      if (directory?.everyone_group_id) ids.push(directory.everyone_group_id);
      ids.push(...new Set((await departmentGroupsOf(tx, tenantId, directoryId)).values()));
      for (const id of ids) await groups.remove(tx, tenantId, id);
      return ids.length;
    },
  };
}

export type RoleMappingsService = ReturnType<typeof createRoleMappingsService>;
