import type { Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import { bumpAuthzEpoch } from '../tenants/index.js';
import { BUILTIN_PERMISSIONS, builtinTemplates, isBuiltinPermission, isValidPermissionKey, type RoleTemplate } from './catalog.js';
import { RbacErrors } from './rbac.errors.js';
import type { LocalChanges, RbacActor, RbacDeps } from './rbac.ports.js';
import * as store from './rbac.store.js';

export interface CatalogInput {
  /** Optimistic concurrency: the version this change was prepared against. */
  readonly expectedVersion?: number | undefined;
  readonly permissions: readonly { key: string; category: string; description?: string | undefined }[];
  readonly templates?: readonly { key: string; name: string; description?: string | undefined; permissions: string[] }[] | undefined;
  /** Remove keys that roles use (they are taken out of those roles). */
  readonly force?: boolean | undefined;
}

/** The permission catalog: Tessera's keys plus the keys and templates an application registers per account. */
export function createCatalogService({ db, clock, audit }: RbacDeps, local: LocalChanges) {
  async function allKeys(tx: Tx, accountId: string): Promise<string[]> {
    const app = await store.appCatalog(tx, accountId);
    return [...BUILTIN_PERMISSIONS.map((p) => p.key), ...app.map((p) => p.key)];
  }

  async function catalog(tx: Tx, accountId: string) {
    const app = await store.appCatalog(tx, accountId);
    return {
      version: await store.catalogVersion(tx, accountId),
      permissions: [...BUILTIN_PERMISSIONS.map((p) => ({ ...p, source: 'tessera' as const })), ...app.map((p) => ({ ...p, source: 'application' as const }))],
    };
  }

  async function templates(tx: Tx, accountId: string): Promise<RoleTemplate[]> {
    const keys = await allKeys(tx, accountId);
    const app = await store.appTemplates(tx, accountId);
    return [...builtinTemplates(keys), ...app.map((t) => ({ ...t, source: 'application' as const }))];
  }

  /** Refuses keys that are malformed or not in the catalog (`rbac.unknown_permission` names them). */
  async function checkKeys(tx: Tx, accountId: string, keys: readonly string[]): Promise<string[]> {
    const bad = keys.filter((k) => !isValidPermissionKey(k));
    if (bad.length > 0) throw new AppError(RbacErrors['rbac.invalid_permission_key'], { message: `Invalid permission key: ${bad.join(', ')}.` });
    const known = new Set(await allKeys(tx, accountId));
    const unknown = keys.filter((k) => !known.has(k));
    if (unknown.length > 0) throw new AppError(RbacErrors['rbac.unknown_permission'], { message: `Unknown permission: ${unknown.join(', ')}.` });
    return [...new Set(keys)].sort();
  }

  return {
    allKeys,
    checkKeys,
    /** The catalog (Tessera's keys and the application's), in a unit of work of its own. */
    catalog: (tenantId: string, accountId: string) => db.tenantWork(tenantId, (tx) => catalog(tx, accountId)),
    /** Every role template of the account, in a unit of work of its own. */
    templates: (tenantId: string, accountId: string) => db.tenantWork(tenantId, (tx) => templates(tx, accountId)),
    /** The application's registration (PUT /api/v1/permissions), in a unit of work of its own. */
    register: (tenantId: string, actor: RbacActor, accountId: string, input: CatalogInput) => db.tenantWork(tenantId, (tx) => putCatalog(tx, tenantId, actor, accountId, input)),
    putCatalog,
    /** The role templates, in the caller's unit of work. */
    templatesIn: templates,
  };

  /**
   * Replaces the application's keys and templates of the account (idempotent: the same content again
   * changes nothing and keeps the version). Removing a key a role uses is refused unless forced. In the
   * caller's unit of work (the `catalog` operator command runs it in its own).
   */
  async function putCatalog(tx: Tx, tenantId: string, actor: RbacActor, accountId: string, input: CatalogInput) {
    const current = await store.lockCatalogVersion(tx, accountId);
    if (input.expectedVersion !== undefined && input.expectedVersion !== current) {
      throw new AppError(RbacErrors['rbac.catalog_version_conflict'], { message: `The catalog is at version ${current}.` });
    }
    const permissions = input.permissions.map((p) => ({ key: p.key, category: p.category, description: p.description ?? '' })).sort((a, b) => a.key.localeCompare(b.key));
    const bad = permissions.filter((p) => !isValidPermissionKey(p.key) || isBuiltinPermission(p.key)).map((p) => p.key);
    if (bad.length > 0) throw new AppError(RbacErrors['rbac.invalid_permission_key'], { message: `Invalid or reserved permission key: ${bad.join(', ')}.` });
    if (new Set(permissions.map((p) => p.key)).size !== permissions.length) throw new AppError(RbacErrors['rbac.invalid_permission_key'], { message: 'A permission key is listed twice.' });
    const newKeys = new Set([...BUILTIN_PERMISSIONS.map((p) => p.key), ...permissions.map((p) => p.key)]);
    const templatesIn = (input.templates ?? []).map((t) => ({ key: t.key, name: t.name, description: t.description ?? '', permissions: [...new Set(t.permissions)].sort() })).sort((a, b) => a.key.localeCompare(b.key));
    for (const t of templatesIn) {
      const unknown = t.permissions.filter((k) => !newKeys.has(k));
      if (unknown.length > 0) throw new AppError(RbacErrors['rbac.unknown_permission'], { message: `Template ${t.key}: unknown permission ${unknown.join(', ')}.` });
    }

    const before = await store.appCatalog(tx, accountId);
    const beforeTemplates = await store.appTemplates(tx, accountId);
    const same =
      JSON.stringify(before.map((p) => [p.key, p.category, p.description])) === JSON.stringify(permissions.map((p) => [p.key, p.category, p.description])) &&
      JSON.stringify(beforeTemplates.map((t) => [t.key, t.name, t.description, [...t.permissions].sort()])) === JSON.stringify(templatesIn.map((t) => [t.key, t.name, t.description, t.permissions]));
    if (same && current > 0) return { version: current, changed: false };

    const removed = before.map((p) => p.key).filter((k) => !newKeys.has(k));
    const added = permissions.map((p) => p.key).filter((k) => !before.some((b) => b.key === k));
    const using = await store.rolesUsing(tx, accountId, removed);
    if (using.length > 0 && !input.force) {
      throw new AppError(RbacErrors['rbac.permission_in_use'], { message: `Used by role(s): ${using.map((r) => r.name).join(', ')}. Send force to remove anyway.` });
    }
    const now = clock.now();
    for (const role of using) await store.setRolePermissions(tx, accountId, role.id, role.permissions.filter((k) => !removed.includes(k)), now);
    const version = current + 1;
    await store.replaceAppCatalog(tx, accountId, { permissions, templates: templatesIn, version, now });
    // Account Administrator holds every key: its holders' permissions changed.
    await bumpAuthzEpoch(tx, accountId);
    local.generation++;
    await audit.record(tx, tenantId, {
      action: 'permission_catalog.updated',
      actor,
      target: { type: 'account', id: accountId },
      outcome: 'success',
      details: { version, added, removed, forced: Boolean(input.force), rolesChanged: using.map((r) => r.name), templates: templatesIn.map((t) => t.key) },
    });
    return { version, changed: true };
  }
}

export type CatalogService = ReturnType<typeof createCatalogService>;
