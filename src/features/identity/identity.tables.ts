import type { ColumnType, Generated } from 'kysely';

/**
 * Kysely's view of the tables the identity feature owns (src/db/migrations is the source of truth), merged into
 * the shared `DB` interface. Only identity's stores touch them; other features ask identity's index.ts.
 */
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

/** The principal projection (migration 0011; src/kernel/principal.ts maps it): read-only. */
export interface UserPrincipalsView {
  tenant_id: ColumnType<string, never, never>;
  user_id: ColumnType<string, never, never>;
  email: ColumnType<string, never, never>;
  name: ColumnType<string | null, never, never>;
  phone: ColumnType<string | null, never, never>;
  active: ColumnType<boolean, never, never>;
  is_tenant_admin: ColumnType<boolean, never, never>;
  must_change_password: ColumnType<boolean, never, never>;
  has_password: ColumnType<boolean, never, never>;
  created_at: ColumnType<Date, never, never>;
  updated_at: ColumnType<Date, never, never>;
}

declare module '../../db/schema.js' {
  interface DB {
    users: UsersTable;
    user_principals: UserPrincipalsView;
  }
}
