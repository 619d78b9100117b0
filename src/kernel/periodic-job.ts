/** Where a background job reports: the server's logger (pino) in practice. */
export interface JobLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface PeriodicJob {
  /** Stops scheduling and waits for a pass in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `pass` `firstMs` after start, then `intervalMs` after each pass ends (never two passes of one job at once
 * in a process; across instances the pass itself takes an advisory lock). The timer does not keep the process
 * alive; a failed pass is logged and the next one runs on schedule.
 */
export function startPeriodicJob(
  name: string,
  pass: () => Promise<Record<string, number> | null | undefined>,
  { log, intervalMs, firstMs }: { log: JobLog; intervalMs: number; firstMs: number },
): PeriodicJob {
  let stopped = false;
  let running: Promise<unknown> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number) => {
    timer = setTimeout(tick, ms);
    timer.unref();
  };
  function tick() {
    if (stopped) return;
    running = pass()
      .then((counts) => {
        if (counts && Object.values(counts).some((n) => n > 0)) log.info({ job: name, ...counts }, `${name} done`);
      })
      .catch((err: unknown) => log.error({ err, job: name }, `${name} failed`))
      .finally(() => {
        running = undefined;
        if (!stopped) schedule(intervalMs);
      });
  }
  schedule(firstMs);
  return {
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
