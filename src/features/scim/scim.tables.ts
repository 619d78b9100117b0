import type { ColumnType, Generated } from 'kysely';

/** Kysely's view of the tables the scim feature owns (src/db/migrations/0019_scim.sql is the source of truth). */
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

declare module '../../db/schema.js' {
  interface DB {
    scim_directories: ScimDirectoriesTable;
    scim_tokens: ScimTokensTable;
    scim_users: ScimUsersTable;
  }
}
