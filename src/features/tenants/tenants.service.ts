import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { type SecuritySettings, type SecuritySettingsPatch, settingsProblem, withDefaults } from './security-settings.js';
import * as store from './tenants.store.js';

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
      await store.insertTenant(tx, tenantId, { name: input.tenantName, createdAt: now });
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
