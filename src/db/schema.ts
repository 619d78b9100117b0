import type { ColumnType, Generated } from 'kysely';

/** Kysely's view of the tables (src/db/migrations is the source of truth). */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface TenantsTable {
  id: string;
  name: string;
  settings: ColumnType<Record<string, unknown>, string | undefined, string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AccountsTable {
  id: string;
  name: string;
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

export interface RolesTable {
  account_id: string;
  id: string;
  name: string;
  description: Generated<string>;
  organization_id: string | null;
  system_key: string | null;
  permissions: string[];
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RoleAssignmentsTable {
  tenant_id: string;
  id: string;
  account_id: string;
  role_id: string;
  /** Null for an assignment to a group (0005_access_control.sql). */
  user_id: string | null;
  expires_at: Date | null;
  created_at: Timestamp;
}

export interface TenantKeysTable {
  tenant_id: string;
  version: number;
  wrapped_key: Uint8Array;
  master_key_id: string;
  created_at: Timestamp;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: ColumnType<Record<string, unknown>, string, string>;
  private_key_enc: Uint8Array;
  master_key_id: string;
  created_at: Timestamp;
  retired_at: Date | null;
  publish_until: Date | null;
}

export interface MigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: Timestamp;
}

export interface UserMfaTable {
  tenant_id: string;
  user_id: string;
  totp_secret_enc: Uint8Array;
  enabled_at: Date | null;
  last_used_step: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface MfaRecoveryCodesTable {
  tenant_id: string;
  user_id: string;
  code_hash: Uint8Array;
  used_at: Date | null;
  created_at: Timestamp;
}

export interface DB {
  tenants: TenantsTable;
  accounts: AccountsTable;
  account_tenants: AccountTenantsTable;
  organizations: OrganizationsTable;
  roles: RolesTable;
  role_assignments: RoleAssignmentsTable;
  tenant_keys: TenantKeysTable;
  signing_keys: SigningKeysTable;
  tessera_migrations: MigrationsTable;
  user_mfa: UserMfaTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
}
