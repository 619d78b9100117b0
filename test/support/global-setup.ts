import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pgliteDump } from './databases.js';

/**
 * Tests leave nothing behind. Every run gets its own temporary directory, handed to the test processes
 * (and the `tessera` processes they spawn) as TMPDIR, so `os.tmpdir()` in a test points into it. At the
 * end of the run a `tessera-*` entry still in it is a test or helper that forgot to clean up, even when the
 * test failed: the run fails and names it. The directory is then removed either way.
 *
 * A per-run directory (rather than comparing the shared temp dir before and after) because other runs of
 * this suite may be going on at the same time on the same machine.
 */
const LEFTOVER = /^tessera-/;

export function findLeftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => LEFTOVER.test(name));
}

export default async function setup(): Promise<() => void> {
  const runDir = mkdtempSync(path.join(tmpdir(), 'tessera-test-run-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = runDir;

  // Builds the cached PGlite data-directory dumps once, before the test processes start.
  await pgliteDump(true);
  await pgliteDump(false);

  return () => {
    const leftovers = findLeftovers(runDir);
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(runDir, { recursive: true, force: true });
    if (leftovers.length) {
      // Vitest reports an error thrown here but would still exit 0: the exit code is what CI reads.
      process.exitCode = 1;
      throw new Error(`tests left ${leftovers.length} entr${leftovers.length === 1 ? 'y' : 'ies'} behind in the temp dir (remove them in afterEach/afterAll/finally): ${leftovers.join(', ')}`);
    }
  };
}
