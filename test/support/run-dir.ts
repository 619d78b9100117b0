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
} as const;

/** In a test process: the path of a shared entry of the run dir. */
export function runShared(entry: keyof typeof RUN_SHARED): string {
  return path.join(tmpdir(), RUN_SHARED[entry]);
}
