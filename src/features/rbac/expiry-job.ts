import { type JobLog, type PeriodicJob, startPeriodicJob } from '../../kernel/periodic-job.js';
import type { AssignmentsService } from './assignments.service.js';

export interface ExpiryJobOptions {
  readonly log: JobLog;
  /**
   * Default every 30 minutes: the record of an expiry lags the instant the assignment stopped counting by at
   * most that (the expiry itself is exact, see the resolver). The first pass runs one minute after start.
   */
  readonly intervalMs?: number;
  readonly firstMs?: number;
}

/**
 * The assignment expiry job: marks assignments whose `expires_at` has passed and records each one. They
 * stopped counting at that instant already (query-time filter, cache expiry); this is the record. On
 * PostgreSQL one instance at a time runs it (advisory lock, see AssignmentsService.expireDue).
 */
export function startExpiryJob(assignments: AssignmentsService, { log, intervalMs = 30 * 60_000, firstMs = 60_000 }: ExpiryJobOptions): PeriodicJob {
  return startPeriodicJob('assignment-expiry', async () => ({ expired: (await assignments.expireDue()) ?? 0 }), { log, intervalMs, firstMs });
}
