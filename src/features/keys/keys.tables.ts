import type { ColumnType } from 'kysely';

/**
 * Kysely's view of the tables the keys feature owns (src/db/migrations/0001_foundation.sql is the source of
 * truth), merged into the shared `DB` interface: the tenants' wrapped data keys and the global signing keys.
 * Only keys' *.store.ts touch them (test/architecture/table-ownership.test.ts).
 */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

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

declare module '../../db/schema.js' {
  interface DB {
    tenant_keys: TenantKeysTable;
    signing_keys: SigningKeysTable;
  }
}
