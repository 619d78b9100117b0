import type { Command } from 'commander';
import { migrate, migrationStatus } from '../db/migrator.js';
import { cliConfig, openForOperator, runCommand } from './context.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (idempotent; one transaction each)')
    .option('--status', 'only report which migrations are applied and pending')
    .action((options: { status?: boolean }) =>
      runCommand(async () => {
        const config = cliConfig();
        const { db } = await openForOperator(config);
        try {
          if (options.status) {
            const status = await migrationStatus(db);
            process.stdout.write(`applied: ${status.applied.length}, pending: ${status.pending.map((m) => `${m.version}_${m.name}`).join(', ') || 'none'}\n`);
            return;
          }
          const applied = await migrate(db, {
            onApplied: (m, i, total) => process.stdout.write(`[${i}/${total}] ${String(m.version).padStart(4, '0')}_${m.name}\n`),
          });
          process.stdout.write(applied.length ? `applied ${applied.length} migration(s); the database is current\n` : 'the database is current; nothing to apply\n');
        } finally {
          await db.close();
        }
      }),
    );
}
