import type { ColumnType } from 'kysely';

/**
 * Kysely's view of the access-control tables (src/db/migrations/0005_access_control.sql is the source of
 * truth), merged into the shared `DB` interface.
 */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface PermissionCatalogTable {
  account_id: string;
  key: string;
  category: string;
  description: string;
  created_at: Timestamp;
}

export interface RoleTemplatesTable {
  account_id: string;
  key: string;
  name: string;
  description: string;
  permissions: string[];
}

export interface PermissionCatalogVersionsTable {
  account_id: string;
  version: number;
  updated_at: Timestamp;
}

declare module '../../db/schema.js' {
  interface RoleAssignmentsTable {
    group_id: string | null;
    expired_at: Date | null;
  }
  interface DB {
    permission_catalog: PermissionCatalogTable;
    role_templates: RoleTemplatesTable;
    permission_catalog_versions: PermissionCatalogVersionsTable;
  }
}
