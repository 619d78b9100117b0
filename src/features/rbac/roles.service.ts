import type { Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import { organizationExists } from '../tenants/index.js';
import type { CatalogService } from './catalog.service.js';
import { RbacErrors } from './rbac.errors.js';
import type { GrantRule } from './grant-rule.js';
import { granterOf, type LocalChanges, type RbacActor, type RbacDeps, type Scope } from './rbac.ports.js';
import * as store from './rbac.store.js';
import { ACCOUNT_ADMIN } from './system-roles.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/pg-errors.js';

export interface Role {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly organizationId: string | null;
  readonly system: boolean;
  readonly permissions: string[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

function toRole(r: store.RoleRow): Role {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    organizationId: r.organization_id,
    system: r.system_key !== null,
    permissions: r.permissions,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

export interface RoleInput {
  name: string;
  description?: string | undefined;
  organizationId?: string | null | undefined;
  permissions?: string[] | undefined;
  /** Pre-fills the permissions from a template (explicit `permissions` win). */
  template?: string | undefined;
}

/** Roles of an account (DESIGN §2 "Role"): system roles are immutable, a role in use cannot be deleted. */
export function createRolesService({ db, clock, audit }: RbacDeps, local: LocalChanges, catalog: CatalogService, grants: GrantRule) {
  async function findOrThrow(tx: Tx, accountId: string, roleId: string) {
    const row = await store.findRole(tx, accountId, roleId);
    // Roles of accounts the caller's tenant is not linked to are not found, never forbidden.
    if (!row) throw new AppError(KernelErrors.not_found, { message: 'No such role.' });
    return row;
  }

  async function checkOrganization(tx: Tx, accountId: string, organizationId: string | null | undefined) {
    if (organizationId && !(await organizationExists(tx, accountId, organizationId))) {
      throw new AppError(KernelErrors.not_found, { message: 'No such organization in the account.' });
    }
  }

  function named<T>(run: () => Promise<T>): Promise<T> {
    return run().catch((error: unknown) => {
      if (isUniqueViolation(error)) throw new AppError(RbacErrors['rbac.role_name_taken'], { cause: error });
      throw error;
    });
  }

  return {
    async listRoles(scope: Scope): Promise<Role[]> {
      return (await db.tenantWork(scope.tenantId, (tx) => store.listRoles(tx, scope.accountId))).map(toRole);
    },

    async getRole(scope: Scope, roleId: string): Promise<Role> {
      return toRole(await db.tenantWork(scope.tenantId, (tx) => findOrThrow(tx, scope.accountId, roleId)));
    },

    /** Creates a role (also from a template). The grant rule may refuse it; the refusal is audited. */
    createRole(scope: Scope, actor: RbacActor, input: RoleInput): Promise<Role> {
      return grants.refusalsRecorded(scope.tenantId, actor, (tx) => createRole(tx, scope, actor, input));
    },

    /** Edits a role. The grant rule may refuse what the edit gives; the refusal is audited. */
    updateRole(scope: Scope, actor: RbacActor, roleId: string, patch: Partial<Omit<RoleInput, 'template'>>): Promise<Role> {
      return grants.refusalsRecorded(scope.tenantId, actor, (tx) => updateRole(tx, scope, actor, roleId, patch));
    },

    deleteRole(scope: Scope, actor: RbacActor, roleId: string): Promise<void> {
      return db.tenantWork(scope.tenantId, (tx) => deleteRole(tx, scope, actor, roleId));
    },

    ensureSystemRoles,
  };

  async function createRole(tx: Tx, scope: Scope, actor: RbacActor, input: RoleInput): Promise<Role> {
    let permissions = input.permissions;
    if (permissions === undefined && input.template !== undefined) {
      const template = (await catalog.templatesIn(tx, scope.accountId)).find((t) => t.key === input.template);
      if (!template) throw new AppError(RbacErrors['rbac.unknown_template']);
      permissions = [...template.permissions];
    }
    const keys = await catalog.checkKeys(tx, scope.accountId, permissions ?? []);
    await checkOrganization(tx, scope.accountId, input.organizationId);
    // The grant rule: a role is a lasting definition, so its keys must be held without end in its scope.
    const granter = granterOf(scope.tenantId, actor);
    if (granter) {
      await grants.assertWithinOwnAccess(tx, granter, [{ accountId: scope.accountId, keys, organizationId: input.organizationId ?? null, until: null }], {
        change: 'role.create',
        details: { name: input.name.trim(), organizationId: input.organizationId ?? null, permissions: keys, template: input.template ?? null },
      });
    }
    const now = clock.now();
    const id = newId(now.getTime());
    const role = { id, name: input.name.trim(), description: input.description ?? '', systemKey: null, organizationId: input.organizationId ?? null, permissions: keys, createdAt: now };
    await named(() => store.insertRole(tx, scope.accountId, role));
    await audit.record(tx, scope.tenantId, {
      action: 'role.created',
      actor,
      target: { type: 'role', id },
      outcome: 'success',
      details: { accountId: scope.accountId, name: role.name, organizationId: role.organizationId, permissions: keys, template: input.template ?? null },
    });
    return toRole(await findOrThrow(tx, scope.accountId, id));
  }

  async function updateRole(tx: Tx, scope: Scope, actor: RbacActor, roleId: string, patch: Partial<Omit<RoleInput, 'template'>>): Promise<Role> {
    const before = await findOrThrow(tx, scope.accountId, roleId);
    if (before.system_key) throw new AppError(RbacErrors['rbac.system_role_immutable']);
    const permissions = patch.permissions === undefined ? undefined : await catalog.checkKeys(tx, scope.accountId, patch.permissions);
    await checkOrganization(tx, scope.accountId, patch.organizationId);
    const granter = granterOf(scope.tenantId, actor);
    if (granter) {
      // The grant rule applies to what the edit gives: the keys it adds in the role's scope, or every key of
      // the role when the scope moves beyond the old one (organization → account, or to another
      // organization). Removing keys or narrowing the scope gives nothing and is always allowed.
      const organizationId = patch.organizationId === undefined ? before.organization_id : patch.organizationId;
      const keysAfter = permissions ?? before.permissions;
      const widened = before.organization_id !== null && organizationId !== before.organization_id;
      const given = widened ? keysAfter : keysAfter.filter((k) => !before.permissions.includes(k));
      await grants.assertWithinOwnAccess(tx, granter, [{ accountId: scope.accountId, keys: given, organizationId, until: null }], {
        change: 'role.update',
        target: { type: 'role', id: roleId },
        details: { role: before.name, organizationId, given },
      });
    }
    await named(() => store.updateRole(tx, scope.accountId, roleId, { name: patch.name?.trim(), description: patch.description, organizationId: patch.organizationId, permissions }, clock.now()));
    local.generation++;
    const after = toRole(await findOrThrow(tx, scope.accountId, roleId));
    const prior = toRole(before);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    for (const key of ['name', 'description', 'organizationId', 'permissions'] as const) {
      if (JSON.stringify(prior[key]) !== JSON.stringify(after[key])) changes[key] = { from: prior[key], to: after[key] };
    }
    if (Object.keys(changes).length > 0) {
      await audit.record(tx, scope.tenantId, { action: 'role.updated', actor, target: { type: 'role', id: roleId }, outcome: 'success', details: { accountId: scope.accountId, changes } });
    }
    return after;
  }

  async function deleteRole(tx: Tx, scope: Scope, actor: RbacActor, roleId: string): Promise<void> {
    const role = await findOrThrow(tx, scope.accountId, roleId);
    if (role.system_key) throw new AppError(RbacErrors['rbac.system_role_immutable']);
    const now = clock.now();
    if ((await store.activeAssignmentsOfRole(tx, scope.tenantId, scope.accountId, roleId, now)) > 0) throw new AppError(RbacErrors['rbac.role_in_use']);
    await store.deleteLapsedAssignmentsOfRole(tx, scope.tenantId, scope.accountId, roleId, now);
    try {
      // Assignments held in another tenant linked to the account are invisible here; the foreign key sees them.
      await store.deleteRole(tx, scope.accountId, roleId);
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new AppError(RbacErrors['rbac.role_in_use'], { cause: error });
      throw error;
    }
    local.generation++;
    await audit.record(tx, scope.tenantId, { action: 'role.deleted', actor, target: { type: 'role', id: roleId }, outcome: 'success', details: { accountId: scope.accountId, name: role.name } });
  }

  /** Creates the account's system roles if missing (in the caller's unit of work); returns the Account Administrator role id. */
  async function ensureSystemRoles(tx: Tx, accountId: string): Promise<{ accountAdminRoleId: string }> {
    const existing = await store.findSystemRole(tx, accountId, ACCOUNT_ADMIN.systemKey);
    if (existing) return { accountAdminRoleId: existing.id };
    const now = clock.now();
    const id = newId(now.getTime());
    await store.insertRole(tx, accountId, { id, ...ACCOUNT_ADMIN, permissions: [], createdAt: now });
    return { accountAdminRoleId: id };
  }
}

export type RolesService = ReturnType<typeof createRolesService>;
