import { randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningAlgorithm } from '../../config/config.schema.js';
import { tryAdvisoryXactLock } from '../../db/advisory-lock.js';
import type { Database, Tx } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import { AddressRefused, guardedFetch, type GuardedFetch, type OutboundNetworkPolicy, type OutboundSettingNames } from '../../net/outbound-network.js';
import type { AuditRecorder } from '../audit/index.js';
import * as store from './backchannel-logout.store.js';

/**
 * OpenID Connect Back-Channel Logout 1.0. When a Tessera session ends (any reason: the sessions feature's one
 * revocation path emits `sessions.ended`), every application that holds a grant of that session and registered a
 * `backchannelLogoutUri` receives a Logout Token (§2.4) POSTed as `logout_token=…` (§2.5).
 * - Durable: the deliveries are written to an outbox in the transaction that ended the session (nothing is lost to a
 *   crash); a pass claims due entries under an advisory lock (one pass at a time across instances), posts outside any
 *   transaction, deletes what was taken (2xx), reschedules failures with exponential backoff, and gives up after
 *   GIVE_UP_MS with an audit event `application.backchannel_logout_failed`. The instance that ended the session runs
 *   a pass at once; `serve` also runs one every few seconds (job `openid-provider-backchannel-logout`).
 * - The token is signed at each attempt with Tessera's current key and never stored or logged.
 * - The URI is the application's (an account administrator chose it), so the request goes through the outbound
 *   network guard (TESSERA_APPLICATION_ALLOW_LOOPBACK, TESSERA_APPLICATION_PRIVATE_NETWORKS) and a redirect is a
 *   failed delivery, never followed (OWASP SSRF Prevention).
 */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
export const APPLICATION_NETWORK_SETTINGS: OutboundSettingNames = { allowLoopback: 'TESSERA_APPLICATION_ALLOW_LOOPBACK', privateNetworks: 'TESSERA_APPLICATION_PRIVATE_NETWORKS' };

// Any fixed number; one delivery pass at a time across all instances.
const OUTBOX_LOCK = 7_430_117_028;
const CLAIM = 100;
const LEASE_MS = 60_000;
const BASE_BACKOFF_MS = 2_000;
const MAX_BACKOFF_MS = 600_000;
/** A logout that could not be delivered for this long is given up (and audited). */
export const GIVE_UP_MS = 24 * 3_600_000;
/** Logout Tokens are short-lived (§2.4: the RP checks `iat`; a stale one is of no use). */
const LOGOUT_TOKEN_TTL_SECONDS = 120;

/** Retry delay after the n-th failed attempt: 2 s, 4 s, 8 s … capped at ten minutes. */
export function backchannelBackoffMs(attempts: number): number {
  return Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.max(0, attempts - 1));
}

export interface BackchannelLogoutDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly issuer: string;
  readonly audit: AuditRecorder;
  readonly network: OutboundNetworkPolicy;
  readonly keys: { currentSigningKey(): Promise<{ kid: string; alg: SigningAlgorithm; privateKey: KeyObject }> };
  readonly applications: {
    /** Of these client ids, the applications with a back-channel logout URI (in the caller's unit of work). */
    backchannelTargetsIn(tx: Tx, tenantId: string, clientIds: readonly string[]): Promise<{ id: string; clientId: string }[]>;
    /** The application now: its URI may have changed or gone since the session ended. */
    findClient(clientId: string): Promise<{ backchannelLogoutUri: string | null } | undefined>;
  };
  readonly timeoutMs?: number;
}

export interface BackchannelReport {
  readonly delivered: number;
  readonly failed: number;
  readonly abandoned: number;
}

export function createBackchannelLogout({ db, clock, issuer, audit, network, keys, applications, timeoutMs = 5_000 }: BackchannelLogoutDeps) {
  async function logoutToken(clientId: string, userId: string, sessionId: string): Promise<string> {
    const key = await keys.currentSigningKey();
    const now = Math.floor(clock.now().getTime() / 1000);
    // §2.4: iss, aud, iat, exp, jti, sub and/or sid, events; never a nonce. `typ` per §2.4 (logout+jwt).
    return new SignJWT({ sid: sessionId, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'logout+jwt' })
      .setIssuer(issuer)
      .setAudience(clientId)
      .setSubject(userId)
      .setIssuedAt(now)
      .setExpirationTime(now + LOGOUT_TOKEN_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(key.privateKey);
  }

  /** Posts one Logout Token; null when the application took it (2xx, §2.8), else the reason kept in the outbox. */
  async function post(fetchImpl: GuardedFetch, uri: string, token: string): Promise<string | null> {
    try {
      const response = await fetchImpl(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Tessera-Backchannel-Logout', 'cache-control': 'no-store' },
        body: new URLSearchParams({ logout_token: token }).toString(),
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel().catch(() => {});
      if (response.status >= 300 && response.status < 400) return `HTTP ${response.status}: redirect not followed`;
      return response.ok ? null : `HTTP ${response.status}`;
    } catch (error) {
      return deliveryError(error);
    }
  }

  async function deliverOne(fetchImpl: GuardedFetch, claimed: store.ClaimedDelivery): Promise<'delivered' | 'failed' | 'abandoned'> {
    const entry = await db.tenantWork(claimed.tenantId, (tx) => store.findDelivery(tx, claimed.tenantId, claimed.id));
    const uri = entry ? (await applications.findClient(entry.client_id))?.backchannelLogoutUri : undefined;
    if (!entry || !uri) {
      // The application removed its URI since: nothing left to deliver to.
      await db.tenantWork(claimed.tenantId, (tx) => store.deleteDelivery(tx, claimed.tenantId, claimed.id));
      return 'delivered';
    }
    const error = await post(fetchImpl, uri, await logoutToken(entry.client_id, entry.user_id, entry.session_id));
    const now = clock.now();
    return db.tenantWork(claimed.tenantId, async (tx) => {
      if (error === null) {
        await store.deleteDelivery(tx, claimed.tenantId, claimed.id);
        return 'delivered';
      }
      if (now.getTime() - new Date(entry.created_at).getTime() >= GIVE_UP_MS) {
        await store.deleteDelivery(tx, claimed.tenantId, claimed.id);
        await audit.record(tx, claimed.tenantId, {
          action: 'application.backchannel_logout_failed',
          actor: { type: 'system', id: 'openid-provider' },
          target: { type: 'application', id: entry.application_id },
          outcome: 'failure',
          details: { clientId: entry.client_id, sessionId: entry.session_id, userId: entry.user_id, attempts: claimed.attempts, lastError: error, uri: redactUri(uri) },
        });
        return 'abandoned';
      }
      await store.rescheduleDelivery(tx, claimed.tenantId, claimed.id, new Date(now.getTime() + backchannelBackoffMs(claimed.attempts)), error);
      return 'failed';
    });
  }

  let kicked: Promise<unknown> | undefined;

  const service = {
    /** Records the deliveries for sessions that ended, in the unit of work that ended them (`sessions.ended`). */
    async sessionsEnded(tx: Tx, tenantId: string, sessions: readonly { id: string; userId: string }[]): Promise<void> {
      // The provider's grants name the session (`accountId` = `<tenant id>.<session id>`, openid-provider.service.ts).
      const userOf = new Map(sessions.map((s) => [`${tenantId}.${s.id}`, { sessionId: s.id, userId: s.userId }]));
      const grants = await store.grantsOfAccounts(tx, tenantId, [...userOf.keys()]);
      if (grants.length === 0) return;
      const targets = new Map((await applications.backchannelTargetsIn(tx, tenantId, [...new Set(grants.map((g) => g.clientId))])).map((a) => [a.clientId, a.id]));
      const deliveries = grants.flatMap((g) => {
        const applicationId = targets.get(g.clientId);
        const session = userOf.get(g.accountId);
        return applicationId && session ? [{ applicationId, clientId: g.clientId, ...session }] : [];
      });
      const queued = await store.enqueue(tx, tenantId, deliveries, () => newId(clock.now().getTime()), clock.now());
      // The instance that ended the session attempts at once, once that unit of work has committed (the pass only
      // sees committed entries; what it misses, the periodic pass delivers).
      if (queued > 0) setTimeout(() => void service.kick(), 50).unref();
    },

    /** A delivery pass now, unless one of this process is running (then that one's result). */
    kick(): Promise<unknown> {
      kicked ??= service.deliver().catch(() => undefined).finally(() => (kicked = undefined));
      return kicked;
    },

    /** One delivery pass over every tenant's due entries. */
    async deliver(): Promise<BackchannelReport> {
      const now = clock.now();
      const claimed = await db.ownerWork(async (tx) => {
        if (!(await tryAdvisoryXactLock(tx, OUTBOX_LOCK))) return [];
        return store.claimDue(tx, now, new Date(now.getTime() + LEASE_MS), CLAIM);
      });
      const report = { delivered: 0, failed: 0, abandoned: 0 };
      if (claimed.length === 0) return report;
      const guarded = guardedFetch(network, { timeoutMs, settings: APPLICATION_NETWORK_SETTINGS });
      try {
        for (const c of claimed) report[await deliverOne(guarded.fetch, c)] += 1;
      } finally {
        await guarded.close();
      }
      return report;
    },
  };
  return service;
}

export type BackchannelLogout = ReturnType<typeof createBackchannelLogout>;

/** The reason for a failed attempt in words an operator can act on (a refused address names the setting); never the token. */
function deliveryError(error: unknown): string {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && chain.length < 6; e = (e as { cause?: unknown }).cause) chain.push(e);
  const refused = chain.find((e) => e instanceof AddressRefused);
  if (refused) return `refused: ${refused.message}`;
  if (chain.some((e) => (e as Error).name === 'TimeoutError')) return 'timeout';
  const innermost = chain.at(-1);
  const code = typeof (innermost as { code?: unknown } | undefined)?.code === 'string' ? (innermost as { code: string }).code : undefined;
  return `network: ${code ?? (innermost instanceof Error ? innermost.message.slice(0, 200) : 'unknown error')}`;
}

/** The URI without its query string, which may carry a secret of the application. */
function redactUri(value: string): string {
  const url = new URL(value);
  return `${url.origin}${url.pathname}`;
}
