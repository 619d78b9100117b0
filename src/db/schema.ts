import type { ColumnType, Generated } from 'kysely';

/** Kysely's view of the tables (src/db/migrations is the source of truth). */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface UsersTable {
  tenant_id: string;
  id: string;
  email: string;
  name: string | null;
  phone: string | null;
  password_hash: string | null;
  must_change_password: Generated<boolean>;
  is_tenant_admin: Generated<boolean>;
  active: Generated<boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** Rotated on every change to the user's credentials or sessions (migration 0008); tokens carry its hash. */
  security_stamp: Generated<string>;
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
  users: UsersTable;
  roles: RolesTable;
  role_assignments: RoleAssignmentsTable;
  tessera_migrations: MigrationsTable;
  user_mfa: UserMfaTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
}
