import type { ColumnType } from 'kysely';

/** Kysely's view of the table the domains feature owns (src/db/migrations/0012_domains.sql is the source of truth). */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface DomainsTable {
  tenant_id: string;
  id: string;
  domain: string;
  token: string;
  status: 'pending' | 'verified';
  verified_at: Date | null;
  verified_by: 'dns' | 'operator' | null;
  last_checked_at: Date | null;
  next_check_at: Date | null;
  failures: ColumnType<number, number | undefined, number>;
  /** Password logins of the domain's emails are refused while an enabled connection serves it (migration 0018). */
  require_sso: ColumnType<boolean, boolean | undefined, boolean>;
  created_by: string | null;
  created_at: Timestamp;
}

declare module '../../db/schema.js' {
  interface DB {
    domains: DomainsTable;
  }
}
