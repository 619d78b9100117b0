import { createHmac } from 'node:crypto';
import type { Keyring } from '../../crypto/keyring.js';
import { randomToken } from '../../crypto/random.js';
import { tryAdvisoryXactLock } from '../../db/advisory-lock.js';
import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { deliverOnce, guardedFetch, type GuardedFetch, type OutboundNetworkPolicy, type OutboundSettingNames } from '../../net/outbound-network.js';
import type { ChainedEvent } from './audit-chain.js';
import { AuditErrors } from './audit.errors.js';
import * as store from './audit.store.js';
import type { AuditActor, AuditRecorder } from './audit.types.js';

/** Keyring field of the webhook signing secret (associated data: a ciphertext moved elsewhere fails). */
const SECRET_FIELD = 'audit.webhook_secret';
// Any fixed number; one delivery pass at a time across all instances.
const OUTBOX_LOCK = 7_430_117_005;
const CLAIM = 100;
const LEASE_MS = 60_000;
const BASE_BACKOFF_MS = 5_000;
const MAX_BACKOFF_MS = 3_600_000;

/** Retry delay after the n-th failed attempt: 5 s, 10 s, 20 s … capped at one hour. */
export function backoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.max(0, attempts - 1));
}

/**
 * `X-Tessera-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The timestamp is
 * signed so a receiver can refuse replays older than its tolerance.
 */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The operator settings that widen where a webhook may be delivered, named in the recorded refusal. */
export const WEBHOOK_NETWORK_SETTINGS: OutboundSettingNames = { allowLoopback: 'TESSERA_WEBHOOK_ALLOW_LOOPBACK', privateNetworks: 'TESSERA_WEBHOOK_PRIVATE_NETWORKS' };

export interface WebhookDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly keyring: Keyring<Tx>;
  readonly recorder: AuditRecorder;
  /**
   * Where a webhook may be delivered (TESSERA_WEBHOOK_ALLOW_LOOPBACK, TESSERA_WEBHOOK_PRIVATE_NETWORKS). One rule for
   * every webhook, whoever set it (a tenant administrator over the API or the operator with the CLI).
   */
  readonly network: OutboundNetworkPolicy;
  readonly timeoutMs?: number;
}

export interface DeliveryReport {
  readonly delivered: number;
  readonly failed: number;
}

export function createAuditWebhook({ db, clock, keyring, recorder, network, timeoutMs = 10_000 }: WebhookDeps) {
  /**
   * Posts one event; returns null when the receiver took it (2xx), else the reason recorded in the outbox. The
   * webhook URL is chosen by a tenant administrator, so the request goes through the outbound network guard (OWASP
   * SSRF Prevention: no loopback, private or link-local address unless the operator allows its network) and a
   * redirect is a failed delivery, never followed (it could point anywhere, the guard's allowances included).
   */
  async function post(fetchImpl: GuardedFetch, url: string, secret: string, event: ChainedEvent): Promise<string | null> {
    const body = JSON.stringify(event);
    const timestamp = Math.floor(clock.now().getTime() / 1000);
    return deliverOnce(
      fetchImpl,
      url,
      {
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Tessera-Audit-Webhook',
          'x-tessera-event': `${event.tenantId}:${event.seq}`,
          'x-tessera-signature': signatureHeader(secret, timestamp, body),
        },
        body,
      },
      timeoutMs,
    );
  }

  async function deliverTenant(tenantId: string, claimed: { seq: number; attempts: number }[]): Promise<DeliveryReport> {
    const loaded = await db.tenantWork(tenantId, async (tx) => {
      const settings = await store.readSettings(tx, tenantId);
      if (!settings?.webhookUrl || !settings.webhookSecretEnc) return undefined;
      const secret = await keyring.decryptString(tx, tenantId, SECRET_FIELD, settings.webhookSecretEnc);
      const events = await store.eventsBySeq(tx, tenantId, claimed.map((c) => c.seq));
      return { url: settings.webhookUrl, secret, events };
    });
    if (!loaded) {
      // The webhook was removed: nothing left to deliver these to.
      await db.tenantWork(tenantId, (tx) => store.deleteOutbox(tx, tenantId, claimed.map((c) => c.seq)));
      return { delivered: 0, failed: 0 };
    }
    const delivered: number[] = [];
    const failures: { seq: number; attempts: number; error: string }[] = [];
    const bySeq = new Map(loaded.events.map((e) => [e.seq, e]));
    const guarded = guardedFetch(network, { timeoutMs, settings: WEBHOOK_NETWORK_SETTINGS });
    try {
      for (const c of claimed) {
        const event = bySeq.get(c.seq);
        // An event retention already removed is no longer deliverable.
        const error = event ? await post(guarded.fetch, loaded.url, loaded.secret, event) : null;
        if (error === null) delivered.push(c.seq);
        else failures.push({ ...c, error });
      }
    } finally {
      await guarded.close();
    }
    await db.tenantWork(tenantId, async (tx) => {
      await store.deleteOutbox(tx, tenantId, delivered);
      const now = clock.now().getTime();
      for (const f of failures) await store.rescheduleOutbox(tx, tenantId, f.seq, new Date(now + backoffMs(f.attempts)), f.error);
    });
    return { delivered: delivered.length, failed: failures.length };
  }

  /** The webhook change in the caller's unit of work; the input was checked by checkWebhookInput. */
  async function setWebhookIn(tx: Tx, tenantId: string, actor: AuditActor, input: { url: string | null; secret?: string }): Promise<{ secret: string | null }> {
    checkWebhookInput(input);
    const secret = input.url === null ? null : (input.secret ?? randomToken(32));
    const webhook = input.url === null || secret === null ? null : { url: input.url, secretEnc: await keyring.encrypt(tx, tenantId, SECRET_FIELD, secret) };
    await store.upsertSettings(tx, tenantId, { webhook }, clock.now());
    await recorder.record(tx, tenantId, {
      action: input.url === null ? 'audit.webhook.removed' : 'audit.webhook.configured',
      actor,
      target: { type: 'tenant', id: tenantId },
      outcome: 'success',
      // Never the secret, and never the query string, which may carry a token of the receiver.
      details: input.url === null ? {} : { url: redactWebhookUrl(input.url) },
    });
    return { secret };
  }

  return {
    /** Sets (or, with `url: null`, removes) the tenant's SIEM webhook; returns the signing secret once. */
    async setWebhook(tenantId: string, actor: AuditActor, input: { url: string | null; secret?: string }): Promise<{ secret: string | null }> {
      checkWebhookInput(input);
      return db.tenantWork(tenantId, (tx) => setWebhookIn(tx, tenantId, actor, input));
    },

    /** The same change in the caller's unit of work (the settings API changes retention and webhook together). */
    setWebhookIn,

    /**
     * One delivery pass: leases due outbox entries (one pass at a time across instances: advisory lock),
     * posts each event outside any transaction, then removes delivered entries and reschedules failures
     * with exponential backoff. The action that caused an event never waits for this.
     */
    async deliverOutbox(): Promise<DeliveryReport> {
      const now = clock.now();
      const claimed = await db.ownerWork(async (tx) => {
        if (!(await tryAdvisoryXactLock(tx, OUTBOX_LOCK))) return [];
        return store.claimOutbox(tx, now, new Date(now.getTime() + LEASE_MS), CLAIM);
      });
      const byTenant = new Map<string, { seq: number; attempts: number }[]>();
      for (const c of claimed) byTenant.set(c.tenantId, [...(byTenant.get(c.tenantId) ?? []), c]);
      let delivered = 0;
      let failed = 0;
      for (const [tenantId, entries] of byTenant) {
        const report = await deliverTenant(tenantId, entries);
        delivered += report.delivered;
        failed += report.failed;
      }
      return { delivered, failed };
    },
  };
}

function checkWebhookInput(input: { url: string | null; secret?: string }): void {
  if (input.url !== null && !isWebhookUrl(input.url)) {
    throw new AppError(AuditErrors['audit.invalid_settings'], { message: 'The webhook URL must be an absolute http:// or https:// URL without credentials.' });
  }
  if (input.secret !== undefined && input.secret.length < 16) {
    throw new AppError(AuditErrors['audit.invalid_settings'], { message: 'The webhook secret must be at least 16 characters.' });
  }
}

function isWebhookUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '' && value.length <= 2000;
  } catch {
    return false;
  }
}

/** The URL without its query string, which may carry a token. */
export function redactWebhookUrl(value: string): string {
  const url = new URL(value);
  return `${url.origin}${url.pathname}`;
}
