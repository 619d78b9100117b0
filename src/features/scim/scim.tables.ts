import type { ColumnType, Generated } from 'kysely';

/** Kysely's view of the tables the scim feature owns (src/db/migrations/0019_scim.sql, 0020_scim_groups.sql and 0023_scim_department_mappings.sql are the source of truth). */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface ScimDirectoriesTable {
  tenant_id: string;
  id: string;
  name: string;
  sso_connection_id: string | null;
  created_by: string | null;
  created_at: Timestamp;
  updated_by: string | null;
  updated_at: Timestamp;
  /** The identity group of every user of the directory (0020_scim_groups.sql), once a default role is set. */
  everyone_group_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ScimTokensTable {
  tenant_id: string;
  id: string;
  directory_id: string;
  token_hash: Uint8Array;
  created_by: string | null;
  created_at: Timestamp;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface ScimUsersTable {
  tenant_id: string;
  directory_id: string;
  user_id: string;
  user_name: string;
  external_id: string | null;
  active: boolean;
  /** The SCIM resource without `id` and `meta` (jsonb; written as JSON text). */
  resource: ColumnType<Record<string, unknown>, string, string>;
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ScimGroupsTable {
  tenant_id: string;
  directory_id: string;
  group_id: string;
  display_name: string;
  external_id: string | null;
  /** The SCIM resource without `id`, `meta`, `displayName`, `externalId` and `members` (jsonb; written as JSON text). */
  resource: ColumnType<Record<string, unknown>, string, string>;
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ScimRoleMappingsTable {
  tenant_id: string;
  directory_id: string;
  id: string;
  /** Null: the default role of every user of the directory. */
  group_name: string | null;
  /** The enterprise `department` mapped (0023_scim_department_mappings.sql); null with group_name null: the default role. */
  department: ColumnType<string | null, string | null | undefined, string | null>;
  /** The identity group of the department's users, managed by the directory. */
  department_group_id: ColumnType<string | null, string | null | undefined, string | null>;
  role_id: string;
  position: number;
  created_by: string | null;
  created_at: Timestamp;
}

declare module '../../db/schema.js' {
  interface DB {
    scim_directories: ScimDirectoriesTable;
    scim_tokens: ScimTokensTable;
    scim_users: ScimUsersTable;
    scim_groups: ScimGroupsTable;
    scim_role_mappings: ScimRoleMappingsTable;
  }
}
