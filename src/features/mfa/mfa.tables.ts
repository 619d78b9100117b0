import type { ColumnType } from 'kysely';

/** Kysely's view of the MFA tables (src/db/migrations/0004_identity_mfa.sql is the source of truth). */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

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

declare module '../../db/schema.js' {
  interface DB {
    user_mfa: UserMfaTable;
    mfa_recovery_codes: MfaRecoveryCodesTable;
  }
}
