import type { Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import { KernelErrors } from '../../kernel/errors.js';
import { findUserRef, groupsOfUser, type GroupRef } from '../identity/index.js';
import { accountNames, organizationsOf } from '../tenants/index.js';
import type { CatalogService } from './catalog.service.js';
import type { LocalChanges, RbacDeps } from './rbac.ports.js';
import { type GrantRow } from './rbac.store.js';
import * as store from './rbac.store.js';
import { grantingSources, type Resolved, resolve, type Source } from './resolver.js';

/** The caller as the guard sees it: the session's facts read on this request (DESIGN §3 step 2). */
export interface CheckContext {
  readonly tenantId: string;
  readonly userId: string;
  readonly accountId: string;
  /** The account's authorization epoch read with the session; absent: no caching. */
  readonly authzEpoch?: number | undefined;
}

interface Entry {
  readonly epoch: number;
  readonly generation: number;
  readonly resolved: Resolved;
}

export interface Decision {
  readonly allowed: boolean;
  readonly reason: string;
  readonly sources: readonly Source[];
}

/**
 * Effective permissions (DESIGN §3 step 3): cached per (user, account, epoch); an entry also ends at the
 * earliest `expires_at` of the assignments it was built from, so an expiring assignment stops counting at
 * that exact instant.
 */
export function createAccessService({ db, clock }: RbacDeps, local: LocalChanges, catalog: CatalogService, { maxEntries = 50_000 } = {}) {
  const cache = new Map<string, Entry>();

  /**
   * The assignments that count for the user now, each named by its group: one read of the user's groups
   * (identity owns them), one of the assignments (DESIGN §3 step 3, on a cache miss only).
   */
  async function grantsOf(tx: Tx, tenantId: string, userId: string, accountId: string | undefined): Promise<GrantRow[]> {
    const groups: GroupRef[] = await groupsOfUser(tx, tenantId, userId);
    const names = new Map(groups.map((g) => [g.id, g.name]));
    const rows = await store.grantsOfUser(
      tx,
      tenantId,
      userId,
      groups.map((g) => g.id),
      accountId,
      clock.now(),
    );
    return rows.map((r) => ({ ...r, group_name: r.group_id ? (names.get(r.group_id) ?? null) : null }));
  }

  async function compute(tx: Tx, tenantId: string, userId: string, accountId: string): Promise<Resolved> {
    const grants = await grantsOf(tx, tenantId, userId, accountId);
    const keys = grants.some((g) => g.system_key) ? await catalog.allKeys(tx, accountId) : [];
    return resolve(grants, keys);
  }

  async function resolved(ctx: CheckContext): Promise<Resolved> {
    const key = `${ctx.tenantId}/${ctx.userId}/${ctx.accountId}`;
    const now = clock.now().getTime();
    const hit = cache.get(key);
    if (hit && ctx.authzEpoch !== undefined && hit.epoch === ctx.authzEpoch && hit.generation === local.generation && now < hit.resolved.validUntil) return hit.resolved;
    const started = local.generation;
    const result = await db.tenantWork(ctx.tenantId, (tx) => compute(tx, ctx.tenantId, ctx.userId, ctx.accountId));
    if (ctx.authzEpoch !== undefined && started === local.generation) {
      if (cache.size >= maxEntries && !cache.has(key)) cache.delete(cache.keys().next().value!);
      cache.set(key, { epoch: ctx.authzEpoch, generation: started, resolved: result });
    }
    return result;
  }

  function decide(r: Resolved, permission: string, org: string | null | undefined): Decision {
    const sources = grantingSources(r, permission, org);
    if (sources.length > 0) {
      const s = sources[0]!;
      return { allowed: true, reason: `${permission} granted by role ${s.role} (${s.source}${s.organizationId ? `, organization ${s.organizationId}` : ''})`, sources };
    }
    const scopedOnly = (r.permissions.get(permission) ?? []).length > 0;
    return { allowed: false, reason: scopedOnly ? `${permission} is granted only in other organizations` : `no active assignment grants ${permission}`, sources: [] };
  }

  async function userOrThrow(tx: Tx, tenantId: string, userId: string) {
    const user = await findUserRef(tx, tenantId, userId);
    if (!user) throw new AppError(KernelErrors.not_found, { message: 'No such user.' });
    return user;
  }

  return {
    /** The HTTP guard's check: does the caller hold `permission` (account-wide) in its session's account? */
    async has(ctx: CheckContext, permission: string): Promise<boolean> {
      return grantingSources(await resolved(ctx), permission, null).length > 0;
    },

    /** One authorization decision with its reason (authz/check). */
    async check(ctx: CheckContext, permission: string, org?: string | null): Promise<Decision> {
      return decide(await resolved(ctx), permission, org);
    },

    /** The resolver alone, without cache (benchmarks, explain). */
    compute,

    /** A user of the tenant as access control names it (authz/check), in a unit of work of its own. */
    findUser(tenantId: string, userId: string) {
      return db.tenantWork(tenantId, (tx) => findUserRef(tx, tenantId, userId));
    },

    /** The accounts where the user holds an assignment that counts now (directly or through a group), active or not. */
    async accountsOf(tx: Tx, tenantId: string, userId: string): Promise<string[]> {
      const grants = await grantsOf(tx, tenantId, userId, undefined);
      return [...new Set(grants.map((g) => g.account_id))].sort();
    },

    /** Every account and organization the user can access, each permission with its sources. */
    effectiveAccess(tenantId: string, userId: string) {
      return db.tenantWork(tenantId, async (tx) => {
        const user = await userOrThrow(tx, tenantId, userId);
        const grants = user.active ? await grantsOf(tx, tenantId, userId, undefined) : [];
        const accountIds = [...new Set(grants.map((g) => g.account_id))];
        const orgs = await organizationsOf(tx, accountIds);
        const names = new Map((await accountNames(tx, accountIds)).map((a) => [a.id, a.name]));
        const accounts = [];
        for (const accountId of accountIds) {
          const mine = grants.filter((g) => g.account_id === accountId);
          const keys = mine.some((g) => g.system_key) ? await catalog.allKeys(tx, accountId) : [];
          const r = resolve(mine, keys);
          const accountWide = mine.some((g) => g.organization_id === null);
          const inAccount = orgs.filter((o) => o.account_id === accountId);
          const reachable = accountWide ? inAccount : inAccount.filter((o) => mine.some((g) => g.organization_id === o.id));
          accounts.push({
            accountId,
            name: names.get(accountId) ?? '',
            organizations: reachable.map((o) => ({ id: o.id, name: o.name })),
            permissions: [...r.permissions.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, sources]) => ({ key, sources: [...sources] })),
          });
        }
        return { userId, accounts };
      });
    },

    /** Why a user has (or lacks) a permission: user → group → assignment → role → permission, or what is missing. */
    explain(tenantId: string, accountId: string, input: { userId: string; permission: string; org?: string | undefined }) {
      return db.tenantWork(tenantId, async (tx) => {
        const user = await userOrThrow(tx, tenantId, input.userId);
        const r = await compute(tx, tenantId, input.userId, accountId);
        const d = decide(r, input.permission, input.org);
        const chains = d.sources.map((s) => ({
          user: { id: user.id, email: user.email },
          group: s.groupId ? { id: s.groupId, name: s.source.slice('group:'.length) } : null,
          assignment: { id: s.assignmentId, expiresAt: s.expiresAt, managedBy: s.managedBy },
          role: { id: s.roleId, name: s.role, organizationId: s.organizationId },
          permission: input.permission,
        }));
        let missing: string | null = null;
        if (!user.active) missing = 'The user is deactivated: no assignment counts.';
        else if (!d.allowed) {
          const roles = [...new Set([...r.permissions.values()].flat().map((s) => s.role))];
          missing = `No role assigned to the user (directly or through a group) grants ${input.permission}${input.org ? ` in organization ${input.org}` : ''}. Roles held: ${roles.length > 0 ? roles.join(', ') : 'none'}.`;
        }
        return { userId: user.id, permission: input.permission, org: input.org ?? null, allowed: user.active && d.allowed, reason: missing ?? d.reason, chains: user.active ? chains : [], missing };
      });
    },
  };
}

export type AccessService = ReturnType<typeof createAccessService>;
