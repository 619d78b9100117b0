import type { AssignmentsService } from './assignments.service.js';

export interface ExpiryJobOptions {
  readonly log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
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
export function startExpiryJob(assignments: AssignmentsService, { log, intervalMs = 30 * 60_000, firstMs = 60_000 }: ExpiryJobOptions) {
  let stopped = false;
  let running: Promise<unknown> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number) => {
    timer = setTimeout(tick, ms);
    timer.unref();
  };
  function tick() {
    if (stopped) return;
    running = assignments
      .expireDue()
      .then((count) => {
        if (count) log.info({ expired: count }, 'role assignments expired');
      })
      .catch((err: unknown) => log.error({ err, job: 'assignment-expiry' }, 'assignment expiry failed'))
      .finally(() => {
        running = undefined;
        if (!stopped) schedule(intervalMs);
      });
  }
  schedule(firstMs);
  return {
    /** Stops scheduling and waits for a pass in progress. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
