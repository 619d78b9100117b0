import type { Command } from 'commander';
import { cliConfig, runCommand } from './context.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the server (migrates, and on an empty database bootstraps, first)')
    .action(() =>
      runCommand(async () => {
        // Imported when the server starts: loading the HTTP server is no cost of the other commands (src/cli/index.ts).
        const { startServer } = await import('../main.js');
        await startServer(cliConfig(), { installSignalHandlers: true });
      }),
    );
}
