import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { CHROMIUM_BROKER_ENV, startChromiumBroker } from './chromium-server.js';
import { buildCli } from './cli-build.js';
import { createMigratedTemplate, pgliteDump, TEMPLATE_ENV } from './databases.js';
import { RUN_SHARED } from './run-dir.js';

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

/** Set while a run's setup is in force: vitest calls this setup once per project (vitest.config.ts), one run wants one. */
const RUN_DIR_ENV = 'TESSERA_TEST_RUN_DIR';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env[RUN_DIR_ENV]) return async () => {};
  const runDir = mkdtempSync(path.join(tmpdir(), 'tessera-test-run-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = runDir;
  process.env[RUN_DIR_ENV] = runDir;

  // The `tessera` command the CLI suites spawn, compiled from the current source for this run only (cli-build.ts),
  // and again before every re-run in watch mode, so a change to src is always what they run. The console build
  // the browser suites share (browser.ts) is made by the first of them; a re-run discards it, to be built anew.
  const cliOut = path.join(runDir, RUN_SHARED.cli);
  process.env.TESSERA_TEST_CLI = await buildCli(cliOut);
  project.onTestsRerun(async () => {
    rmSync(path.join(runDir, RUN_SHARED.console), { recursive: true, force: true });
    await buildCli(cliOut);
  });

  // Builds the cached PGlite data-directory dumps once, before the test processes start.
  await pgliteDump(true);
  await pgliteDump(false);

  // On PostgreSQL, the run's migrated template every suite's database is copied from (databases.ts), dropped at the
  // end of the run.
  const template = process.env.TESSERA_TEST_DATABASE_URL ? await createMigratedTemplate() : undefined;
  if (template) process.env[TEMPLATE_ENV] = template.name;

  // The run's one Chromium, launched when a browser suite first asks for it (chromium-server.ts, browser.ts).
  const chromium = await startChromiumBroker();
  process.env[CHROMIUM_BROKER_ENV] = chromium.url;

  return async () => {
    // First: its profile is in the run dir. A failure to close it is reported after the rest is cleaned up.
    const chromiumError = await chromium.close().then(() => undefined, (error: unknown) => (error instanceof Error ? error : new Error(`closing Chromium failed: ${String(error)}`)));
    delete process.env[CHROMIUM_BROKER_ENV];
    const leftovers = findLeftovers(runDir);
    delete process.env.TESSERA_TEST_CLI;
    delete process.env[TEMPLATE_ENV];
    delete process.env[RUN_DIR_ENV];
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(runDir, { recursive: true, force: true });
    await template?.drop();
    if (chromiumError) {
      process.exitCode = 1;
      throw chromiumError;
    }
    if (leftovers.length) {
      // Vitest reports an error thrown here but would still exit 0: the exit code is what CI reads.
      process.exitCode = 1;
      throw new Error(`tests left ${leftovers.length} entr${leftovers.length === 1 ? 'y' : 'ies'} behind in the temp dir (remove them in afterEach/afterAll/finally): ${leftovers.join(', ')}`);
    }
  };
}
