import type { Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import * as store from './tenants.store.js';

export interface TenantsDeps {
  readonly clock: Clock;
  /** Creates the tenant's first data key in the same transaction (the keyring). */
  readonly createDataKey: (tx: Tx, tenantId: string) => Promise<number>;
}

export function createTenantsService({ clock, createDataKey }: TenantsDeps) {
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
  };
}

export type TenantsService = ReturnType<typeof createTenantsService>;
