import type { Command } from 'commander';
import { startServer } from '../main.js';
import { cliConfig, runCommand } from './context.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the server (migrates, and on an empty database bootstraps, first)')
    .action(() =>
      runCommand(async () => {
        await startServer(cliConfig(), { installSignalHandlers: true });
      }),
    );
}
