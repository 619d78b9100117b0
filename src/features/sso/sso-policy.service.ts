import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { domainRequiresSso, emailDomain, requireSsoDomains } from '../domains/index.js';
import { userRefs } from '../identity/index.js';
import type { PasswordLoginSsoPolicy, RequestMeta } from '../sessions/index.js';
import { checkAllowedOrigin } from './return-to.js';
import { SsoErrors } from './sso.errors.js';
import * as store from './sso.store.js';

type UserActor = AuditActor & { readonly type: 'user'; readonly id: string };

/** At most this many break-glass users and allowed return origins per tenant (a short, reviewable list). */
export const MAX_BREAK_GLASS_USERS = 20;
export const MAX_RETURN_ORIGINS = 20;

/** A tenant id no tenant has: discovery of an unmatched domain does the same read in no tenant. */
const NO_TENANT = '00000000-0000-0000-0000-000000000000';

export interface SsoPolicyDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  /** PUBLIC_URL: where the start and discover endpoints are. */
  readonly publicUrl: string;
  /** identity's rule (throws `identity.tenant_admin_required`): tenant-level settings and break-glass users. */
  readonly requireTenantAdmin: (tx: Tx, tenantId: string, userId: string) => Promise<void>;
  /** domains: the tenant holding the email's domain verified, none for a public mailbox domain. */
  readonly tenantForEmail: (email: string) => Promise<string | undefined>;
  /** audit: the tenant's events of one action, newest first, paged (the break-glass login list). */
  readonly listEvents: (tenantId: string, query: { filters: { action: string }; cursor?: string; limit: number }) => Promise<{ events: readonly BreakGlassEvent[]; nextCursor: string | null }>;
}

/** An audit event as the audit feature's query returns it (the fields this list reads). */
interface BreakGlassEvent {
  readonly occurredAt: string;
  readonly actor: { readonly id: string | null; readonly email: string | null; readonly ip: string | null; readonly userAgent: string | null };
  readonly details: unknown;
}

export interface DiscoveryAnswer {
  readonly method: 'sso' | 'password';
  readonly connection: { readonly id: string; readonly name: string; readonly startUrl: string } | null;
  readonly ssoRequired: boolean;
}

/**
 * Require SSO (password logins of a domain's emails refused), its break-glass users, SSO discovery and the
 * tenant's SSO settings (the returnTo allow-list). README "Require SSO, break-glass and discovery".
 */
export function createSsoPolicy({ db, clock, audit, publicUrl, requireTenantAdmin, tenantForEmail, listEvents }: SsoPolicyDeps) {
  const startUrl = (connectionId: string) => `${publicUrl}/auth/sso/start?connection=${connectionId}`;
  const discoverUrl = `${publicUrl}/auth/sso/discover`;

  async function isActiveTenantAdmin(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
    try {
      await requireTenantAdmin(tx, tenantId, userId);
      return true;
    } catch (error) {
      if (error instanceof AppError) return false;
      throw error;
    }
  }

  /** Break-glass users who can still use it: listed, active, and tenant administrators. */
  async function effectiveBreakGlass(tx: Tx, tenantId: string): Promise<string[]> {
    const out: string[] = [];
    for (const row of await store.listBreakGlass(tx, tenantId)) if (await isActiveTenantAdmin(tx, tenantId, row.user_id)) out.push(row.user_id);
    return out;
  }

  async function breakGlassView(tx: Tx, tenantId: string) {
    const rows = await store.listBreakGlass(tx, tenantId);
    const refs = new Map((await userRefs(tx, tenantId, rows.map((r) => r.user_id))).map((u) => [u.id, u]));
    const items = [];
    for (const r of rows) {
      const u = refs.get(r.user_id);
      items.push({ userId: r.user_id, email: u?.email ?? null, name: u?.name ?? null, usable: await isActiveTenantAdmin(tx, tenantId, r.user_id), addedBy: r.created_by, addedAt: new Date(r.created_at).toISOString() });
    }
    return { items };
  }

  async function allowedOrigins(tx: Tx, tenantId: string): Promise<string[]> {
    return (await store.readSettings(tx, tenantId))?.allowed_return_origins ?? [];
  }

  return {
    /** sessions' SsoPolicyPort: the policy of a password login of `email` in `tenantId` (its domain only). */
    async passwordLoginPolicy(tx: Tx, tenantId: string, email: string): Promise<PasswordLoginSsoPolicy> {
      const domain = emailDomain(email);
      if (!domain || !(await domainRequiresSso(tx, tenantId, domain))) return { kind: 'none' };
      const connection = (await store.enabledConnectionsForDomain(tx, tenantId, domain))[0];
      if (!connection) return { kind: 'lifted', domain };
      return { kind: 'enforced', domain, continueWith: { discoverUrl, connection: { ...connection, startUrl: startUrl(connection.id) } } };
    },

    /**
     * sessions' SsoPolicyPort: listed and still an active tenant administrator. Both reads run whatever the first
     * says, so a listed user costs the login step the same work as anyone else.
     */
    async isBreakGlass(tx: Tx, tenantId: string, userId: string): Promise<boolean> {
      const listed = await store.isBreakGlassUser(tx, tenantId, userId);
      const admin = await isActiveTenantAdmin(tx, tenantId, userId);
      return listed && admin;
    },

    /** domains' readiness check before Require SSO is turned on. */
    async readiness(tx: Tx, tenantId: string, domain: string): Promise<{ enabledConnections: number; breakGlassUsers: number }> {
      return { enabledConnections: (await store.enabledConnectionsForDomain(tx, tenantId, domain)).length, breakGlassUsers: (await effectiveBreakGlass(tx, tenantId)).length };
    },

    /**
     * POST /auth/sso/discover. Decided from the email's domain only, never a user look-up, so a known and an
     * unknown email of a domain get the same answer after the same work. SSO when the domain is verified for a
     * tenant (never a public mailbox domain) and an enabled connection of that tenant lists it; several: the first
     * by name (then id). Audited `sso.discovery.matched` in that tenant; an unmatched domain is audited nowhere.
     */
    async discover(email: string, meta: RequestMeta): Promise<DiscoveryAnswer> {
      const domain = emailDomain(email.trim().toLowerCase());
      const tenantId = domain ? await tenantForEmail(email.trim().toLowerCase()) : undefined;
      return db.tenantWork(tenantId ?? NO_TENANT, async (tx) => {
        const connection = domain ? (await store.enabledConnectionsForDomain(tx, tenantId ?? NO_TENANT, domain))[0] : undefined;
        if (!tenantId || !domain || !connection) return { method: 'password' as const, connection: null, ssoRequired: false };
        const ssoRequired = await domainRequiresSso(tx, tenantId, domain);
        await audit.record(tx, tenantId, {
          action: 'sso.discovery.matched',
          actor: { type: 'user', id: null, ip: meta.ip, userAgent: meta.userAgent },
          target: { type: 'sso_connection', id: connection.id },
          outcome: 'success',
          details: { domain, ssoRequired },
        });
        return { method: 'sso' as const, connection: { ...connection, startUrl: startUrl(connection.id) }, ssoRequired };
      });
    },

    listBreakGlass(tenantId: string) {
      return db.tenantWork(tenantId, (tx) => breakGlassView(tx, tenantId));
    },

    /**
     * Replaces the tenant's break-glass users. Each must be an active tenant administrator of the tenant
     * (`sso.break_glass_not_admin`); the list may not become empty while a domain requires SSO
     * (`sso.break_glass_required`: the tenant would have no way in when its IdP fails). Audited `sso.break_glass.updated`.
     */
    setBreakGlass(tenantId: string, actor: UserActor, userIds: readonly string[]) {
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const wanted = [...new Set(userIds)];
        for (const id of wanted) {
          if (!(await isActiveTenantAdmin(tx, tenantId, id))) throw new AppError(SsoErrors['sso.break_glass_not_admin'], { message: `The user ${id} is not an active tenant administrator of this tenant.` });
        }
        const before = (await store.listBreakGlass(tx, tenantId)).map((r) => r.user_id);
        if (wanted.length === 0) {
          const domains = await requireSsoDomains(tx, tenantId);
          if (domains.length > 0) throw new AppError(SsoErrors['sso.break_glass_required'], { message: `Require SSO is on for ${domains.join(', ')}: keep at least one break-glass user, or turn it off first.` });
        }
        await store.replaceBreakGlass(tx, tenantId, wanted, actor.id, clock.now());
        const added = wanted.filter((id) => !before.includes(id));
        const removed = before.filter((id) => !wanted.includes(id));
        if (added.length > 0 || removed.length > 0) {
          await audit.record(tx, tenantId, { action: 'sso.break_glass.updated', actor, target: { type: 'tenant', id: tenantId }, outcome: 'success', details: { added, removed } });
        }
        return breakGlassView(tx, tenantId);
      });
    },

    /** Every break-glass login of the tenant, newest first (from the audit log), for tenant administrators. */
    async breakGlassLogins(tenantId: string, actor: UserActor, query: { cursor?: string | undefined; limit: number }) {
      await db.tenantWork(tenantId, (tx) => requireTenantAdmin(tx, tenantId, actor.id));
      const page = await listEvents(tenantId, { filters: { action: 'sso.login.break_glass' }, limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) });
      return {
        items: page.events.map((e) => ({ userId: e.actor.id, email: e.actor.email, ip: e.actor.ip, userAgent: e.actor.userAgent, at: e.occurredAt, amr: ((e.details as { amr?: string[] } | null)?.amr ?? []) })),
        nextCursor: page.nextCursor,
      };
    },

    async settings(tenantId: string) {
      return { allowedReturnOrigins: await db.tenantWork(tenantId, (tx) => allowedOrigins(tx, tenantId)) };
    },

    /** The tenant's SSO settings (`sso.settings.updated`): origins normalised and checked (https, localhost excepted). */
    updateSettings(tenantId: string, actor: UserActor, input: { allowedReturnOrigins: readonly string[] }) {
      const origins = [...new Set(input.allowedReturnOrigins.map((o) => checkAllowedOrigin(o)))];
      if (origins.length > MAX_RETURN_ORIGINS) throw new AppError(SsoErrors['sso.invalid_return_origin'], { message: `At most ${MAX_RETURN_ORIGINS} origins.` });
      return db.tenantWork(tenantId, async (tx) => {
        await requireTenantAdmin(tx, tenantId, actor.id);
        const before = await allowedOrigins(tx, tenantId);
        await store.upsertSettings(tx, tenantId, origins, actor.id, clock.now());
        await audit.record(tx, tenantId, { action: 'sso.settings.updated', actor, target: { type: 'tenant', id: tenantId }, outcome: 'success', details: { before: { allowedReturnOrigins: before }, after: { allowedReturnOrigins: origins } } });
        return { allowedReturnOrigins: origins };
      });
    },

    /** The origins a sign-in of the tenant may return to besides PUBLIC_URL's (the sign-in's returnTo check). */
    allowedReturnOrigins(tenantId: string): Promise<string[]> {
      return db.tenantWork(tenantId, (tx) => allowedOrigins(tx, tenantId));
    },
  };
}

export type SsoPolicy = ReturnType<typeof createSsoPolicy>;
