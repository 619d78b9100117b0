import type { Command } from 'commander';
import { runCommand, withServices } from './context.js';

interface Options {
  tenant: string;
  account: string;
  email: string;
  password?: string;
  json?: boolean;
}

export function registerBootstrap(program: Command): void {
  program
    .command('bootstrap')
    .description('create a tenant, an account and its first administrator (Account Administrator, tenant admin)')
    .requiredOption('--tenant <name>', 'name of the new tenant')
    .requiredOption('--account <name>', 'name of its first account')
    .requiredOption('--email <email>', 'email of the administrator')
    .option('--password <password>', 'the administrator password (default: generate a one-time password)')
    .option('--json', 'print ids and credentials as JSON, for scripts')
    .action((options: Options) =>
      runCommand(async () => {
        await withServices(async (services, { config }) => {
          await services.keys.ensureSigningKey();
          const result = await services.bootstrap.bootstrap({
            tenantName: options.tenant,
            accountName: options.account,
            email: options.email,
            password: options.password,
          });
          if (options.json) {
            process.stdout.write(
              `${JSON.stringify({
                tenantId: result.tenantId,
                accountId: result.accountId,
                userId: result.userId,
                roleId: result.roleId,
                email: result.email,
                password: result.generatedPassword ?? null,
                mustChangePassword: result.generatedPassword !== undefined,
              })}\n`,
            );
          } else {
            process.stdout.write(
              [
                `Created tenant ${options.tenant} (${result.tenantId}) with account ${options.account} (${result.accountId}).`,
                `Administrator: ${result.email}`,
                result.generatedPassword ? `One-time password: ${result.generatedPassword}  (shown once; change it at first login)` : 'Password: as given.',
                `Log in: POST ${config.publicUrl}/auth/login`,
                '',
              ].join('\n'),
            );
          }
        });
      }),
    );
}
