import type { Tx } from '../../db/database.js';
import { AppError, isAppError } from '../../kernel/app-error.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import type { AuditActor } from '../audit/index.js';
import { createAccessService } from './access.service.js';
import { withAccountAdminsKept } from './account-admins.js';
import { createAssignmentsService } from './assignments.service.js';
import { createCatalogService } from './catalog.service.js';
import { type ExpiryJobOptions, startExpiryJob } from './expiry-job.js';
import { createGrantRule } from './grant-rule.js';
import { createManagedAssignments } from './managed-assignments.js';
import { RbacErrors } from './rbac.errors.js';
import type { LocalChanges, RbacDeps } from './rbac.ports.js';
import * as store from './rbac.store.js';
import { createRolesService } from './roles.service.js';
import { ACCOUNT_ADMIN } from './system-roles.js';
import { tenantAccounts } from '../tenants/index.js';

export interface CheckInput {
  readonly user: string;
  readonly permission: string;
  readonly org?: string | undefined;
}

/** Who asks authz/check: a signed-in user (its session) or an API key of the account. */
export type Checker =
  | { readonly kind: 'session'; readonly tenantId: string; readonly userId: string; readonly accountId: string; readonly authzEpoch?: number | undefined }
  | { readonly kind: 'api_key'; readonly tenantId: string; readonly accountId: string; readonly permissions: ReadonlySet<string> };

/** Access control (DESIGN §2): catalog, roles, assignments, effective access, the grant rule, the authorization API. */
export function createRbacService(deps: RbacDeps) {
  const local: LocalChanges = { generation: 0 };
  const catalog = createCatalogService(deps, local);
  const access = createAccessService(deps, local, catalog);
  const grants = createGrantRule({ db: deps.db, audit: deps.audit, accessOf: access.compute, accountsOf: (tx, tenantId, userId) => access.accountsOf(tx, tenantId, userId) });
  const roles = createRolesService(deps, local, catalog, grants);
  const assignments = createAssignmentsService(deps, local, grants);
  const managed = createManagedAssignments(deps, local, access);

  return {
    catalog,
    roles,
    assignments,
    access,
    /** The grant rule (grant-rule.ts): every path that gives access calls it, later SSO and SCIM mappings too. */
    grants,

    /** Assignments an identity source manages (SSO mapping rules), through the grant rule at each sync. */
    managed,

    /** The permission check the HTTP guard uses (http/auth.ts PermissionChecker). */
    permissionChecker() {
      return { has: (auth: { tenantId: string; userId: string; accountId: string; authzEpoch?: number }, permission: string) => access.has(auth, permission) };
    },

    ensureSystemRoles: roles.ensureSystemRoles,

    /** How many roles of the account are scoped to the organization (the organizations API refuses to delete it then). */
    rolesScopedTo: (tx: Tx, accountId: string, organizationId: string) => store.countRolesScopedTo(tx, accountId, organizationId),

    /** What identity's groups need of access control (identity's GroupAccessRules), wired by app.ts. */
    groupRules: {
      async assertMayJoin(tx: Tx, tenantId: string, granterId: string, group: { id: string; name: string }, userId: string): Promise<void> {
        // A new member gains every role the group holds, in every account, until each assignment's end.
        const given = await store.grantsOfGroup(tx, tenantId, group.id, deps.clock.now());
        await grants.assertWithinOwnAccess(
          tx,
          { tenantId, userId: granterId },
          given.map((g) => ({ accountId: g.account_id, keys: g.permissions, organizationId: g.organization_id, accountAdmin: g.system_key === ACCOUNT_ADMIN.systemKey, until: g.expires_at && new Date(g.expires_at) })),
          { change: 'group.member_add', target: { type: 'group', id: group.id }, details: { group: group.name, userId, roles: [...new Set(given.map((g) => g.role_name))].sort() } },
        );
      },
      refusalsRecorded: <T>(tenantId: string, actor: AuditActor, work: (tx: Tx) => Promise<T>) => grants.refusalsRecorded(tenantId, actor, work),
      withAccountAdminsKept,
      removeGroupAssignments: (tx: Tx, tenantId: string, groupId: string) => store.deleteAssignmentsOfGroup(tx, tenantId, groupId),
      membershipChanged: () => {
        local.generation++;
      },
    },

    /**
     * Roles given to groups an identity source manages (a SCIM directory's group → role mappings,
     * `managed_by = scim:<directoryId>`): the source's group assignments become exactly `wanted`; assignments a
     * person made are never touched. The caller has checked the roles through the grant rule when they were
     * configured; Account Administrator is never given this way. With `granterId`, every assignment this call
     * would add (a mapped group that appeared later, a mapping that now matches) goes through the grant rule
     * again, on the authority of that administrator as they are now (OWASP A01:2021, CWE-269; as SSO mapping
     * rules at each sign-in): one beyond their current access is not added and is returned in `refused`.
     */
    async setManagedGroupRoles(tx: Tx, tenantId: string, managedBy: string, wanted: ReadonlyArray<{ groupId: string; roleId: string }>, options: { granterId?: string | null } = {}) {
      const accounts = (await tenantAccounts(tx, tenantId)).map((a) => a.id);
      const current = await store.managedGroupAssignments(tx, tenantId, managedBy);
      const key = (groupId: string | null, roleId: string) => `${groupId}/${roleId}`;
      const want = new Map(wanted.map((w) => [key(w.groupId, w.roleId), w]));
      const kept = new Set<string>();
      const removed: string[] = [];
      for (const a of current) {
        const k = key(a.group_id, a.role_id);
        if (want.has(k) && !kept.has(k)) kept.add(k);
        else removed.push(a.id);
      }
      const now = deps.clock.now();
      let added = 0;
      const refused: { groupId: string; roleId: string; accountId: string; missing: string[]; accountAdminRequired: boolean }[] = [];
      for (const [k, w] of want) {
        if (kept.has(k)) continue;
        const role = await store.findRoleInAccounts(tx, accounts, w.roleId);
        if (!role || role.system_key === ACCOUNT_ADMIN.systemKey) continue;
        if ('granterId' in options) {
          const refusal = { groupId: w.groupId, roleId: role.id, accountId: role.account_id };
          // No administrator's authority to give it on (the configuring one is gone): not given.
          if (!options.granterId) {
            refused.push({ ...refusal, missing: [...role.permissions].sort(), accountAdminRequired: false });
            continue;
          }
          try {
            await grants.assertWithinOwnAccess(tx, { tenantId, userId: options.granterId }, [{ accountId: role.account_id, keys: role.permissions, organizationId: role.organization_id, until: null }], { change: managedBy });
          } catch (error) {
            if (!isAppError(error) || error.code !== RbacErrors['rbac.grant_exceeds_own_access']) throw error;
            const r = (error.detail as { grantRefusal: { missing: string[]; accountAdminRequired: boolean } }).grantRefusal;
            refused.push({ ...refusal, missing: r.missing, accountAdminRequired: r.accountAdminRequired });
            continue;
          }
        }
        await store.insertAssignment(tx, tenantId, { id: newId(now.getTime()), accountId: role.account_id, roleId: role.id, groupId: w.groupId, expiresAt: null, createdAt: now, managedBy });
        added++;
      }
      for (const id of removed) await store.deleteAssignment(tx, tenantId, id);
      if (added + removed.length > 0) local.generation++;
      return { added, removed: removed.length, refused };
    },

    /** Starts the assignment expiry job (`serve`); stop it before closing the database. */
    startJobs(options: ExpiryJobOptions) {
      return startExpiryJob(assignments, options);
    },

    /** Whether the user holds `permission` account-wide in the account (no cache). */
    async hasPermission(tx: Tx, tenantId: string, userId: string, accountId: string, permission: string): Promise<boolean> {
      const resolved = await access.compute(tx, tenantId, userId, accountId);
      return (resolved.permissions.get(permission) ?? []).some((s) => s.organizationId === null);
    },

    /** Bootstrap's first assignment (no audit here: bootstrap records its own events). */
    async assignRoleToUser(tx: Tx, tenantId: string, input: { accountId: string; roleId: string; userId: string; expiresAt?: Date | null }) {
      const now = deps.clock.now();
      const id = newId(now.getTime());
      await store.insertAssignment(tx, tenantId, { id, ...input, expiresAt: input.expiresAt ?? null, createdAt: now });
      local.generation++;
      return { id };
    },

    /**
     * POST /api/v1/authz/check. With a session, the caller asks about itself (about others only with
     * `access_grants.view`); with an API key, about any user of the key's tenant, and only for the
     * permissions the key is scoped to.
     */
    async check(checker: Checker, checks: readonly CheckInput[]) {
      if (checker.kind === 'api_key') {
        const outside = checks.filter((c) => !checker.permissions.has(c.permission)).map((c) => c.permission);
        if (outside.length > 0) throw new AppError(RbacErrors['rbac.api_key_scope'], { message: `The API key is not scoped to ${[...new Set(outside)].join(', ')}.` });
      } else if (checks.some((c) => c.user !== checker.userId) && !(await access.has(checker, 'access_grants.view'))) {
        throw new AppError(KernelErrors.permission_denied, { message: 'Missing permission access_grants.view.' });
      }
      const results = [];
      for (const c of checks) {
        // The caller itself was found live and active by this request's session read (DESIGN §3).
        const self = checker.kind === 'session' && c.user === checker.userId;
        const user = self ? { active: true } : await access.findUser(checker.tenantId, c.user);
        if (!user?.active) {
          results.push({ user: c.user, permission: c.permission, org: c.org ?? null, allowed: false, reason: user ? 'the user is deactivated' : 'no such user in the tenant' });
          continue;
        }
        const epoch = self ? checker.authzEpoch : undefined;
        const d = await access.check({ tenantId: checker.tenantId, userId: c.user, accountId: checker.accountId, authzEpoch: epoch }, c.permission, c.org);
        results.push({ user: c.user, permission: c.permission, org: c.org ?? null, allowed: d.allowed, reason: d.reason });
      }
      return { results };
    },
  };
}

export type RbacService = ReturnType<typeof createRbacService>;
