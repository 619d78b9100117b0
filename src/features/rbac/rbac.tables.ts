import type { ColumnType, Generated } from 'kysely';

/**
 * Kysely's view of the access-control tables (src/db/migrations/0005_access_control.sql is the source of
 * truth), merged into the shared `DB` interface.
 */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A timestamp column with a database default: optional on insert. */
type DefaultedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;

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

export interface RolesTable {
  account_id: string;
  id: string;
  name: string;
  description: Generated<string>;
  organization_id: string | null;
  system_key: string | null;
  permissions: string[];
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
}

export interface RoleAssignmentsTable {
  tenant_id: string;
  id: string;
  account_id: string;
  role_id: string;
  /** Null for an assignment to a group (0005_access_control.sql). */
  user_id: string | null;
  expires_at: Date | null;
  group_id: string | null;
  expired_at: Date | null;
  /** Null: made by a person; `sso:<connectionId>`: managed by that connection's mapping rules (0015_assignment_managed_by.sql). */
  managed_by: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: DefaultedTimestamp;
}

declare module '../../db/schema.js' {
  interface DB {
    roles: RolesTable;
    role_assignments: RoleAssignmentsTable;
    permission_catalog: PermissionCatalogTable;
    role_templates: RoleTemplatesTable;
    permission_catalog_versions: PermissionCatalogVersionsTable;
  }
}
