import type { ColumnType } from 'kysely';

/**
 * Kysely's view of the directory's group tables, which identity owns (src/db/migrations/0005_access_control.sql
 * is the source of truth), merged into the shared `DB` interface.
 */
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface GroupsTable {
  tenant_id: string;
  id: string;
  name: string;
  description: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GroupMembersTable {
  tenant_id: string;
  group_id: string;
  user_id: string;
  created_at: Timestamp;
}

declare module '../../db/schema.js' {
  interface DB {
    groups: GroupsTable;
    group_members: GroupMembersTable;
  }
}
