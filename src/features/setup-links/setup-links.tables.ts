import type { ColumnType } from 'kysely';

/** Kysely's view of the table the setup-links feature owns (src/db/migrations/0025_setup_links.sql is the source of truth). */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface SetupLinksTable {
  tenant_id: string;
  id: string;
  token_hash: Uint8Array;
  intent: string;
  note: string;
  created_by: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Date | null;
  revoked_by: string | null;
  completed_at: Date | null;
  claim_hash: Uint8Array | null;
  claimed_at: Date | null;
  last_activity_at: Date | null;
  last_ip: string | null;
  connection_id: string;
  connection_created_at: Date | null;
  test_id: string | null;
  directory_id: string | null;
  scim_token_issued_at: Date | null;
  domain_ids: string[];
}

declare module '../../db/schema.js' {
  interface DB {
    setup_links: SetupLinksTable;
  }
}
