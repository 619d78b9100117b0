import type { ColumnType } from 'kysely';

/** Kysely's view of the tables the api-keys feature owns (src/db/migrations/0005_access_control.sql is the source of truth). */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface ApiKeysTable {
  tenant_id: string;
  id: string;
  account_id: string;
  name: string;
  key_hash: Uint8Array;
  permissions: string[];
  created_by: string | null;
  created_at: Timestamp;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

declare module '../../db/schema.js' {
  interface DB {
    api_keys: ApiKeysTable;
  }
}
