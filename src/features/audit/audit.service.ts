import type { Keyring } from '../../crypto/keyring.js';
import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import type { OutboundNetworkPolicy } from '../../net/outbound-network.js';
import type { Telemetry } from '../../kernel/telemetry.js';
import { createAuditQueries } from './audit-query.js';
import { createAuditRecorder } from './audit-recorder.js';
import { createAuditRetention, DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS } from './audit-retention.js';
import { createAuditWebhook } from './audit-webhook.js';
import { AuditErrors } from './audit.errors.js';
import * as store from './audit.store.js';
import type { AuditActor, AuditEventInput } from './audit.types.js';

export interface AuditDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly keyring: Keyring<Tx>;
  /** Every tenant's id, in order, in the caller's owner transaction (the tenants feature owns the list). */
  readonly tenantIds: (tx: Tx) => Promise<string[]>;
  /** Where the SIEM webhook may be delivered (config `webhook`: TESSERA_WEBHOOK_ALLOW_LOOPBACK, TESSERA_WEBHOOK_PRIVATE_NETWORKS). */
  readonly network: OutboundNetworkPolicy;
  /** Where appends are counted (the operator's metrics). */
  readonly telemetry?: Telemetry;
}

export interface AuditJobsOptions {
  readonly log: { error(obj: object, msg: string): void; info(obj: object, msg: string): void };
  readonly outboxIntervalMs?: number;
  readonly retentionIntervalMs?: number;
}

/** The audit log: the recorder every feature writes through, and the use cases that read and keep the chain. */
export function createAudit({ db, clock, keyring, tenantIds, network, telemetry }: AuditDeps) {
  const recorder = createAuditRecorder({ clock, engine: db.engine, ...(telemetry ? { telemetry } : {}) });
  const queries = createAuditQueries({ db });
  const retention = createAuditRetention({ db, clock, recorder, tenantIds });
  const webhook = createAuditWebhook({ db, clock, keyring, recorder, network });

  /** A retention change in the caller's unit of work; recorded only when the value changes. */
  async function setRetentionIn(tx: Tx, tenantId: string, actor: AuditActor, days: number): Promise<void> {
    checkRetention(days);
    const before = (await store.readSettings(tx, tenantId))?.retentionDays ?? DEFAULT_RETENTION_DAYS;
    if (before === days) return;
    await store.upsertSettings(tx, tenantId, { retentionDays: days }, clock.now());
    await recorder.record(tx, tenantId, {
      action: 'audit.retention.changed',
      actor,
      target: { type: 'tenant', id: tenantId },
      outcome: 'success',
      details: { retentionDays: days, previousRetentionDays: before },
    });
  }

  return {
    record: (tx: Tx, tenantId: string, event: AuditEventInput) => recorder.record(tx, tenantId, event),
    /** For global changes (signing keys): one event in every tenant's chain, in the caller's owner transaction. */
    async recordInEveryTenant(tx: Tx, event: AuditEventInput): Promise<number> {
      const tenants = await tenantIds(tx);
      for (const tenantId of tenants) await recorder.record(tx, tenantId, event);
      return tenants.length;
    },
    ...queries,
    applyRetention: () => retention.applyRetention(),
    deliverOutbox: () => webhook.deliverOutbox(),
    /** Events waiting for webhook delivery, across tenants (an operator read, for the metrics). */
    webhookBacklog: () => db.ownerWork((tx) => store.outboxBacklog(tx)),
    setWebhook: (...args: Parameters<typeof webhook.setWebhook>) => webhook.setWebhook(...args),

    async settings(tenantId: string) {
      const row = await db.tenantWork(tenantId, (tx) => store.readSettings(tx, tenantId));
      return { retentionDays: row?.retentionDays ?? DEFAULT_RETENTION_DAYS, webhookUrl: row?.webhookUrl ?? null };
    },

    async setRetention(tenantId: string, actor: AuditActor, days: number): Promise<void> {
      checkRetention(days);
      await db.tenantWork(tenantId, (tx) => setRetentionIn(tx, tenantId, actor, days));
    },

    /** The settings in the caller's unit of work (the settings API): the retention, the webhook URL, never its secret. */
    async settingsIn(tx: Tx, tenantId: string): Promise<{ retentionDays: number; webhookUrl: string | null }> {
      const row = await store.readSettings(tx, tenantId);
      return { retentionDays: row?.retentionDays ?? DEFAULT_RETENTION_DAYS, webhookUrl: row?.webhookUrl ?? null };
    },
    setRetentionIn,
    setWebhookIn: (...args: Parameters<typeof webhook.setWebhookIn>) => webhook.setWebhookIn(...args),

    /**
     * Background jobs for `serve`: webhook delivery every few seconds, retention every few hours. Both are
     * safe on several instances (advisory lock and leases; retention serializes on each chain's head).
     */
    startJobs({ log, outboxIntervalMs = 2_000, retentionIntervalMs = 6 * 3_600_000 }: AuditJobsOptions) {
      let stopped = false;
      const running = new Set<Promise<unknown>>();
      const timers = new Set<NodeJS.Timeout>();
      function every(ms: number, firstMs: number, name: string, job: () => Promise<unknown>) {
        const tick = () => {
          timers.delete(timer);
          if (stopped) return;
          const run = job()
            .catch((err: unknown) => log.error({ err, job: name }, 'audit job failed'))
            .finally(() => {
              running.delete(run);
              if (!stopped) {
                timer = setTimeout(tick, ms);
                timer.unref();
                timers.add(timer);
              }
            });
          running.add(run);
        };
        let timer = setTimeout(tick, firstMs);
        timer.unref();
        timers.add(timer);
      }
      every(outboxIntervalMs, outboxIntervalMs, 'audit-webhook', () => webhook.deliverOutbox());
      every(retentionIntervalMs, 60_000, 'audit-retention', async () => {
        const removed = await retention.applyRetention();
        if (removed.length > 0) log.info({ removed }, 'audit retention applied');
      });
      return {
        /** Stops scheduling and waits for a pass in progress. */
        async stop(): Promise<void> {
          stopped = true;
          for (const t of timers) clearTimeout(t);
          timers.clear();
          await Promise.allSettled([...running]);
        },
      };
    },
  };
}

export type Audit = ReturnType<typeof createAudit>;

function checkRetention(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > MAX_RETENTION_DAYS) {
    throw new AppError(AuditErrors['audit.invalid_settings'], { message: `Retention must be a whole number of days between 1 and ${MAX_RETENTION_DAYS}.` });
  }
}
