import type { Command } from 'commander';
import { isUuid } from '../kernel/ids.js';
import { EXIT_USAGE, runCommand, withServices } from './context.js';

const OPERATOR = { type: 'system', id: 'cli' } as const;

export function registerDomains(program: Command): void {
  const domains = program.command('domains').description("a tenant's verified email domains");
  domains
    .command('verify')
    .description('verify a domain of a tenant now by its DNS TXT record (adding it first if missing); with --force, mark it verified without DNS (audited domain.force_verified)')
    .argument('<domain>', 'the domain, e.g. example.com')
    .requiredOption('--tenant <id>', 'tenant id')
    .option('--force', 'mark it verified without a DNS check (an internal domain the server cannot resolve); one tenant per domain still holds')
    .action((domain: string, options: { tenant: string; force?: boolean }) =>
      runCommand(async () => {
        if (!isUuid(options.tenant)) {
          process.stderr.write('--tenant must be an id (UUID)\n');
          process.exitCode = EXIT_USAGE;
          return;
        }
        await withServices(async (services) => {
          const result = await services.domains.operatorVerify(options.tenant, OPERATOR, { domain, force: options.force === true });
          process.stdout.write(`${result.domain}: ${result.status} (${result.verifiedBy === 'operator' ? 'forced by the operator' : 'DNS TXT record found'})\n`);
        });
      }),
    );
  domains
    .command('lift-require-sso')
    .description("turn Require SSO off for a tenant's domain without a tenant administrator (the operator's escape hatch when the IdP is broken and no break-glass user can sign in; audited domain.require_sso.disabled)")
    .argument('<domain>', 'the domain, e.g. example.com')
    .requiredOption('--tenant <id>', 'tenant id')
    .action((domain: string, options: { tenant: string }) =>
      runCommand(async () => {
        if (!isUuid(options.tenant)) {
          process.stderr.write('--tenant must be an id (UUID)\n');
          process.exitCode = EXIT_USAGE;
          return;
        }
        await withServices(async (services) => {
          const result = await services.domains.operatorLiftRequireSso(options.tenant, OPERATOR, { domain });
          process.stdout.write(`${result.domain}: Require SSO is off; password sign-in works again for its users. Turn it back on with PATCH /api/v1/domains/${result.id} {"requireSso": true} once the IdP works.\n`);
        });
      }),
    );
}
