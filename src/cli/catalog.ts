import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CatalogFile } from '../features/rbac/index.js';
import { isUuid } from '../kernel/ids.js';
import { EXIT_USAGE, runCommand, withServices } from './context.js';

const OPERATOR = { type: 'system', id: 'cli' } as const;

function usage(message: string): void {
  process.stderr.write(`${message}\n`);
  process.exitCode = EXIT_USAGE;
}

export function registerCatalog(program: Command): void {
  const catalog = program.command('catalog').description("an account's permission catalog");
  catalog
    .command('import')
    .description('register the permission keys and role templates of a JSON file in an account (same body as PUT /api/v1/permissions; idempotent)')
    .argument('<file>', 'JSON file: {"permissions": [{"key", "category", "description"}], "templates": [{"key", "name", "permissions"}]}')
    .requiredOption('--account <id>', 'account id')
    .option('--tenant <id>', 'tenant whose audit log records the change (default: the first tenant linked to the account)')
    .option('--force', 'remove keys that roles use (they are taken out of those roles)')
    .action((file: string, options: { account: string; tenant?: string; force?: boolean }) =>
      runCommand(async () => {
        if (!isUuid(options.account) || (options.tenant !== undefined && !isUuid(options.tenant))) return usage('--account and --tenant must be ids (UUIDs)');
        let json: unknown;
        try {
          json = JSON.parse(await readFile(file, 'utf8'));
        } catch (error) {
          return usage(`cannot read ${file} as JSON: ${(error as Error).message}`);
        }
        const parsed = CatalogFile.safeParse(json);
        if (!parsed.success) return usage(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
        await withServices(async (services, { db }) => {
          const tenantId = options.tenant ?? (await services.tenants.firstTenantOfAccount(options.account));
          if (!tenantId) return usage(`no tenant is linked to account ${options.account}`);
          const body = { ...parsed.data, force: options.force ?? parsed.data.force };
          const result = await db.tenantWork(tenantId, (tx) => services.rbac.catalog.putCatalog(tx, tenantId, OPERATOR, options.account, body));
          process.stdout.write(`catalog of account ${options.account}: version ${result.version} (${result.changed ? 'changed' : 'unchanged'})\n`);
        });
      }),
    );
}
