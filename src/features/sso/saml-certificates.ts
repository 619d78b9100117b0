import type { Database, Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import { type JobLog, type PeriodicJob, startPeriodicJob } from '../../kernel/periodic-job.js';
import type { AuditRecorder } from '../audit/index.js';
import { certificateInfos, type SamlConfig } from './saml-config.js';
import { spentId } from './spent-id.js';
import * as store from './sso.store.js';

/** The product rule: a SAML connection's IdP certificate is flagged 30 days before it expires. */
export const CERTIFICATE_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

export interface CertificateWatchDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  readonly tenantIds: (tx: Tx) => Promise<string[]>;
  /** sessions: spends a one-time id in the caller's unit of work; false when it was spent before. */
  readonly spendOnceIn: (tx: Tx, tenantId: string, id: string, expiresAt: Date) => Promise<boolean>;
}

/**
 * Audits `sso.certificate.expiring` once per SAML connection and IdP certificate when the certificate expires within
 * 30 days (or has expired), so the tenant rotates it (adds the IdP's next certificate) before sign-ins fail. "Once"
 * holds across passes and instances: the warning's id is spent with the audit event, in one unit of work.
 */
export function createCertificateWatch(deps: CertificateWatchDeps) {
  async function pass(): Promise<{ warned: number }> {
    const now = deps.clock.now();
    let warned = 0;
    // Every tenant's id is read across tenants: only the owner's unit of work may (tenants.store.ts allTenantIds).
    for (const tenantId of await deps.db.ownerWork((tx) => deps.tenantIds(tx))) {
      warned += await deps.db.tenantWork(tenantId, async (tx) => {
        let n = 0;
        for (const row of await store.listConnections(tx, tenantId)) {
          if (row.type !== 'saml') continue;
          for (const cert of certificateInfos(row.config as unknown as SamlConfig)) {
            const notAfter = new Date(cert.notAfter);
            if (notAfter.getTime() - now.getTime() > CERTIFICATE_WARNING_DAYS * DAY_MS) continue;
            // Spent until a day after expiry (the table purges spent ids after their end).
            if (!(await deps.spendOnceIn(tx, tenantId, spentId('saml-certificate-expiring', row.id, cert.fingerprintSha256), new Date(Math.max(notAfter.getTime(), now.getTime()) + DAY_MS)))) continue;
            await deps.audit.record(tx, tenantId, {
              action: 'sso.certificate.expiring',
              actor: { type: 'system', id: 'sso:certificate-watch' },
              target: { type: 'sso_connection', id: row.id },
              outcome: 'success',
              details: { name: row.name, fingerprintSha256: cert.fingerprintSha256, subject: cert.subject, notAfter: cert.notAfter, daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS) },
            });
            n++;
          }
        }
        return n;
      });
    }
    return { warned };
  }

  return {
    pass,
    /** Started by `serve`: a first pass five minutes after start, then every 12 hours. */
    startJobs({ log, intervalMs = 12 * 3_600_000, firstMs = 5 * 60_000 }: { log: JobLog; intervalMs?: number; firstMs?: number }): PeriodicJob {
      return startPeriodicJob('saml-certificate-watch', pass, { log, intervalMs, firstMs });
    },
  };
}

export type CertificateWatch = ReturnType<typeof createCertificateWatch>;
