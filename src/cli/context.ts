import type { Services } from '../app.js';
import type { Config } from '../config/config.schema.js';
import { ConfigError, loadConfig } from '../config/load-config.js';
import { type MasterKeys, resolveMasterKey } from '../crypto/master-key.js';
import { type Database, openDatabase } from '../db/database.js';
import { migrate } from '../db/migrator.js';
import { isAppError } from '../kernel/app-error.js';

/** Exit codes: 0 done, 1 the operation failed, 2 the configuration or the command line is wrong. */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Runs a command body, turning known errors into a clear message on stderr and an exit code. */
export async function runCommand(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nSee the configuration table in the README.\n`);
      process.exitCode = EXIT_USAGE;
    } else if (isAppError(error)) {
      process.stderr.write(`error ${error.code}: ${error.message}\n`);
      process.exitCode = error.code.endsWith('invalid_input') ? EXIT_USAGE : EXIT_FAILED;
    } else {
      process.stderr.write(`error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = EXIT_FAILED;
    }
  }
}

export function cliConfig(): Config {
  return loadConfig(process.env);
}

/** Opens the configured database with the master key, for operator commands. */
export async function openForOperator(config: Config): Promise<{ db: Database; master: ReturnType<typeof resolveMasterKey> }> {
  const master = resolveMasterKey(config);
  const db = await openDatabase(config.database);
  return { db, master };
}

/**
 * Opens the configured database, migrates it, builds the services (no HTTP server: DESIGN §6, the composition
 * root's first half), runs `body` with them, and closes the database.
 */
export async function withServices(body: (services: Services, context: { config: Config; db: Database; masterKeys: MasterKeys }) => Promise<void>): Promise<void> {
  const config = cliConfig();
  const { db, master } = await openForOperator(config);
  try {
    await migrate(db);
    // Imported here, not at the top: the app is most of what a command loads, and `migrate`, `backup`, `restore` and
    // a command line refused before it reaches the database never need it (src/cli/index.ts).
    const { createServices } = await import('../app.js');
    await body(createServices({ config, db, masterKeys: master.keys }), { config, db, masterKeys: master.keys });
  } finally {
    await db.close();
  }
}
