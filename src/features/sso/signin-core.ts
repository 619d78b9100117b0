import { randomUUID } from 'node:crypto';
import type { Database, Tx } from '../../db/database.js';
import type { MasterKeys } from '../../crypto/master-key.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import { actingUserId, type AuditActor, type AuditRecorder, type ConfiguringActor } from '../audit/index.js';
import { emailDomain, verifiedDomainOwner } from '../domains/index.js';
import { findLoginUserById } from '../identity/index.js';
import { type ManagedSync, RbacErrors } from '../rbac/index.js';
import type { AuthenticatedUser, LoginResult, RequestMeta } from '../sessions/index.js';
import { acceptReturnTo } from './return-to.js';
import { evaluateRules, type Evaluation, type RoleRule, type RulesMode } from './role-rules.js';
import { SsoErrors } from './sso.errors.js';
import { createCookieSealer, RESULT_TTL_SECONDS, type SsoTestTicket, TEST_TTL_SECONDS } from './sso-transaction.js';
import * as store from './sso.store.js';

export type SignInCode = 'sso_expired' | 'sso_state' | 'sso_config' | 'sso_disabled' | 'sso_signature' | 'sso_replay' | 'sso_audience' | 'sso_domain' | 'sso_mfa_required' | 'sso_user_inactive';

/** A refused sign-in: its code, and where the browser goes back to (the transaction's returnTo, when known). */
export class SignInRefused extends Error {
  constructor(
    readonly code: SignInCode,
    message: string,
    readonly returnTo: string | null = null,
    /** Set when the refused sign-in was a "Test connection" dry run: the browser lands with `?ssoTest=`. */
    readonly testId: string | null = null,
  ) {
    super(message);
  }
}

export const refused = (code: SignInCode, message: string) => new SignInRefused(code, message);

type Claims = Readonly<Record<string, unknown>>;

/** What every protocol's sign-in needs besides its own protocol work. */
export interface SignInCoreDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  readonly masterKeys: MasterKeys;
  /** PUBLIC_URL: the protocol endpoints are built on it, and `returnTo` may be on its origin. */
  readonly publicUrl: string;
  /** The tenant's SSO settings: further origins its sign-ins may return to. */
  readonly allowedReturnOrigins: (tenantId: string) => Promise<string[]>;
  /** identity: creates a user without a password in the caller's unit of work. */
  readonly createUser: (tx: Tx, tenantId: string, input: { email: string; name?: string | null }) => Promise<{ id: string }>;
  readonly findUserByEmail: (tx: Tx, tenantId: string, email: string) => Promise<{ id: string; email: string; active: boolean } | undefined>;
  /** rbac: makes the user's assignments the connection manages exactly `roleIds`, through the grant rule (managed-assignments.ts). */
  readonly syncManagedRoles: (tx: Tx, tenantId: string, input: { userId: string | null; managedBy: string; roleIds: readonly string[]; granterId: string | null; dryRun?: boolean }) => Promise<ManagedSync>;
  /** identity's rule: "Test connection" is for tenant administrators. */
  readonly requireTenantAdmin: (tx: Tx, tenantId: string, userId: string) => Promise<void>;
  /** sessions: the login pipeline after a first factor. */
  readonly loginWithIdentitySource: (tenantId: string, resolve: (tx: Tx) => Promise<AuthenticatedUser>, meta: RequestMeta) => Promise<LoginResult>;
  /** sessions: spends a one-time id in the table every instance shares; false when it was spent before. */
  readonly spendOnce: (tenantId: string, id: string, expiresAt: Date) => Promise<boolean>;
}

/** The sign-in under way, whatever the protocol: whose, through which connection, back to where, a test or not. */
export interface SignInFlow {
  readonly tenantId: string;
  readonly connectionId: string;
  readonly returnTo: string | null;
  /** A "Test connection" dry run, started by a tenant administrator (`userId`) or a setup link (`by`, its id in `userId`). */
  readonly test?: { readonly testId: string; readonly userId: string; readonly by?: 'setup_link' | undefined } | undefined;
}

/** What the IdP asserted, once the protocol verified it (id_token + userinfo, or the signed SAML assertion). */
export interface Asserted {
  /** The IdP's stable id of the user (OIDC `sub`, SAML NameID): the link to the Tessera user. */
  readonly subject: string;
  /** What the rules see (OIDC claims, SAML attributes) and the test records. */
  readonly claims: Claims;
  /** The email, already required present (and verified where the protocol says so). */
  readonly email: string;
  /** The IdP asserted a second factor the connection accepts. */
  readonly idpMfa: boolean;
  /** RFC 8176 values for the session (`ext` when none). */
  readonly amr: readonly string[];
  /** What the audit records of the IdP's authentication (`amr`, or the SAML AuthnContextClassRef). */
  readonly evidence: Readonly<Record<string, unknown>>;
  /** SAML: what the IdP's LogoutRequest will name this login by (saml-core §3.7.1), recorded for Single Logout. */
  readonly logout?: { readonly nameId: string; readonly nameIdFormat: string | null; readonly sessionIndex: string | null };
}

export type Fail = (code: SignInCode, message: string, details?: Record<string, unknown>) => Promise<never>;

/**
 * What OIDC and SAML sign-ins share once the protocol has verified the IdP's answer (README "Signing in with
 * SSO"): the return URL allow-list, "Test connection", the email's verified domain, the IdP's MFA, the user
 * (linked or JIT), the connection's mapping rules, the login pipeline, the one-time result, and the audit of each
 * refusal (`sso.login.failed`).
 */
export function createSignInCore(deps: SignInCoreDeps) {
  const { db, clock, audit } = deps;
  const results = createCookieSealer(deps.masterKeys, 'result');
  const tickets = createCookieSealer(deps.masterKeys, 'test');
  const nowSeconds = () => Math.floor(clock.now().getTime() / 1000);

  /**
   * The return URL allow-list: PUBLIC_URL's origin, plus the origins the connection's tenant allows in its SSO
   * settings (never another tenant's); return-to.ts `acceptReturnTo` has the rules (OWASP Unvalidated Redirects).
   */
  async function checkReturnTo(returnTo: string | undefined, tenantId: string): Promise<string | null> {
    if (returnTo === undefined || returnTo === '') return null;
    const accepted = acceptReturnTo(returnTo, deps.publicUrl, await deps.allowedReturnOrigins(tenantId));
    if (accepted === null) throw refused('sso_config', 'returnTo must be on this server\'s origin (PUBLIC_URL) or one the tenant allows (GET /api/v1/sso/settings).');
    return accepted;
  }

  async function recordFailure(tenantId: string, connectionId: string, code: SignInCode, meta: RequestMeta, details: Record<string, unknown> = {}): Promise<void> {
    const actor: AuditActor = { type: 'user', id: null, ip: meta.ip, userAgent: meta.userAgent };
    await db.tenantWork(tenantId, (tx) => audit.record(tx, tenantId, { action: 'sso.login.failed', actor, target: { type: 'sso_connection', id: connectionId }, outcome: 'failure', errorCode: SsoErrors[code], details }));
  }

  /** The user the IdP asserted, found by the linked subject or the email, or provisioned (JIT). */
  async function resolveUser(tx: Tx, row: store.ConnectionRow, sub: string, claims: Claims, email: string): Promise<{ userId: string; provisioned: boolean }> {
    const tenantId = row.tenant_id;
    const system: AuditActor = { type: 'system', id: `sso:${row.id}` };
    const now = clock.now();
    let userId = await store.findIdentityUser(tx, tenantId, row.id, sub);
    let provisioned = false;
    if (!userId) {
      const existing = await deps.findUserByEmail(tx, tenantId, email);
      if (existing) userId = existing.id;
      else {
        const nameClaim = claims[(row.claim_mapping as { name?: string }).name ?? 'name'];
        userId = (await deps.createUser(tx, tenantId, { email, name: typeof nameClaim === 'string' ? nameClaim.slice(0, 200) : null })).id;
        provisioned = true;
        // Its roles are the mapping rules' (applyRules, right after, in the same unit of work).
        await audit.record(tx, tenantId, { action: 'sso.user.provisioned', actor: system, target: { type: 'user', id: userId }, outcome: 'success', details: { connectionId: row.id, email } });
      }
    }
    await store.linkIdentity(tx, tenantId, row.id, sub, userId, now);
    return { userId, provisioned };
  }

  /**
   * The connection's mapping rules, evaluated on this sign-in's claims (role-rules.ts), become the roles the
   * connection manages for the user (`managed_by = sso:<connectionId>`), on every sign-in, not only at JIT; roles
   * a person assigned are never touched. Each role goes through the grant rule now, on the authority of the
   * administrator who last configured the connection: Account Administrator and roles beyond that administrator's
   * current access are skipped and audited `access.grant.refused`; the sign-in goes on with the rest.
   * `dryRun` (Test connection): evaluated and checked, nothing written.
   */
  async function applyRules(tx: Tx, row: store.ConnectionRow, claims: Claims, userId: string | null, options: { provisioned: boolean; dryRun: boolean }): Promise<{ evaluation: Evaluation; sync: ManagedSync }> {
    const tenantId = row.tenant_id;
    const evaluation = evaluateRules(row.rules as RoleRule[], row.rules_mode as RulesMode, claims, row.default_role_id);
    const sync = await deps.syncManagedRoles(tx, tenantId, {
      userId,
      managedBy: `sso:${row.id}`,
      roleIds: evaluation.roles.map((r) => r.roleId),
      granterId: row.updated_by ?? row.created_by,
      dryRun: options.dryRun,
    });
    if (options.dryRun || userId === null) return { evaluation, sync };
    const system: AuditActor = { type: 'system', id: `sso:${row.id}` };
    for (const r of sync.refused) {
      await audit.record(tx, tenantId, {
        action: 'access.grant.refused',
        actor: system,
        target: { type: 'user', id: userId },
        outcome: 'failure',
        errorCode: r.reason === 'account_admin' ? SsoErrors.sso_role_forbidden : r.reason === 'role_not_found' ? SsoErrors['sso.role_not_found'] : RbacErrors['rbac.grant_exceeds_own_access'],
        details: { change: 'sso.signin.roles', connectionId: row.id, reason: r.reason, roleId: r.roleId, role: r.role, accounts: r.accountId ? [r.accountId] : [], missing: r.missing, accountAdminRequired: r.reason === 'account_admin', granterId: row.updated_by ?? row.created_by },
      });
    }
    if (sync.added.length + sync.removed.length > 0) {
      await audit.record(tx, tenantId, {
        action: 'sso.roles.changed',
        actor: system,
        target: { type: 'user', id: userId },
        outcome: 'success',
        details: { connectionId: row.id, before: sync.before, after: sync.after, added: sync.added, removed: sync.removed, matchedRules: evaluation.matched.map((m) => m.index), usedDefault: evaluation.usedDefault },
      });
    }
    if (options.provisioned) {
      // JIT made the user a member of each account where it now holds a role.
      for (const accountId of [...new Set(sync.added.map((a) => a.accountId))].sort()) {
        await audit.record(tx, tenantId, { action: 'sso.member.created', actor: system, target: { type: 'user', id: userId }, outcome: 'success', details: { connectionId: row.id, accountId, roleIds: sync.added.filter((a) => a.accountId === accountId).map((a) => a.roleId) } });
      }
    }
    return { evaluation, sync };
  }

  /** What a test records of the claims: at most 16 KiB of JSON (long strings and arrays cut). */
  function cappedClaims(claims: Claims): Record<string, unknown> {
    const cut = (v: unknown, depth: number): unknown => {
      if (typeof v === 'string') return v.length > 500 ? `${v.slice(0, 500)}…` : v;
      if (Array.isArray(v)) return v.slice(0, 100).map((e) => cut(e, depth + 1));
      if (v !== null && typeof v === 'object') return depth > 4 ? '…' : Object.fromEntries(Object.entries(v).slice(0, 100).map(([k, e]) => [k, cut(e, depth + 1)]));
      return v;
    };
    const out = cut(claims, 0) as Record<string, unknown>;
    return JSON.stringify(out).length <= 16_384 ? out : { _truncated: true, claimNames: Object.keys(claims).slice(0, 200) };
  }

  async function recordTest(tenantId: string, connectionId: string, test: NonNullable<SignInFlow['test']>, status: 'succeeded' | 'failed', outcome: Record<string, unknown>, meta: RequestMeta, errorCode?: string): Promise<void> {
    await db.tenantWork(tenantId, async (tx) => {
      await store.finishTest(tx, tenantId, test.testId, status, outcome);
      await audit.record(tx, tenantId, {
        action: 'sso.connection.tested',
        actor: test.by === 'setup_link' ? { type: 'setup_link', id: test.userId, onBehalfOf: null, ip: meta.ip, userAgent: meta.userAgent } : { type: 'user', id: test.userId, ip: meta.ip, userAgent: meta.userAgent },
        target: { type: 'sso_connection', id: connectionId },
        outcome: status === 'succeeded' ? 'success' : 'failure',
        ...(errorCode ? { errorCode } : {}),
        details: { testId: test.testId, status, error: outcome.error ?? null, roles: (outcome.mapping as { roles?: unknown } | undefined)?.roles ?? null },
      });
    });
  }

  /** A refusal of `flow`: a test records it on the test, a sign-in audits `sso.login.failed`; the browser goes back. */
  function failure(flow: SignInFlow, meta: RequestMeta) {
    let testClaims: Record<string, unknown> | null = null;
    const fail: Fail = async (code, message, details = {}) => {
      if (flow.test) {
        // A test records its refusal on the test (audited sso.connection.tested), not as a failed sign-in.
        await recordTest(flow.tenantId, flow.connectionId, flow.test, 'failed', { error: { code, message: message.slice(0, 500) }, claims: testClaims, mapping: null }, meta, SsoErrors[code]);
        throw new SignInRefused(code, message, flow.returnTo, flow.test.testId);
      }
      await recordFailure(flow.tenantId, flow.connectionId, code, meta, details);
      throw new SignInRefused(code, message, flow.returnTo);
    };
    return {
      fail,
      /** From here on a test's refusal records the claims received. */
      received: (claims: Claims): void => {
        testClaims = flow.test ? cappedClaims(claims) : null;
      },
    };
  }

  return {
    checkReturnTo,
    failure,
    nowSeconds,
    spendOnce: deps.spendOnce,

    /**
     * POST /api/v1/sso/connections/:id/test: a "Test connection" dry run. A tenant administrator gets a start link
     * (bound to them, the tenant and the connection, sealed, 30 minutes) to open in a browser; the real sign-in
     * through the IdP that follows creates no user, link, role or session, and stores its outcome. A setup link
     * tests the connection it set up the same way (the tester is then the link, acting within its creator's rights).
     */
    async startTest(tenantId: string, tester: ConfiguringActor, connectionId: string, returnToInput: string | undefined): Promise<{ url: string; testId: string }> {
      const returnTo = await checkReturnTo(returnToInput, tenantId);
      const testId = newId(clock.now().getTime());
      const adminId = tester.id;
      await db.tenantWork(tenantId, async (tx) => {
        const userId = actingUserId(tester);
        if (userId !== null) await deps.requireTenantAdmin(tx, tenantId, userId);
        const row = await store.findConnection(tx, tenantId, connectionId);
        if (!row) throw new AppError(SsoErrors['sso.connection_not_found']);
        const now = clock.now();
        await store.purgeTests(tx, tenantId, now);
        await store.insertTest(tx, tenantId, { id: testId, connectionId, startedBy: adminId, now, expiresAt: new Date(now.getTime() + TEST_TTL_SECONDS * 1000) });
      });
      const ticket: SsoTestTicket = { tenantId, connectionId, testId, userId: adminId, ...(tester.type === 'setup_link' ? { by: 'setup_link' as const } : {}), exp: nowSeconds() + TEST_TTL_SECONDS };
      const url = new URL(`${deps.publicUrl}/auth/sso/start`);
      url.searchParams.set('connection', connectionId);
      url.searchParams.set('test', tickets.seal(ticket));
      if (returnTo) url.searchParams.set('returnTo', returnTo);
      return { url: url.href, testId };
    },

    /** GET /api/v1/sso/connections/:id/tests/:testId: the outcome, for the tenant's administrators; a setup link reads only the tests it started. */
    async getTest(tenantId: string, reader: ConfiguringActor, connectionId: string, testId: string) {
      return db.tenantWork(tenantId, async (tx) => {
        if (reader.type === 'user') await deps.requireTenantAdmin(tx, tenantId, reader.id);
        const row = await store.findTest(tx, tenantId, connectionId, testId, clock.now());
        if (!row || (reader.type === 'setup_link' && row.started_by !== reader.id)) throw new AppError(SsoErrors['sso.test_not_found']);
        return {
          id: row.id,
          connectionId: row.connection_id,
          startedBy: row.started_by,
          status: row.status as 'pending' | 'succeeded' | 'failed',
          createdAt: new Date(row.created_at).toISOString(),
          expiresAt: new Date(row.expires_at).toISOString(),
          outcome: row.outcome,
        };
      });
    },

    /**
     * The start of any sign-in: the test link (when given) opens only for its connection and until its end; the
     * connection's tenant, the return URL, and the connection itself (a disabled one refused, except for a test).
     */
    async begin(connectionId: string, returnToInput: string | undefined, meta: RequestMeta, testInput?: string): Promise<{ row: store.ConnectionRow; flow: SignInFlow }> {
      let test: SignInFlow['test'];
      if (testInput !== undefined) {
        // A test link opens only for its own connection, until its end (sealed: neither forged nor altered).
        const ticket = tickets.open<SsoTestTicket>(testInput);
        if (!ticket || ticket.connectionId !== connectionId || ticket.exp < nowSeconds()) throw refused('sso_expired', 'This test link is not valid or has expired; start a new test.');
        test = { testId: ticket.testId, userId: ticket.userId, ...(ticket.by ? { by: ticket.by } : {}) };
      }
      const tenantId = await db.globalWork((tx) => store.connectionTenant(tx, connectionId));
      if (!tenantId) throw refused('sso_config', 'No such SSO connection.');
      const returnTo = await checkReturnTo(returnToInput, tenantId);
      const row = await db.tenantWork(tenantId, (tx) => store.findConnection(tx, tenantId, connectionId));
      if (!row) throw refused('sso_config', 'No such SSO connection.');
      // Test connection works on a disabled connection: that is its point (test before enabling).
      if (!row.enabled && !test) {
        await recordFailure(tenantId, connectionId, 'sso_disabled', meta, { stage: 'start' });
        throw refused('sso_disabled', 'This SSO connection is disabled.');
      }
      return { row, flow: { tenantId, connectionId, returnTo, ...(test ? { test } : {}) } };
    },

    /**
     * After the protocol's checks: the email's domain must be a verified domain of the connection's tenant, the
     * IdP's MFA when the connection requires it, then a test's dry run or the user (linked or JIT), the rules, and
     * the login pipeline, whose answer is sealed in the one-time result.
     */
    async finish(flow: SignInFlow, row: store.ConnectionRow, asserted: Asserted, meta: RequestMeta, fail: Fail): Promise<{ result: string | null; returnTo: string | null; testId: string | null }> {
      const { subject: sub, claims } = asserted;
      const test = flow.test;
      const email = asserted.email.trim().toLowerCase();
      const domain = emailDomain(email);
      const owner = domain ? await db.globalWork((t) => verifiedDomainOwner(t, domain)) : undefined;
      if (!domain || !row.domains.includes(domain) || owner !== flow.tenantId) return fail('sso_domain', 'The email\'s domain is not one of the connection\'s verified domains.', { sub, domain });

      const policy = row.mfa_policy as { requireMfa?: boolean };
      const idpMfa = asserted.idpMfa;
      if (policy.requireMfa && !idpMfa) return fail('sso_mfa_required', 'The connection requires the IdP to assert a second factor, and it did not.', { sub, ...asserted.evidence });

      if (test) {
        // The dry run: the user this sign-in would be (none is created), and the roles the rules would give.
        const outcome = await db.tenantWork(flow.tenantId, async (t) => {
          const linked = await store.findIdentityUser(t, flow.tenantId, row.id, sub);
          const userId = linked ?? (await deps.findUserByEmail(t, flow.tenantId, email))?.id ?? null;
          const { evaluation, sync } = await applyRules(t, row, claims, userId, { provisioned: false, dryRun: true });
          return {
            error: null,
            claims: cappedClaims(claims),
            email,
            user: { existingUserId: userId, wouldBeProvisioned: userId === null },
            idpMfa,
            mapping: {
              mode: row.rules_mode,
              matchedRules: evaluation.matched.map((m) => ({ index: m.index, ...m.rule })),
              usedDefault: evaluation.usedDefault,
              roles: sync.given,
              refused: sync.refused,
              before: sync.before,
              after: sync.after,
            },
          };
        });
        await recordTest(flow.tenantId, flow.connectionId, test, 'succeeded', outcome, meta);
        return { result: null, returnTo: flow.returnTo, testId: test.testId };
      }

      let inactive = false;
      const result = await deps
        .loginWithIdentitySource(
          flow.tenantId,
          async (t) => {
            const resolved = await resolveUser(t, row, sub, claims, email);
            const user = await findLoginUserById(t, flow.tenantId, resolved.userId);
            if (!user?.active) {
              inactive = true;
              throw refused('sso_user_inactive', 'This user is deactivated in the tenant.');
            }
            await applyRules(t, row, claims, user.id, { provisioned: resolved.provisioned, dryRun: false });
            await audit.record(t, flow.tenantId, {
              action: 'sso.login.succeeded',
              actor: { type: 'user', id: user.id, email: user.email, ip: meta.ip, userAgent: meta.userAgent },
              target: { type: 'sso_connection', id: row.id },
              outcome: 'success',
              details: { sub, ...asserted.evidence, provisioned: resolved.provisioned },
            });
            // The login the session will remember, so that the IdP's Single Logout can end it (saml-profiles §4.4).
            let sourceId: string | undefined;
            if (asserted.logout) {
              sourceId = randomUUID();
              await store.insertLogin(t, flow.tenantId, { id: sourceId, connectionId: row.id, userId: user.id, ...asserted.logout, now: deps.clock.now() });
            }
            return { tenantId: flow.tenantId, userId: user.id, email: user.email, stamp: user.security_stamp, amr: asserted.amr.length > 0 ? [...asserted.amr] : ['ext'], secondFactorSatisfied: idpMfa, ...(sourceId ? { sourceId } : {}) };
          },
          meta,
        )
        .catch(async (err: unknown) => {
          if (inactive) return fail('sso_user_inactive', 'This user is deactivated in the tenant.', { sub });
          throw err;
        });
      const id = randomUUID();
      return { result: results.seal({ id, tenantId: flow.tenantId, exp: nowSeconds() + RESULT_TTL_SECONDS, result }), returnTo: flow.returnTo, testId: null };
    },

    /** POST /auth/sso/result: the pipeline's answer, once. */
    async takeResult(cookie: string | undefined): Promise<LoginResult> {
      const sealed = results.open<{ id: string; tenantId: string; exp: number; result: LoginResult }>(cookie);
      if (!sealed || sealed.exp < nowSeconds()) throw new AppError(SsoErrors.sso_expired);
      // Single use on every instance: the result's id is spent in the shared table of spent token ids.
      if (!(await deps.spendOnce(sealed.tenantId, sealed.id, new Date(sealed.exp * 1000)))) throw new AppError(SsoErrors.sso_expired);
      const r = sealed.result;
      if (r.status === 'authenticated' && r.session) return { ...r, session: { ...r.session, refreshExpiresAt: new Date(r.session.refreshExpiresAt) } };
      return r;
    },
  };
}

export type SignInCore = ReturnType<typeof createSignInCore>;
