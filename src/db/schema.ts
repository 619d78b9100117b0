import type { ColumnType } from 'kysely';

/** Kysely's view of the tables (src/db/migrations is the source of truth). */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface MigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: Timestamp;
}

export interface DB {
  tessera_migrations: MigrationsTable;
}
