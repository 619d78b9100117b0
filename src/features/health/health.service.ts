import type { Database } from '../../db/database.js';
import { appliedMigrationVersions } from '../../db/migrator.js';

export interface Readiness {
  readonly ready: boolean;
  readonly checks: { readonly database: 'ok' | 'unreachable'; readonly migrations: 'current' | 'pending' | 'newer_than_code' | 'unknown'; readonly draining: boolean };
}

export function createHealthService({ db, latestMigration }: { readonly db: Database; readonly latestMigration: number }) {
  let draining = false;
  return {
    /** Called on SIGTERM: readiness turns false so load balancers stop sending traffic while requests finish. */
    startDraining(): void {
      draining = true;
    },
    async readiness(): Promise<Readiness> {
      let versions: number[];
      try {
        versions = await appliedMigrationVersions(db);
      } catch {
        return { ready: false, checks: { database: 'unreachable', migrations: 'unknown', draining } };
      }
      const newest = Math.max(0, ...versions);
      const migrations = newest > latestMigration ? 'newer_than_code' : versions.length === latestMigration ? 'current' : 'pending';
      return { ready: migrations === 'current' && !draining, checks: { database: 'ok', migrations, draining } };
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
