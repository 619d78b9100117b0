import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The test run's own temp dir (global-setup.ts creates it and hands it to every test process as TMPDIR) also holds
 * what the run builds once and shares between its test processes. The run removes it all at its end.
 */
export const RUN_SHARED = {
  /** The `tessera` command compiled from src (cli-build.ts). */
  cli: 'cli',
  /** The console's `vite build` (browser.ts). */
  console: 'console-build',
  /** An embedded data directory PGlite has initialised, no migration applied (databases.ts). */
  pgdata: 'pglite-initdb',
} as const;

/** In a test process: the path of a shared entry of the run dir. */
export function runShared(entry: keyof typeof RUN_SHARED): string {
  return path.join(tmpdir(), RUN_SHARED[entry]);
}

/**
 * The shared entry, made by the first test process that asks while the others wait: returns its path once complete.
 * Made at most once per run (the run removes it at its end; global-setup.ts also discards the console before a
 * watch-mode re-run).
 *
 * Processes agree through the file system: `mkdir` of the lock directory is atomic, so exactly one makes it; `make`
 * fills a private directory renamed into place when complete, so a waiter never sees half of it.
 */
export async function runSharedOnce(entry: keyof typeof RUN_SHARED, make: (dir: string) => Promise<void>, timeoutMs = 180_000): Promise<string> {
  const dir = runShared(entry);
  const lock = `${dir}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(dir)) return dir;
    let maker = false;
    try {
      mkdirSync(lock);
      maker = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (maker) {
      const partial = mkdtempSync(`${dir}.partial-`);
      try {
        // Another process may have finished between the check above and taking the lock.
        if (existsSync(dir)) return dir;
        await make(partial);
        renameSync(partial, dir);
        return dir;
      } finally {
        rmSync(partial, { recursive: true, force: true });
        rmSync(lock, { recursive: true, force: true });
      }
    }
    // A maker that fails releases the lock: the next pass of this loop makes it (and reports its error) here.
    if (Date.now() > deadline) throw new Error(`${dir} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
