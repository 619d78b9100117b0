import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Presets, SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { EXPORT_FORMATS, type ExportFormat } from '../features/audit/index.js';
import { isUuid } from '../kernel/ids.js';
import { EXIT_FAILED, EXIT_USAGE, runCommand, withServices } from './context.js';

const OPERATOR = { type: 'system', id: 'cli' } as const;

function usage(message: string): void {
  process.stderr.write(`${message}\n`);
  process.exitCode = EXIT_USAGE;
}

function parseInstant(value: string | undefined, name: string): Date | undefined | null {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    usage(`${name} must be an ISO 8601 date or date-time, e.g. 2026-01-31 or 2026-01-31T12:00:00Z`);
    return null;
  }
  return date;
}

async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description("a tenant's audit log: export, verify, retention, SIEM webhook");

  audit
    .command('export')
    .description('export the audit events of a tenant, oldest first, streamed (constant memory)')
    .requiredOption('--tenant <id>', 'tenant id')
    .option('--format <format>', `${EXPORT_FORMATS.join(', ')}`, 'ndjson')
    .option('--from <instant>', 'events at or after this ISO 8601 instant')
    .option('--to <instant>', 'events before this ISO 8601 instant')
    .option('--action <prefix>', 'only actions with this dotted prefix (e.g. auth.login)')
    .option('--out <file>', 'write to this file instead of standard output')
    .action((options: { tenant: string; format: string; from?: string; to?: string; action?: string; out?: string }) =>
      runCommand(async () => {
        if (!isUuid(options.tenant)) return usage('--tenant must be a tenant id (a UUID)');
        if (!EXPORT_FORMATS.includes(options.format as ExportFormat)) return usage(`--format must be one of ${EXPORT_FORMATS.join(', ')}`);
        const from = parseInstant(options.from, '--from');
        const to = parseInstant(options.to, '--to');
        if (from === null || to === null) return;
        const filters = { from, to, action: options.action };
        await withServices(async (services) => {
          const out = options.out ? createWriteStream(options.out) : process.stdout;
          const bar = process.stderr.isTTY ? new SingleBar({ format: 'exporting [{bar}] {value}/{total} events  {eta_formatted} left', stream: process.stderr }, Presets.shades_classic) : undefined;
          bar?.start(await services.audit.countEvents(options.tenant, { from, to }), 0);
          let rows = 0;
          try {
            for await (const chunk of services.audit.exportEvents(options.tenant, options.format as ExportFormat, filters, (n) => {
              rows += n;
              bar?.update(rows);
            })) {
              await write(out, chunk);
            }
          } finally {
            bar?.stop();
          }
          if (options.out) {
            out.end();
            await once(out, 'finish');
            process.stderr.write(`exported ${rows} event(s) to ${options.out}\n`);
          }
        });
      }),
    );

  audit
    .command('verify')
    .description("recompute a tenant's hash chain and report the first event where it breaks (exit code 1)")
    .requiredOption('--tenant <id>', 'tenant id')
    .option('--json', 'print the report as JSON')
    .action((options: { tenant: string; json?: boolean }) =>
      runCommand(async () => {
        if (!isUuid(options.tenant)) return usage('--tenant must be a tenant id (a UUID)');
        await withServices(async (services) => {
          const report = await services.audit.verify(options.tenant);
          if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
          else if (report.ok) {
            const from = report.start.seq === 0 ? 'the first event' : `the retention checkpoint at #${report.start.seq}`;
            process.stdout.write(`ok: ${report.checked} event(s) verified from ${from} to #${report.lastSeq}; the chain is intact\n`);
          } else {
            process.stdout.write(
              `BROKEN at event #${report.break!.seq}: ${report.break!.reason} (${report.checked} event(s) before it verified). The log was altered in the database; restore from a backup and investigate.\n`,
            );
          }
          if (!report.ok) process.exitCode = EXIT_FAILED;
        });
      }),
    );

  audit
    .command('retention')
    .description("set a tenant's audit retention (default 2557 days, 7 years), or with --apply remove expired events of every tenant now")
    .option('--tenant <id>', 'tenant id')
    .option('--days <n>', 'keep events this many days (1-36500)')
    .option('--apply', 'run the retention job once now (serve also runs it every 6 hours)')
    .action((options: { tenant?: string; days?: string; apply?: boolean }) =>
      runCommand(async () => {
        if (options.days !== undefined && (!options.tenant || !isUuid(options.tenant))) return usage('--days needs --tenant <tenant id>');
        if (options.days === undefined && !options.apply) return usage('give --tenant and --days, or --apply');
        await withServices(async (services) => {
          if (options.days !== undefined) {
            await services.audit.setRetention(options.tenant!, OPERATOR, Number(options.days));
            process.stdout.write(`tenant ${options.tenant} keeps audit events ${Number(options.days)} day(s)\n`);
          }
          if (options.apply) {
            const reports = await services.audit.applyRetention();
            const removed = reports.reduce((sum, r) => sum + r.removed, 0);
            process.stdout.write(`retention removed ${removed} event(s) from ${reports.length} tenant(s); each chain keeps a checkpoint and still verifies\n`);
          }
        });
      }),
    );

  audit
    .command('webhook')
    .description("stream a tenant's audit events to a SIEM: each event is POSTed as JSON signed with HMAC-SHA256; loopback, private and link-local receivers are refused unless serve allows them (TESSERA_WEBHOOK_PRIVATE_NETWORKS, TESSERA_WEBHOOK_ALLOW_LOOPBACK)")
    .requiredOption('--tenant <id>', 'tenant id')
    .option('--url <url>', 'the receiving http(s) URL; an internal SIEM (private address) needs its network in TESSERA_WEBHOOK_PRIVATE_NETWORKS')
    .option('--secret <secret>', 'the signing secret (default: generate one and print it once)')
    .option('--remove', 'stop streaming to the webhook')
    .action((options: { tenant: string; url?: string; secret?: string; remove?: boolean }) =>
      runCommand(async () => {
        if (!isUuid(options.tenant)) return usage('--tenant must be a tenant id (a UUID)');
        if (Boolean(options.url) === Boolean(options.remove)) return usage('give either --url <url> or --remove');
        await withServices(async (services) => {
          const { secret } = await services.audit.setWebhook(options.tenant, OPERATOR, { url: options.remove ? null : options.url!, secret: options.secret });
          if (options.remove) process.stdout.write('webhook removed; pending deliveries are dropped\n');
          else {
            process.stdout.write(`webhook set: events are delivered to ${options.url}\n`);
            if (!options.secret) process.stdout.write(`signing secret (shown once): ${secret}\n`);
            process.stdout.write('verify each request: X-Tessera-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>\n');
            process.stdout.write('delivery refuses loopback, private and link-local addresses unless allowed: TESSERA_WEBHOOK_PRIVATE_NETWORKS=<cidr,…> on serve\n');
          }
        });
      }),
    );
}
