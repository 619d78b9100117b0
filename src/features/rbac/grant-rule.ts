import type { Database, Tx } from '../../db/database.js';
import { AppError, isAppError } from '../../kernel/app-error.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import type { Takeover, TakeoverAttempt } from '../identity/index.js';
import { RbacErrors } from './rbac.errors.js';
import type { Resolved, Source } from './resolver.js';

/**
 * The grant rule (product rule against privilege escalation: OWASP Top 10 A01:2021 "elevation of privilege",
 * CWE-269 Improper Privilege Management): nobody gives anyone, themselves included,
 * access they do not hold in the scope affected. Every path that gives access goes through `shortfall`:
 * assigning a role to a user or a group, creating or editing a role, adding a member to a group that holds
 * roles, creating an API key (and, later, SSO mapping rules and SCIM group mappings).
 *
 * - Scope. A grant in an organization is covered by a permission the granter holds in that organization or
 *   account-wide; an account-wide grant only by one held account-wide.
 * - Time. A grant until T is covered only by an assignment of the granter that lasts at least until T; a
 *   grant without end only by an assignment without end. An expiring (just-in-time) elevation cannot be
 *   turned into a permanent one, for oneself or for anyone else.
 * - Account Administrator. The system role is given only by one of its holders (it stands for every key of
 *   the catalog, including keys registered later, which no custom role can vouch for).
 * - Tenant administrators are not exempt: the tenant-administrator flag governs the directory (users,
 *   groups), not an account's permissions.
 */
export interface Grant {
  /** The account whose permissions the change gives. */
  readonly accountId: string;
  /** Permission keys the change gives. */
  readonly keys: readonly string[];
  /** The organization the keys are given in; null: the whole account. */
  readonly organizationId: string | null;
  /** The change gives the system Account Administrator role. */
  readonly accountAdmin?: boolean | undefined;
  /** Until when the change gives them; null: without end. */
  readonly until: Date | null;
}

/** What the granter lacks for a change; nothing missing and no administrator required: allowed. */
export interface Shortfall {
  readonly missing: readonly string[];
  readonly accountAdminRequired: boolean;
}

function covers(source: Source, grant: Grant): boolean {
  const inScope = source.organizationId === null || source.organizationId === grant.organizationId;
  const lasts = source.expiresAt === null || (grant.until !== null && new Date(source.expiresAt).getTime() >= grant.until.getTime());
  return inScope && lasts;
}

/** The pure rule: what of `grants` (all in `held`'s account) the holder of `held` does not hold. */
export function shortfall(held: Resolved, grants: readonly Grant[]): Shortfall {
  const missing = new Set<string>();
  let accountAdminRequired = false;
  for (const grant of grants) {
    if (grant.accountAdmin && !held.accountAdmin.some((s) => covers(s, grant))) accountAdminRequired = true;
    for (const key of grant.keys) {
      if (!(held.permissions.get(key) ?? []).some((s) => covers(s, grant))) missing.add(key);
    }
  }
  return { missing: [...missing].sort(), accountAdminRequired };
}

export function isAllowed(s: Shortfall): boolean {
  return s.missing.length === 0 && !s.accountAdminRequired;
}

/** The target's access in one account as the grants an actor acting as the target would gain. */
export function grantsHeldBy(accountId: string, held: Resolved): Grant[] {
  const until = (s: Source) => (s.expiresAt === null ? null : new Date(s.expiresAt));
  const admin = new Set(held.accountAdmin.map((s) => s.assignmentId));
  // Account Administrator stands for every key: required as the role, not key by key.
  const grants: Grant[] = held.accountAdmin.map((s) => ({ accountId, keys: [], organizationId: s.organizationId, accountAdmin: true, until: until(s) }));
  const bySource = new Map<string, { source: Source; keys: string[] }>();
  for (const [key, sources] of held.permissions) {
    for (const source of sources) {
      if (admin.has(source.assignmentId)) continue;
      const entry = bySource.get(source.assignmentId) ?? { source, keys: [] };
      entry.keys.push(key);
      bySource.set(source.assignmentId, entry);
    }
  }
  for (const { source, keys } of bySource.values()) grants.push({ accountId, keys: keys.sort(), organizationId: source.organizationId, until: until(source) });
  return grants;
}

/** What the actor lacks to act as the target; nothing: allowed. */
export interface TakeoverShortfall extends Shortfall {
  readonly tenantAdminRequired: boolean;
  /** The accounts where the actor falls short. */
  readonly accounts: readonly string[];
}

/** The pure takeover rule over the two users' access, account by account. */
export function takeoverShortfall(
  accounts: ReadonlyArray<{ readonly accountId: string; readonly actor: Resolved; readonly target: Resolved }>,
  tenantAdmin: { readonly actor: boolean; readonly target: boolean },
): TakeoverShortfall {
  const missing = new Set<string>();
  const short: string[] = [];
  let accountAdminRequired = false;
  for (const { accountId, actor, target } of accounts) {
    const s = shortfall(actor, grantsHeldBy(accountId, target));
    if (isAllowed(s)) continue;
    short.push(accountId);
    for (const key of s.missing) missing.add(key);
    accountAdminRequired ||= s.accountAdminRequired;
  }
  return { missing: [...missing].sort(), accountAdminRequired, tenantAdminRequired: tenantAdmin.target && !tenantAdmin.actor, accounts: short.sort() };
}

/** The refused change, for the audit event. */
export interface Attempt {
  /** What was refused: `role_assignment.create`, `role.create`, `role.update`, `group.member_add`, `api_key.create`, … */
  readonly change: string;
  readonly target?: { readonly type: string; readonly id: string } | null | undefined;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

interface RefusalDetail {
  readonly grantRefusal: Shortfall & { readonly accounts: readonly string[]; readonly attempt: Attempt };
}

interface TakeoverRefusalDetail {
  readonly takeoverRefusal: TakeoverShortfall & { readonly change: Takeover; readonly targetId: string };
}

function publicMessage(s: Shortfall): string {
  const parts: string[] = [];
  if (s.accountAdminRequired) parts.push('only an Account Administrator can give the Account Administrator role');
  // The keys are the caller's own shortfall: not secret to the caller.
  if (s.missing.length > 0) parts.push(`you do not hold ${s.missing.join(', ')} in the scope and for the time this change would give them`);
  return `The change would give more access than you hold: ${parts.join('; ')}.`;
}

/** The subject of a grant check: the user on whose authority the change is made. */
export interface Granter {
  readonly tenantId: string;
  readonly userId: string;
}

export interface GrantRuleDeps {
  readonly db: Database;
  readonly audit: AuditRecorder;
  /** The granter's effective access in an account, read in the caller's transaction (no cache). */
  readonly accessOf: (tx: Tx, tenantId: string, userId: string, accountId: string) => Promise<Resolved>;
  /** The accounts where the user holds any assignment that counts now, active user or not. */
  readonly accountsOf: (tx: Tx, tenantId: string, userId: string) => Promise<readonly string[]>;
}

export function createGrantRule({ db, audit, accessOf, accountsOf }: GrantRuleDeps) {
  return {
    /**
     * Throws `rbac.grant_exceeds_own_access` (403, naming what is missing) unless the granter holds all that
     * `grants` give. Call it inside the change's unit of work, before the change; run that unit of work
     * through `refusalsRecorded` so the refusal is audited.
     */
    async assertWithinOwnAccess(tx: Tx, granter: Granter, grants: readonly Grant[], attempt: Attempt): Promise<void> {
      const accounts = [...new Set(grants.map((g) => g.accountId))].sort();
      const missing = new Set<string>();
      let accountAdminRequired = false;
      for (const accountId of accounts) {
        const held = await accessOf(tx, granter.tenantId, granter.userId, accountId);
        const s = shortfall(
          held,
          grants.filter((g) => g.accountId === accountId),
        );
        for (const key of s.missing) missing.add(key);
        accountAdminRequired ||= s.accountAdminRequired;
      }
      const result: Shortfall = { missing: [...missing].sort(), accountAdminRequired };
      if (isAllowed(result)) return;
      const detail: RefusalDetail = { grantRefusal: { ...result, accounts, attempt } };
      throw new AppError(RbacErrors['rbac.grant_exceeds_own_access'], { message: publicMessage(result), detail });
    },

    /**
     * Throws `rbac.target_exceeds_own_access` (403) unless the actor may act as the target (the takeover
     * rule above). Call it inside the action's unit of work, before the change; run that unit of work
     * through `refusalsRecorded`. The public message does not name the target's access (the actor may not
     * be allowed to read it); the audit event does.
     */
    async assertMayActAs(tx: Tx, attempt: TakeoverAttempt, change: Takeover): Promise<void> {
      const accounts = [];
      for (const accountId of await accountsOf(tx, attempt.tenantId, attempt.targetId)) {
        accounts.push({ accountId, actor: await accessOf(tx, attempt.tenantId, attempt.actorId, accountId), target: await accessOf(tx, attempt.tenantId, attempt.targetId, accountId) });
      }
      const result = takeoverShortfall(accounts, { actor: attempt.actorIsTenantAdmin, target: attempt.targetIsTenantAdmin });
      if (isAllowed(result) && !result.tenantAdminRequired) return;
      const detail: TakeoverRefusalDetail = { takeoverRefusal: { ...result, change, targetId: attempt.targetId } };
      throw new AppError(RbacErrors['rbac.target_exceeds_own_access'], { detail });
    },

    /**
     * Runs a unit of work for `tenantId` that the grant or takeover rule may refuse. The refused change rolls
     * back with its unit of work, so the refusal is recorded (`access.grant.refused`,
     * `access.takeover.refused`) in a unit of work of its own, as login failures are.
     */
    async refusalsRecorded<T>(tenantId: string, actor: AuditActor, work: (tx: Tx) => Promise<T>): Promise<T> {
      try {
        return await db.tenantWork(tenantId, work);
      } catch (error) {
        if (isAppError(error) && error.code === RbacErrors['rbac.grant_exceeds_own_access']) {
          const { grantRefusal: r } = error.detail as RefusalDetail;
          await db.tenantWork(tenantId, (tx) =>
            audit.record(tx, tenantId, {
              action: 'access.grant.refused',
              actor,
              target: r.attempt.target ?? null,
              outcome: 'failure',
              errorCode: error.code,
              details: { change: r.attempt.change, accounts: r.accounts, missing: r.missing, accountAdminRequired: r.accountAdminRequired, ...r.attempt.details },
            }),
          );
        }
        if (isAppError(error) && error.code === RbacErrors['rbac.target_exceeds_own_access']) {
          const { takeoverRefusal: r } = error.detail as TakeoverRefusalDetail;
          await db.tenantWork(tenantId, (tx) =>
            audit.record(tx, tenantId, {
              action: 'access.takeover.refused',
              actor,
              target: { type: 'user', id: r.targetId },
              outcome: 'failure',
              errorCode: error.code,
              details: { change: r.change, accounts: r.accounts, missing: r.missing, accountAdminRequired: r.accountAdminRequired, tenantAdminRequired: r.tenantAdminRequired },
            }),
          );
        }
        throw error;
      }
    },
  };
}

export type GrantRule = ReturnType<typeof createGrantRule>;
