import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import { DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS } from './audit-retention.js';
import { redactWebhookUrl } from './audit-webhook.js';
import { AuditErrors } from './audit.errors.js';
import type { Audit } from './audit.service.js';
import type { AuditActor } from './audit.types.js';

/**
 * The shortest retention a tenant administrator may set from the API. Retention deletes events, so a stolen
 * administrator session could otherwise erase the trail of what it did within a day; shorter retention is an
 * operator's decision (`tessera audit retention --days`, 1 day and up).
 */
export const MIN_API_RETENTION_DAYS = 90;

export interface AuditSettingsView {
  readonly retentionDays: number;
  readonly defaultRetentionDays: number;
  readonly minRetentionDays: number;
  readonly maxRetentionDays: number;
  /** The webhook URL without its query string (which may carry the receiver's token); never the signing secret. */
  readonly webhook: { readonly url: string } | null;
}

export interface AuditSettingsPatch {
  readonly retentionDays?: number | undefined;
  /** `{ url }` sets the webhook with a new signing secret (returned once); `null` removes it. */
  readonly webhook?: { readonly url: string } | null | undefined;
}

export interface AuditSettingsDeps {
  readonly db: Database;
  readonly audit: Pick<Audit, 'settingsIn' | 'setRetentionIn' | 'setWebhookIn'>;
  /** Refuses with `identity.tenant_admin_required` unless the user is an active tenant administrator (identity feature). */
  readonly requireTenantAdmin: (tx: Tx, tenantId: string, userId: string) => Promise<void>;
}

/**
 * The tenant's audit settings over the API (README "Audit log"): retention and the SIEM webhook. Rules: anyone with
 * `audit.view` reads them, but never the webhook's signing secret, which exists in clear only in the answer that
 * created it (DESIGN §4: machine secrets shown once); changes are a tenant-wide policy, so they need `security.manage`
 * (the route) and a tenant administrator (here), as the tenant's other security settings do; retention is between
 * MIN_API_RETENTION_DAYS and 36500 days; both changes happen in one unit of work with their audit events, so a refusal
 * changes nothing.
 */
export function createAuditSettings({ db, audit, requireTenantAdmin }: AuditSettingsDeps) {
  async function view(tx: Tx, tenantId: string): Promise<AuditSettingsView> {
    const { retentionDays, webhookUrl } = await audit.settingsIn(tx, tenantId);
    return {
      retentionDays,
      defaultRetentionDays: DEFAULT_RETENTION_DAYS,
      minRetentionDays: MIN_API_RETENTION_DAYS,
      maxRetentionDays: MAX_RETENTION_DAYS,
      webhook: webhookUrl === null ? null : { url: redactWebhookUrl(webhookUrl) },
    };
  }

  return {
    getSettings(tenantId: string): Promise<AuditSettingsView> {
      return db.tenantWork(tenantId, (tx) => view(tx, tenantId));
    },

    updateSettings(tenantId: string, actor: AuditActor & { type: 'user'; id: string }, patch: AuditSettingsPatch): Promise<AuditSettingsView & { webhookSecret: string | null }> {
      const days = patch.retentionDays;
      if (days !== undefined && (!Number.isInteger(days) || days < MIN_API_RETENTION_DAYS || days > MAX_RETENTION_DAYS)) {
        throw new AppError(AuditErrors['audit.invalid_settings'], {
          message: `Retention must be a whole number of days between ${MIN_API_RETENTION_DAYS} and ${MAX_RETENTION_DAYS}; shorter retention is set by the operator (tessera audit retention).`,
        });
      }
      if (patch.webhook && !patch.webhook.url.toLowerCase().startsWith('https://')) {
        // Server-side request forgery (OWASP SSRF Prevention Cheat Sheet): the URL now comes from a tenant administrator,
        // not the operator, and the plain-http targets inside a network (cloud metadata at 169.254.169.254, internal
        // admin APIs) are the usual prey. An http:// SIEM stays possible through the operator's CLI.
        throw new AppError(AuditErrors['audit.invalid_settings'], { message: 'The webhook URL must be an absolute https:// URL (an http:// receiver is set by the operator: tessera audit webhook).' });
      }
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        if (days !== undefined) await audit.setRetentionIn(tx, tenantId, actor, days);
        let webhookSecret: string | null = null;
        if (patch.webhook !== undefined) ({ secret: webhookSecret } = await audit.setWebhookIn(tx, tenantId, actor, { url: patch.webhook?.url ?? null }));
        return { ...(await view(tx, tenantId)), webhookSecret };
      });
    },
  };
}

export type AuditSettings = ReturnType<typeof createAuditSettings>;
