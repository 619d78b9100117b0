import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites on PostgreSQL create their own database; PGlite suites their own in-memory instance.
    fileParallelism: true,
    // Two files at a time: vitest's default on 2 cores is one (availableParallelism - 1), and the suites wait on
    // sockets and databases as much as they compute. Measured on the 2-core CI machine: 1270 s with one worker, 795 s
    // with two, the same 1,695 tests passing.
    maxWorkers: 2,
  },
});
