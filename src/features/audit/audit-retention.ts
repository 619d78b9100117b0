import type { Database, Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import * as store from './audit.store.js';
import type { AuditRecorder } from './audit.types.js';

/** 7 years (7 × 365 days + 2 leap days), the default retention of every tenant. */
export const DEFAULT_RETENTION_DAYS = 2557;
/** 100 years: the longest retention anyone may set. */
export const MAX_RETENTION_DAYS = 36_500;
const DAY_MS = 86_400_000;
/** Events removed per transaction, so retention of a large backlog never holds a long lock. */
const BATCH = 5000;

export interface RetentionReport {
  readonly tenantId: string;
  readonly removed: number;
}

/**
 * Retention (operator work, as the owner): for each tenant, removes the events older than its retention,
 * oldest first, after checkpointing the last removed one, and records what it removed in the same chain.
 */
export interface AuditRetentionDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly recorder: AuditRecorder;
  /** Every tenant's id, in order (the tenants feature owns the list). */
  readonly tenantIds: (tx: Tx) => Promise<string[]>;
}

export function createAuditRetention({ db, clock, recorder, tenantIds }: AuditRetentionDeps) {
  return {
    async applyRetention(): Promise<RetentionReport[]> {
      const tenants = await db.ownerWork(async (tx) => {
        const own = await store.retentionSettings(tx);
        return (await tenantIds(tx)).map((tenantId) => ({ tenantId, days: own.get(tenantId) ?? DEFAULT_RETENTION_DAYS }));
      });
      const reports: RetentionReport[] = [];
      for (const { tenantId, days } of tenants) {
        let removed = 0;
        for (;;) {
          const now = clock.now();
          const cutoff = new Date(now.getTime() - days * DAY_MS);
          const n = await db.ownerWork(async (tx) => {
            const count = await store.retainBefore(tx, tenantId, cutoff, BATCH, now);
            if (count > 0) {
              await recorder.record(tx, tenantId, {
                action: 'audit.retention.applied',
                actor: { type: 'system', id: 'audit-retention' },
                outcome: 'success',
                details: { removed: count, olderThan: cutoff.toISOString(), retentionDays: days },
              });
            }
            return count;
          });
          removed += n;
          if (n < BATCH) break;
        }
        if (removed > 0) reports.push({ tenantId, removed });
      }
      return reports;
    },
  };
}
