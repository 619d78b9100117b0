import { createHash } from 'node:crypto';
import { randomToken } from '../../crypto/random.js';
import { advisoryXactLock, tryAdvisoryXactLock } from '../../db/advisory-lock.js';
import type { Database, Tx } from '../../db/database.js';
import { isForeignKeyViolation, isUniqueViolation } from '../../db/pg-errors.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { KernelErrors } from '../../kernel/errors.js';
import { newId } from '../../kernel/ids.js';
import { actingUserId, type AuditActor, type AuditRecorder, type ConfiguringActor } from '../audit/index.js';
import type { DnsOutcome, TxtLookup } from './dns-check.js';
import { emailDomain, normaliseDomain, verificationRecordName, verificationRecordValue } from './domain-name.js';
import { DomainErrors } from './domains.errors.js';
import * as store from './domains.store.js';
import { isPublicMailboxDomain } from './public-mailboxes.js';
import { type JobLog, type PeriodicJob, startPeriodicJob } from '../../kernel/periodic-job.js';

export interface DomainInfo {
  readonly id: string;
  readonly domain: string;
  readonly status: 'pending' | 'verified';
  readonly verifiedAt: string | null;
  readonly verifiedBy: 'dns' | 'operator' | null;
  readonly lastCheckedAt: string | null;
  readonly createdAt: string;
  /** Password logins of the domain's emails are refused (`sso_required`) while an enabled connection serves it. */
  readonly requireSso: boolean;
  /** The record to publish: a TXT record named `name` whose value is `value`. */
  readonly verification: { readonly type: 'TXT'; readonly name: string; readonly value: string };
}

/** How often the re-check job looks at a domain (defaults documented in the README "Verified domains"). */
export interface RecheckPolicy {
  /** A verified domain: every 24 h. */
  readonly verifiedEveryMs: number;
  /** A pending domain, and a verified one after a failed check or an unanswered query: every hour. */
  readonly retryEveryMs: number;
  /** A pending domain is checked by the job for 7 days after it was added (then only by a request to verify it). */
  readonly pendingForMs: number;
  /** Consecutive failed checks after which a verified domain is unverified: 3. */
  readonly maxFailures: number;
}

export const DEFAULT_RECHECK: RecheckPolicy = { verifiedEveryMs: 24 * 3_600_000, retryEveryMs: 3_600_000, pendingForMs: 7 * 24 * 3_600_000, maxFailures: 3 };

export interface DomainsDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  readonly txt: TxtLookup;
  /** The tenant-administrator rule for tenant-level settings (identity feature). */
  readonly requireTenantAdmin: (tx: Tx, tenantId: string, userId: string) => Promise<void>;
  /** Public mailbox domains the operator adds to the shipped list (TESSERA_PUBLIC_MAILBOX_DOMAINS). */
  readonly extraPublicMailboxDomains?: readonly string[];
  readonly recheck?: Partial<RecheckPolicy>;
  /**
   * The sso feature's readiness for Require SSO on `domain` (wired in app.ts: sso depends on domains): its enabled
   * connections listing the domain, and its break-glass users who are active tenant administrators.
   */
  readonly ssoReadiness?: (tx: Tx, tenantId: string, domain: string) => Promise<{ enabledConnections: number; breakGlassUsers: number }>;
}

/** A signed-in tenant administrator, or a setup link acting within what its creator holds (audit.types.ts). */
type UserActor = ConfiguringActor;
type CheckResult = 'verified' | 'taken' | 'absent' | 'unavailable' | 'gone';

/** The re-check job, one instance at a time on PostgreSQL (DESIGN §4 jobs: transaction-scoped advisory lock). */
const RECHECK_LOCK = 7_430_117_012;
/** Verifications of one domain name, serialised across tenants and instances (a per-name advisory lock). */
const DOMAIN_LOCK_BASE = 7_431_000_000_000;
const JOB_ACTOR = { type: 'system', id: 'domain-verification' } as const;

function domainLock(domain: string): number {
  return DOMAIN_LOCK_BASE + createHash('sha256').update(domain).digest().readUInt32BE(0);
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function toInfo(row: store.DomainRow): DomainInfo {
  return {
    id: row.id,
    domain: row.domain,
    status: row.status,
    verifiedAt: iso(row.verified_at),
    verifiedBy: row.verified_by,
    lastCheckedAt: iso(row.last_checked_at),
    createdAt: iso(row.created_at)!,
    requireSso: row.require_sso,
    verification: { type: 'TXT', name: verificationRecordName(row.domain), value: verificationRecordValue(row.token) },
  };
}

/** The tenant holding `domain` verified, or undefined, in the caller's unit of work (any tenant's, or a global one). */
export function verifiedDomainOwner(tx: Tx, domain: string): Promise<string | undefined> {
  const normalised = normaliseDomain(domain);
  return normalised ? store.verifiedDomainOwner(tx, normalised) : Promise.resolve(undefined);
}

/** The tenant's own verified domain `domain` has Require SSO on, in the caller's unit of work (the login pipeline's policy). */
export async function domainRequiresSso(tx: Tx, tenantId: string, domain: string): Promise<boolean> {
  const row = await store.findDomainByName(tx, tenantId, domain);
  return row !== undefined && row.status === 'verified' && row.require_sso;
}

/** The tenant's verified domains with Require SSO on, in the caller's unit of work. */
export function requireSsoDomains(tx: Tx, tenantId: string): Promise<string[]> {
  return store.requireSsoDomains(tx, tenantId);
}

export function createDomainsService({ db, clock, audit, txt, requireTenantAdmin, extraPublicMailboxDomains = [], recheck = {}, ssoReadiness }: DomainsDeps) {
  const policy: RecheckPolicy = { ...DEFAULT_RECHECK, ...recheck };
  const extraPublic: ReadonlySet<string> = new Set(extraPublicMailboxDomains.map((d) => normaliseDomain(d) ?? d.trim().toLowerCase()));
  const isPublicMailbox = (domain: string) => isPublicMailboxDomain(domain, extraPublic);
  /** The tenant-administrator rule, for the user the actor acts as (a setup link: its creator, now; none for the operator's). */
  const requireAdmin = async (tx: Tx, tenantId: string, actor: UserActor): Promise<void> => {
    const userId = actingUserId(actor);
    if (userId !== null) await requireTenantAdmin(tx, tenantId, userId);
  };

  /** A normalised, acceptable domain, or the refusal. */
  function acceptable(input: string): string {
    const domain = normaliseDomain(input);
    if (!domain) throw new AppError(DomainErrors['domain.invalid']);
    if (isPublicMailbox(domain)) throw new AppError(DomainErrors['domain.public_mailbox'], { detail: { domain } });
    return domain;
  }

  async function insert(tx: Tx, tenantId: string, actor: AuditActor, domain: string): Promise<store.DomainRow> {
    if (await store.findDomainByName(tx, tenantId, domain)) throw new AppError(DomainErrors['domain.exists']);
    const now = clock.now();
    const id = newId(now.getTime());
    // 256 bits, URL-safe: the value cannot be guessed before the tenant publishes it.
    const token = randomToken(32);
    await store.insertDomain(tx, tenantId, { id, domain, token, createdBy: actor.type === 'user' ? actor.id : actor.type === 'setup_link' ? actor.onBehalfOf : null, now, nextCheckAt: new Date(now.getTime() + policy.retryEveryMs) });
    await audit.record(tx, tenantId, { action: 'domain.added', actor, target: { type: 'domain', id }, outcome: 'success', details: { domain } });
    return (await store.findDomain(tx, tenantId, id))!;
  }

  /**
   * Applies one DNS outcome to a locked row, with its audit events. Only this row changes: adding, removing
   * or checking a domain never touches another domain's verification.
   */
  async function applyCheck(tx: Tx, tenantId: string, row: store.DomainRow, outcome: DnsOutcome, actor: AuditActor, byRequest: boolean): Promise<CheckResult> {
    const now = clock.now();
    const at = (ms: number) => new Date(now.getTime() + ms);
    const target = { type: 'domain', id: row.id };
    const pendingNext = () => (byRequest || now.getTime() - new Date(row.created_at).getTime() < policy.pendingForMs ? at(policy.retryEveryMs) : null);
    const keep = { status: row.status, verifiedAt: row.verified_at, verifiedBy: row.verified_by, failures: row.failures, lastCheckedAt: row.last_checked_at };

    if (outcome === 'unavailable') {
      // No answer says nothing about the domain: no failure is counted; try again soon.
      await store.updateCheck(tx, tenantId, row.id, { ...keep, nextCheckAt: row.status === 'verified' ? at(policy.retryEveryMs) : pendingNext() });
      return 'unavailable';
    }
    if (outcome === 'found') {
      if (row.status === 'verified') {
        await store.updateCheck(tx, tenantId, row.id, { ...keep, failures: 0, lastCheckedAt: now, nextCheckAt: at(policy.verifiedEveryMs) });
        return 'verified';
      }
      // One tenant holds a domain verified (the unique index of migration 0012 is the last word).
      await advisoryXactLock(tx, domainLock(row.domain));
      const owner = await store.verifiedDomainOwner(tx, row.domain);
      if (owner !== undefined && owner !== tenantId) {
        await store.updateCheck(tx, tenantId, row.id, { ...keep, lastCheckedAt: now, nextCheckAt: pendingNext() });
        if (byRequest) await audit.record(tx, tenantId, { action: 'domain.verification_failed', actor, target, outcome: 'failure', errorCode: DomainErrors['domain.taken'], details: { domain: row.domain } });
        return 'taken';
      }
      await store.updateCheck(tx, tenantId, row.id, { status: 'verified', verifiedAt: now, verifiedBy: 'dns', failures: 0, lastCheckedAt: now, nextCheckAt: at(policy.verifiedEveryMs) });
      await audit.record(tx, tenantId, { action: 'domain.verified', actor, target, outcome: 'success', details: { domain: row.domain, method: 'dns' } });
      return 'verified';
    }
    // The record is absent.
    if (row.status === 'verified') {
      const failures = row.failures + 1;
      await audit.record(tx, tenantId, { action: 'domain.verification_failed', actor, target, outcome: 'failure', errorCode: DomainErrors['domain.verification_failed'], details: { domain: row.domain, failures, of: policy.maxFailures } });
      if (failures < policy.maxFailures) {
        await store.updateCheck(tx, tenantId, row.id, { ...keep, failures, lastCheckedAt: now, nextCheckAt: at(policy.retryEveryMs) });
      } else {
        await store.updateCheck(tx, tenantId, row.id, { status: 'pending', verifiedAt: null, verifiedBy: null, failures: 0, lastCheckedAt: now, nextCheckAt: at(policy.retryEveryMs) });
        await audit.record(tx, tenantId, { action: 'domain.unverified', actor, target, outcome: 'success', details: { domain: row.domain, failures } });
      }
      return 'absent';
    }
    await store.updateCheck(tx, tenantId, row.id, { ...keep, lastCheckedAt: now, nextCheckAt: pendingNext() });
    if (byRequest) await audit.record(tx, tenantId, { action: 'domain.verification_failed', actor, target, outcome: 'failure', errorCode: DomainErrors['domain.verification_failed'], details: { domain: row.domain } });
    return 'absent';
  }

  /** Looks the record up (outside any transaction: DNS may take seconds), then applies it to the row. */
  async function check(tenantId: string, id: string, actor: AuditActor, byRequest: boolean): Promise<{ result: CheckResult; row?: store.DomainRow }> {
    const before = await db.tenantWork(tenantId, (tx) => store.findDomain(tx, tenantId, id));
    if (!before) return { result: 'gone' };
    const outcome = await txt.check(before.domain, before.token);
    try {
      return await db.tenantWork(tenantId, async (tx) => {
        const row = await store.lockDomain(tx, tenantId, id);
        if (!row || row.token !== before.token) return { result: 'gone' as const };
        const result = await applyCheck(tx, tenantId, row, outcome, actor, byRequest);
        return { result, row: (await store.findDomain(tx, tenantId, id))! };
      });
    } catch (error) {
      if (isUniqueViolation(error)) return { result: 'taken' };
      throw error;
    }
  }

  function refusalOf(result: CheckResult): AppError | undefined {
    switch (result) {
      case 'verified':
        return undefined;
      case 'taken':
        return new AppError(DomainErrors['domain.taken']);
      case 'absent':
        return new AppError(DomainErrors['domain.verification_failed']);
      case 'unavailable':
        return new AppError(DomainErrors['domain.dns_unavailable']);
      case 'gone':
        return new AppError(KernelErrors.not_found, { message: 'No such domain.' });
    }
  }

  async function recheckDue({ batch = 100 } = {}): Promise<{ checked: number } | null> {
    const run = async () => {
      let checked = 0;
      const seen = new Set<string>();
      for (;;) {
        const due = (await db.globalWork((tx) => store.dueDomains(tx, clock.now(), batch))).filter((d) => !seen.has(d.id));
        for (const d of due) {
          seen.add(d.id);
          await check(d.tenant_id, d.id, JOB_ACTOR, false);
          checked++;
        }
        if (due.length === 0) return { checked };
      }
    };
    // The embedded database has one process: no other instance to exclude (and one connection to hold).
    if (db.engine === 'pglite') return run();
    return db.globalWork(async (tx) => ((await tryAdvisoryXactLock(tx, RECHECK_LOCK)) ? run() : null));
  }

  return {
    isPublicMailbox,

    async listDomains(tenantId: string): Promise<DomainInfo[]> {
      return (await db.tenantWork(tenantId, (tx) => store.listDomains(tx, tenantId))).map(toInfo);
    },

    async getDomain(tenantId: string, id: string): Promise<DomainInfo> {
      const row = await db.tenantWork(tenantId, (tx) => store.findDomain(tx, tenantId, id));
      if (!row) throw new AppError(KernelErrors.not_found, { message: 'No such domain.' });
      return toInfo(row);
    },

    /** Adds a pending domain. Another tenant may hold it verified: it stays pending here until released. */
    async addDomain(tenantId: string, actor: UserActor, input: { domain: string }): Promise<DomainInfo> {
      const domain = acceptable(input.domain);
      try {
        return toInfo(
          await db.tenantWork(tenantId, async (tx) => {
            await requireAdmin(tx, tenantId, actor);
            return insert(tx, tenantId, actor, domain);
          }),
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError(DomainErrors['domain.exists']);
        throw error;
      }
    },

    /** Checks the TXT record now; a failure is recorded (committed) and then refused with its code. */
    async verifyDomain(tenantId: string, actor: UserActor, id: string): Promise<DomainInfo> {
      await db.tenantWork(tenantId, (tx) => requireAdmin(tx, tenantId, actor));
      const { result, row } = await check(tenantId, id, actor, true);
      const refusal = refusalOf(result);
      if (refusal) throw refusal;
      return toInfo(row!);
    },

    /**
     * Require SSO on or off (product rule: a misconfigured IdP must never lock the tenant out). On needs a
     * verified domain (`domain.not_verified`), an enabled connection of the tenant listing it and a break-glass
     * user (`domain.require_sso_unavailable`); off is always allowed. Audited `domain.require_sso.enabled|disabled`.
     */
    async setRequireSso(tenantId: string, actor: UserActor, id: string, requireSso: boolean): Promise<DomainInfo> {
      return db.tenantWork(tenantId, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        const row = await store.lockDomain(tx, tenantId, id);
        if (!row) throw new AppError(KernelErrors.not_found, { message: 'No such domain.' });
        if (row.require_sso === requireSso) return toInfo(row);
        if (requireSso) {
          if (row.status !== 'verified') throw new AppError(DomainErrors['domain.not_verified']);
          const ready = ssoReadiness ? await ssoReadiness(tx, tenantId, row.domain) : { enabledConnections: 0, breakGlassUsers: 0 };
          const missing = [...(ready.enabledConnections === 0 ? ['an enabled SSO connection listing this domain'] : []), ...(ready.breakGlassUsers === 0 ? ['a break-glass user (PUT /api/v1/sso/break-glass)'] : [])];
          if (missing.length > 0) throw new AppError(DomainErrors['domain.require_sso_unavailable'], { message: `Require SSO cannot be turned on: the tenant needs ${missing.join(' and ')}.`, detail: ready });
        }
        await store.setRequireSso(tx, tenantId, id, requireSso);
        await audit.record(tx, tenantId, { action: requireSso ? 'domain.require_sso.enabled' : 'domain.require_sso.disabled', actor, target: { type: 'domain', id }, outcome: 'success', details: { domain: row.domain } });
        return toInfo((await store.findDomain(tx, tenantId, id))!);
      });
    },

    async removeDomain(tenantId: string, actor: UserActor, id: string): Promise<void> {
      await db.tenantWork(tenantId, async (tx) => {
        await requireAdmin(tx, tenantId, actor);
        const row = await store.findDomain(tx, tenantId, id);
        if (!row || !(await store.deleteDomain(tx, tenantId, id))) throw new AppError(KernelErrors.not_found, { message: 'No such domain.' });
        await audit.record(tx, tenantId, { action: 'domain.removed', actor, target: { type: 'domain', id }, outcome: 'success', details: { domain: row.domain, wasVerified: row.status === 'verified' } });
      });
    },

    /**
     * The operator's command (`tessera domains verify`): adds the domain to the tenant when missing, then
     * checks DNS, or with `force` marks it verified without DNS (`domain.force_verified`). The one-tenant rule
     * and the public mailbox list hold either way.
     */
    async operatorVerify(tenantId: string, actor: AuditActor, input: { domain: string; force: boolean }): Promise<DomainInfo> {
      const domain = acceptable(input.domain);
      let row: store.DomainRow;
      try {
        row = await db.tenantWork(tenantId, async (tx) => (await store.findDomainByName(tx, tenantId, domain)) ?? insert(tx, tenantId, actor, domain));
      } catch (error) {
        if (isForeignKeyViolation(error)) throw new AppError(KernelErrors.not_found, { message: 'No such tenant.' });
        throw error;
      }
      if (!input.force) {
        const { result, row: after } = await check(tenantId, row.id, actor, true);
        const refusal = refusalOf(result);
        if (refusal) throw refusal;
        return toInfo(after!);
      }
      try {
        return toInfo(
          await db.tenantWork(tenantId, async (tx) => {
            await advisoryXactLock(tx, domainLock(domain));
            const owner = await store.verifiedDomainOwner(tx, domain);
            if (owner !== undefined && owner !== tenantId) throw new AppError(DomainErrors['domain.taken']);
            const now = clock.now();
            await store.updateCheck(tx, tenantId, row.id, { status: 'verified', verifiedAt: now, verifiedBy: 'operator', failures: 0, lastCheckedAt: row.last_checked_at, nextCheckAt: null });
            await audit.record(tx, tenantId, { action: 'domain.force_verified', actor, target: { type: 'domain', id: row.id }, outcome: 'success', details: { domain } });
            return (await store.findDomain(tx, tenantId, row.id))!;
          }),
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError(DomainErrors['domain.taken']);
        throw error;
      }
    },

    /**
     * The operator's escape hatch (`tessera domains lift-require-sso`): turns Require SSO off for a domain of the
     * tenant without a tenant administrator — for a tenant whose IdP is broken and whose break-glass users are gone
     * (product rule: a misconfigured IdP must never lock the tenant out). Audited `domain.require_sso.disabled`
     * with the operator as actor.
     */
    async operatorLiftRequireSso(tenantId: string, actor: AuditActor, input: { domain: string }): Promise<DomainInfo> {
      const domain = acceptable(input.domain);
      return db.tenantWork(tenantId, async (tx) => {
        const found = await store.findDomainByName(tx, tenantId, domain);
        const row = found && (await store.lockDomain(tx, tenantId, found.id));
        if (!row) throw new AppError(KernelErrors.not_found, { message: `The tenant has no domain ${domain}.` });
        if (!row.require_sso) return toInfo(row);
        await store.setRequireSso(tx, tenantId, row.id, false);
        await audit.record(tx, tenantId, { action: 'domain.require_sso.disabled', actor, target: { type: 'domain', id: row.id }, outcome: 'success', details: { domain: row.domain, by: 'operator' } });
        return toInfo((await store.findDomain(tx, tenantId, row.id))!);
      });
    },

    /** The tenant holding `domain` verified, or undefined (any unit of work; see verifiedDomainOwner). */
    ownerOf(domain: string): Promise<string | undefined> {
      return db.globalWork((tx) => verifiedDomainOwner(tx, domain));
    },

    /**
     * The tenant a tenant-less login of `email` goes to: the one holding the email's domain verified (at most
     * one, by the unique index); none for a public mailbox domain, which is never verified.
     */
    async tenantForEmail(email: string): Promise<string | undefined> {
      const domain = emailDomain(email);
      if (!domain || isPublicMailbox(domain)) return undefined;
      return db.globalWork((tx) => store.verifiedDomainOwner(tx, domain));
    },

    /** One pass of the re-check job over every due domain; null when another instance holds the job. */
    recheckDue,

    /** The re-check job, started and stopped by `serve` (first pass a minute after start, then every 15 min). */
    startJobs({ log, intervalMs = 15 * 60_000, firstMs = 60_000 }: { log: JobLog; intervalMs?: number; firstMs?: number }): PeriodicJob {
      return startPeriodicJob('domain-recheck', async () => {
        const r = await recheckDue();
        return r ? { checked: r.checked } : null;
      }, { log, intervalMs, firstMs });
    },
  };
}

export type DomainsService = ReturnType<typeof createDomainsService>;
