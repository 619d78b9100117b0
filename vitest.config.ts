import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    // Run by each project below; the setup itself does its work once per run.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites on PostgreSQL create their own database; PGlite suites their own in-memory instance.
    fileParallelism: true,
    // Two files at a time: vitest's default on 2 cores is one (availableParallelism - 1), and the suites wait on
    // sockets and databases as much as they compute. Measured on the 2-core CI machine: 1270 s with one worker, 795 s
    // with two, the same 1,695 tests passing.
    maxWorkers: 2,
    projects: [
      // The feature suites in src/ build their app, database and clock in the suite itself (test/support) and touch no
      // process-wide state (no module mocks, stubbed globals, fake timers or environment changes): they run one after
      // the other in a worker that keeps its imported modules, instead of a fresh process re-importing Fastify,
      // oidc-provider, PGlite's WebAssembly and the whole app for each file. Measured on 14 of them (PGlite only,
      // 2-core machine under load): 67 s of CPU and 170 s with a process per file, 36 s and 70 s without.
      { extends: true, test: { name: 'src', include: ['src/**/*.test.ts'], isolate: false } },
      // The suites in test/ (browsers, spawned servers, crash recovery, the upgrade path), the SDK's and the examples'
      // keep a process per file.
      { extends: true, test: { name: 'test', include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'] } },
    ],
  },
});
