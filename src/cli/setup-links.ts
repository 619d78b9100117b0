import type { Command } from 'commander';
import { isUuid } from '../kernel/ids.js';
import { CreateSetupLinkBody, DEFAULT_EXPIRES_IN, SETUP_INTENTS } from '../features/setup-links/index.js';
import { EXIT_USAGE, runCommand, withServices } from './context.js';

const OPERATOR = { type: 'system', id: 'cli' } as const;

function usage(message: string): void {
  process.stderr.write(`${message}\n`);
  process.exitCode = EXIT_USAGE;
}

export function registerSetupLinks(program: Command): void {
  const links = program.command('setup-link').description("setup links: the customer IT admin's guided SSO and SCIM setup (README \"Setup links\")");
  links
    .command('create')
    .description('create a setup link for a tenant and print its URL (shown once; audited setup_link.created). An operator\'s link acts for no user: it cannot give roles through mapping rules')
    .requiredOption('--tenant <id>', 'tenant id')
    .option('--intent <intent>', `what the link may do: ${SETUP_INTENTS.join(', ')}`, 'all')
    .option('--expires-in <seconds>', 'seconds until it stops working (600 to 2592000)', String(DEFAULT_EXPIRES_IN))
    .option('--note <text>', 'for the tenant administrators (e.g. who it was sent to)', '')
    .action((options: { tenant: string; intent: string; expiresIn: string; note: string }) =>
      runCommand(async () => {
        if (!isUuid(options.tenant)) return usage('--tenant must be an id (UUID)');
        const input = CreateSetupLinkBody.safeParse({ intent: options.intent, expiresIn: Number(options.expiresIn), note: options.note });
        if (!input.success) return usage(`invalid option: ${input.error.issues.map((i) => `${i.path.join('.') === 'expiresIn' ? '--expires-in' : `--${i.path.join('.')}`}: ${i.message}`).join('; ')}`);
        await withServices(async (services) => {
          const created = await services.setupLinks.operatorCreate(options.tenant, OPERATOR, input.data);
          process.stdout.write(`${created.url}\n`);
          process.stderr.write(`setup link ${created.link.id} (intent ${created.link.intent}) expires ${created.link.expiresAt}; send the URL to the customer's IT admin — it is not shown again.\n`);
        });
      }),
    );
}
