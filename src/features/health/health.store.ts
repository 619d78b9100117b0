import type { Tx } from '../../db/database.js';

export async function appliedMigrationVersions(tx: Tx): Promise<number[]> {
  const rows = await tx.selectFrom('tessera_migrations').select('version').execute();
  return rows.map((r) => r.version);
}
