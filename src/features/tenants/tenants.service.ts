import { randomBytes } from 'node:crypto';
import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { type SecuritySettings, type SecuritySettingsPatch, settingsProblem, withDefaults } from './security-settings.js';
import { isUniqueViolation } from '../../db/pg-errors.js';
import { slugFromName, slugProblem } from './tenant-slug.js';
import { TenantErrors } from './tenants.errors.js';
import * as store from './tenants.store.js';

/** The tenant as its administrators see it. */
export interface TenantInfo {
  readonly id: string;
  readonly name: string;
  readonly slug: string;
}

/**
 * A free slug for a new tenant: the name's base slug, else the base with the first free numeric suffix up to -20,
 * else the base with a random suffix (a bounded number of lookups however many tenants share a name; the base is at
 * most 50 characters, so the suffixed slug stays within 63). The unique index still decides a race.
 */
async function freeSlugFor(tx: Tx, name: string): Promise<string> {
  const base = slugFromName(name);
  for (let n = 1; n <= 20; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    if (!(await store.tenantBySlug(tx, candidate))) return candidate;
  }
  return `${base}-${randomBytes(4).toString('hex')}`;
}

export interface TenantsDeps {
  readonly db: Database;
  readonly clock: Clock;
  /** Creates the tenant's first data key in the same transaction (the keyring). */
  readonly createDataKey: (tx: Tx, tenantId: string) => Promise<number>;
  readonly audit: AuditRecorder;
  /** Throws unless the user is an active tenant administrator (the identity feature). */
  readonly requireTenantAdmin: (tx: Tx, tenantId: string, userId: string) => Promise<void>;
}

/** A tenant's security settings, defaults filled in (see security-settings.ts for the defaults). */
export async function securitySettings(tx: Tx, tenantId: string): Promise<SecuritySettings> {
  return withDefaults(await store.readSecuritySettings(tx, tenantId));
}

export function createTenantsService({ db, clock, createDataKey, audit, requireTenantAdmin }: TenantsDeps) {
  return {
    /** Creates a tenant, its data key and its first account, in the caller's unit of work for `tenantId`. */
    async createTenantWithAccount(tx: Tx, tenantId: string, input: { tenantName: string; accountName: string }) {
      const now = clock.now();
      await store.insertTenant(tx, tenantId, { name: input.tenantName, slug: await freeSlugFor(tx, input.tenantName), createdAt: now });
      await createDataKey(tx, tenantId);
      const accountId = newId(now.getTime());
      await store.insertAccount(tx, tenantId, { id: accountId, name: input.accountName, createdAt: now });
      return { tenantId, accountId };
    },
    findTenant: store.findTenant,
    listAccounts: store.listAccounts,
    countAllTenants: store.countAllTenants,
    securitySettings,

    /** The tenant whose audit log an operator's change to an account is recorded in: the first one linked to it. */
    firstTenantOfAccount(accountId: string): Promise<string | undefined> {
      return db.ownerWork((tx) => store.firstTenantOfAccount(tx, accountId));
    },

    /** The tenant's id, name and slug. */
    getTenant(tenantId: string): Promise<TenantInfo> {
      return db.tenantWork(tenantId, async (tx) => {
        const row = await store.findTenant(tx, tenantId);
        if (!row) throw new AppError(KernelErrors.not_found);
        return { id: row.id, name: row.name, slug: row.slug };
      });
    },

    /**
     * Public: the tenant a slug names, for the tenant-specific sign-in page `/t/<slug>/login`. Only the id and the
     * name leave (both are shown on that page anyway); an unknown slug is `tenants.slug_not_found`.
     */
    tenantBySlug(slug: string): Promise<{ tenantId: string; name: string }> {
      return db.globalWork(async (tx) => {
        const row = slugProblem(slug) ? undefined : await store.tenantBySlug(tx, slug);
        if (!row) throw new AppError(TenantErrors['tenants.slug_not_found']);
        return { tenantId: row.id, name: row.name };
      });
    },

    /**
     * Changes the tenant's slug (tenant administrators only) and records `tenant.slug.updated` with the old and new
     * value. The form and the reserved words are refused first; the unique index decides a race with another tenant.
     */
    updateTenant(tenantId: string, actor: AuditActor & { type: 'user'; id: string }, patch: { slug?: string | undefined }): Promise<TenantInfo> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const before = await store.findTenant(tx, tenantId);
        if (!before) throw new AppError(KernelErrors.not_found);
        const slug = patch.slug;
        if (slug === undefined || slug === before.slug) return { id: before.id, name: before.name, slug: before.slug };
        const problem = slugProblem(slug);
        if (problem === 'invalid') throw new AppError(TenantErrors['tenants.slug_invalid']);
        if (problem === 'reserved') throw new AppError(TenantErrors['tenants.slug_reserved']);
        if (await store.tenantBySlug(tx, slug)) throw new AppError(TenantErrors['tenants.slug_taken']);
        try {
          await store.updateSlug(tx, tenantId, slug, clock.now());
        } catch (error) {
          if (isUniqueViolation(error)) throw new AppError(TenantErrors['tenants.slug_taken'], { cause: error });
          throw error;
        }
        await audit.record(tx, tenantId, {
          action: 'tenant.slug.updated',
          actor,
          target: { type: 'tenant', id: tenantId },
          outcome: 'success',
          details: { changes: { slug: { from: before.slug, to: slug } } },
        });
        return { id: before.id, name: before.name, slug };
      });
    },

    /** The tenant's security settings, in a unit of work of its own. */
    getSecuritySettings(tenantId: string): Promise<SecuritySettings> {
      return db.tenantWork(tenantId, (tx) => securitySettings(tx, tenantId));
    },

    /**
     * Changes the tenant's security settings (tenant administrators only) and records
     * `tenant.security_settings.updated` with the old and new value of each changed field.
     */
    updateSecuritySettings(tenantId: string, actor: AuditActor & { type: 'user'; id: string }, patch: SecuritySettingsPatch): Promise<SecuritySettings> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const before = await securitySettings(tx, tenantId);
        const after = withDefaults({ ...before, ...patch });
        const problem = settingsProblem(after);
        if (problem) throw new AppError(KernelErrors.invalid_request, { message: problem });
        const changes: Record<string, { from: unknown; to: unknown }> = {};
        for (const key of Object.keys(after) as (keyof SecuritySettings)[]) {
          if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) changes[key] = { from: before[key], to: after[key] };
        }
        if (Object.keys(changes).length === 0) return after;
        if (!(await store.writeSecuritySettings(tx, tenantId, after, clock.now()))) throw new AppError(KernelErrors.not_found);
        await audit.record(tx, tenantId, {
          action: 'tenant.security_settings.updated',
          actor,
          target: { type: 'tenant', id: tenantId },
          outcome: 'success',
          details: { changes },
        });
        return after;
      });
    },
  };
}

export type TenantsService = ReturnType<typeof createTenantsService>;
