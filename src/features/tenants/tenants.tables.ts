import type { ColumnType, Generated } from 'kysely';

/**
 * Kysely's view of the tables the tenants feature owns (src/db/migrations 0001, 0003 and 0007 are the source
 * of truth), merged into the shared `DB` interface. Only tenants' *.store.ts touch them
 * (test/architecture/table-ownership.test.ts); other features ask tenants' index.ts.
 */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface TenantsTable {
  id: string;
  name: string;
  /** The tenant-specific sign-in URL's name (`/t/<slug>/login`; migration 0024): unique, DNS-label form. */
  slug: ColumnType<string, string | undefined, string>;
  settings: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AccountsTable {
  id: string;
  name: string;
  /**
   * The account's authorization epoch (DESIGN §3 step 2): moved by every change to roles, assignments, group
   * membership or a user's status (triggers of migration 0003 and rbac's changes), read by the per-request session read.
   */
  authz_epoch: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AccountTenantsTable {
  tenant_id: string;
  account_id: string;
  created_at: Timestamp;
}

export interface OrganizationsTable {
  account_id: string;
  id: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

declare module '../../db/schema.js' {
  interface DB {
    tenants: TenantsTable;
    accounts: AccountsTable;
    account_tenants: AccountTenantsTable;
    organizations: OrganizationsTable;
  }
}
