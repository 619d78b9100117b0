import type { Database, Tx } from '../../db/database.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { OrganizationErrors } from './organizations.errors.js';
import * as store from './organizations.store.js';

export interface OrganizationsDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  /** How many roles of the account are scoped to the organization (the access-control feature). */
  readonly rolesScopedTo: (tx: Tx, accountId: string, organizationId: string) => Promise<number>;
}

/** The caller's tenant and the account of its session: organizations are always those of that account. */
export interface OrganizationScope {
  readonly tenantId: string;
  readonly accountId: string;
}

export interface Organization {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

function toOrganization(r: store.OrganizationRow): Organization {
  return { id: r.id, name: r.name, createdAt: new Date(r.created_at).toISOString(), updatedAt: new Date(r.updated_at).toISOString() };
}

/**
 * Organizations of an account (DESIGN §2: a unit inside an account that roles can be scoped to).
 * Rules: a name is 1–200 characters and unique per account case-insensitively (`organizations.name_taken`,
 * the database's unique index on lower(name) decides); an organization that roles are scoped to cannot be
 * deleted (`organizations.in_use`); another account's organization is not found, never forbidden.
 * Each use case is one unit of work in the caller's tenant.
 *
 * Neither change moves the account's authorization epoch: effective permissions hold organization ids,
 * never names, so a rename changes no decision; and a delete is refused while any role is scoped to the
 * organization, so no grant can disappear with it (were one deleted through the foreign key's cascade, the
 * roles trigger of migration 0003 would move the epoch).
 */
export function createOrganizationsService({ db, clock, audit, rolesScopedTo }: OrganizationsDeps) {
  async function findOrThrow(tx: Tx, accountId: string, organizationId: string, lock = false) {
    const row = lock ? await store.lockOrganization(tx, accountId, organizationId) : await store.findOrganization(tx, accountId, organizationId);
    if (!row) throw new AppError(KernelErrors.not_found, { message: 'No such organization in the account.' });
    return row;
  }

  function named<T>(run: () => Promise<T>): Promise<T> {
    return run().catch((error: unknown) => {
      if (isUniqueViolation(error)) throw new AppError(OrganizationErrors['organizations.name_taken'], { cause: error });
      throw error;
    });
  }

  return {
    listOrganizations(scope: OrganizationScope, query: { q?: string | undefined; limit: number; offset: number }) {
      return db.tenantWork(scope.tenantId, async (tx) => {
        const { items, total } = await store.listOrganizations(tx, scope.accountId, query);
        return { items: items.map(toOrganization), total, limit: query.limit, offset: query.offset };
      });
    },

    getOrganization(scope: OrganizationScope, organizationId: string): Promise<Organization> {
      return db.tenantWork(scope.tenantId, async (tx) => toOrganization(await findOrThrow(tx, scope.accountId, organizationId)));
    },

    createOrganization(scope: OrganizationScope, actor: AuditActor, input: { name: string }): Promise<Organization> {
      return db.tenantWork(scope.tenantId, async (tx) => {
        const now = clock.now();
        const id = newId(now.getTime());
        const name = input.name.trim();
        await named(() => store.insertOrganization(tx, scope.accountId, { id, name, createdAt: now }));
        await audit.record(tx, scope.tenantId, { action: 'organization.created', actor, target: { type: 'organization', id }, outcome: 'success', details: { accountId: scope.accountId, name } });
        return toOrganization(await findOrThrow(tx, scope.accountId, id));
      });
    },

    updateOrganization(scope: OrganizationScope, actor: AuditActor, organizationId: string, patch: { name?: string | undefined }): Promise<Organization> {
      return db.tenantWork(scope.tenantId, async (tx) => {
        const before = await findOrThrow(tx, scope.accountId, organizationId);
        const name = patch.name?.trim();
        if (name === undefined || name === before.name) return toOrganization(before);
        await named(() => store.renameOrganization(tx, scope.accountId, organizationId, name, clock.now()));
        await audit.record(tx, scope.tenantId, {
          action: 'organization.updated',
          actor,
          target: { type: 'organization', id: organizationId },
          outcome: 'success',
          details: { accountId: scope.accountId, changes: { name: { from: before.name, to: name } } },
        });
        return toOrganization(await findOrThrow(tx, scope.accountId, organizationId));
      });
    },

    deleteOrganization(scope: OrganizationScope, actor: AuditActor, organizationId: string): Promise<void> {
      return db.tenantWork(scope.tenantId, async (tx) => {
        const org = await findOrThrow(tx, scope.accountId, organizationId, true);
        const roles = await rolesScopedTo(tx, scope.accountId, organizationId);
        if (roles > 0) {
          throw new AppError(OrganizationErrors['organizations.in_use'], {
            message: `${roles === 1 ? '1 role is' : `${roles} roles are`} scoped to this organization; delete ${roles === 1 ? 'it' : 'them'} or change ${roles === 1 ? 'its' : 'their'} organizationId (PATCH /api/v1/roles/{id}) first.`,
          });
        }
        await store.deleteOrganization(tx, scope.accountId, organizationId);
        await audit.record(tx, scope.tenantId, { action: 'organization.deleted', actor, target: { type: 'organization', id: organizationId }, outcome: 'success', details: { accountId: scope.accountId, name: org.name } });
      });
    },
  };
}

export type OrganizationsService = ReturnType<typeof createOrganizationsService>;
