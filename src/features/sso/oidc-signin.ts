import { randomUUID } from 'node:crypto';
import { newId } from '../../kernel/ids.js';
import type * as jose from 'jose';
import * as client from 'openid-client';
import type { MasterKeys } from '../../crypto/master-key.js';
import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { emailDomain, verifiedDomainOwner } from '../domains/index.js';
import { findLoginUserById } from '../identity/index.js';
import { type ManagedSync, RbacErrors } from '../rbac/index.js';
import type { AuthenticatedUser, LoginResult, RequestMeta } from '../sessions/index.js';
import { createJwksCache, IdTokenRefused, type JwksCache, verifyIdToken } from './id-token.js';
import type { IssuerNetworkPolicy } from './issuer-network.js';
import { issuerFetch } from './oidc-discovery.js';
import { acceptReturnTo } from './return-to.js';
import { SsoErrors } from './sso.errors.js';
import { evaluateRules, type Evaluation, type RoleRule, type RulesMode } from './role-rules.js';
import { createCookieSealer, RESULT_TTL_SECONDS, type SsoTestTicket, type SsoTransaction, TEST_TTL_SECONDS, TRANSACTION_TTL_SECONDS } from './sso-transaction.js';
import * as store from './sso.store.js';

export const CALLBACK_PATH = '/auth/sso/oidc/callback';
/** RFC 8176 values that count as a second factor when the connection lists none. */
const DEFAULT_MFA_AMR = ['mfa', 'otp', 'hwk', 'swk', 'sms', 'fpt', 'face', 'iris', 'retina', 'vbm'];

export type SignInCode = 'sso_expired' | 'sso_state' | 'sso_config' | 'sso_disabled' | 'sso_signature' | 'sso_replay' | 'sso_audience' | 'sso_domain' | 'sso_mfa_required';

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

export interface OidcSignInDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
  readonly masterKeys: MasterKeys;
  /** PUBLIC_URL: the redirect_uri is built on it, and `returnTo` may be on its origin. */
  readonly publicUrl: string;
  /** The tenant's SSO settings: further origins its sign-ins may return to. */
  readonly allowedReturnOrigins: (tenantId: string) => Promise<string[]>;
  readonly network: IssuerNetworkPolicy;
  readonly clientSecret: (tx: Tx, tenantId: string, row: store.ConnectionRow) => Promise<string | null>;
  /** private_key_jwt: the connection's current private key and its kid. */
  readonly clientKey: (tx: Tx, tenantId: string, row: store.ConnectionRow) => Promise<{ key: jose.CryptoKey; kid: string } | null>;
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

interface OidcConfig {
  issuer: string;
  clientId: string;
  tokenEndpointAuthMethod: string;
  clientAssertionAudience?: string;
  scopes: string;
  caBundlePem: string | null;
  idTokenSignedResponseAlg: string;
}

const refused = (code: SignInCode, message: string) => new SignInRefused(code, message);

function causeChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && out.length < 6; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

/** openid-client's refusals of the callback or the code exchange, as sign-in codes. */
function fromOpenIdClient(err: unknown): SignInRefused {
  if (err instanceof SignInRefused) return err;
  if (err instanceof IdTokenRefused) return refused(err.code, err.message);
  const chain = causeChain(err);
  const field = (name: 'code' | 'claim' | 'error' | 'attribute') => chain.map((e) => (e as Record<string, unknown>)[name]).find((c): c is string => typeof c === 'string');
  const code = field('code');
  const claim = field('claim');
  const error = field('error');
  const message = (err as Error).message;
  if (claim === 'aud' || claim === 'azp') return refused('sso_audience', message);
  if (claim === 'nonce') return refused('sso_replay', message);
  if (claim === 'exp' || code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') return refused('sso_expired', message);
  // OpenID Connect Core §5.3.2: userinfo's sub must be the id_token's (openid-client's expected subject).
  if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && field('attribute') === 'sub') return refused('sso_signature', 'userinfo\'s sub is not the id_token\'s.');
  // RFC 6749 §5.2: a code already redeemed or expired.
  if (error === 'invalid_grant') return refused('sso_replay', message);
  // The callback's own state and RFC 9207 iss are checked before the exchange; a state openid-client refuses is still ours.
  if (claim === 'state') return refused('sso_state', message);
  // The id_token itself was malformed or signed with an algorithm other than the pinned one.
  const messages = chain.map((e) => String((e as Error)?.message ?? '')).join(' | ');
  if (code?.startsWith('OAUTH_JWT') || claim !== undefined || /JWT|"alg"|signature/.test(messages)) return refused('sso_signature', messages);
  return refused('sso_config', message);
}

/**
 * OIDC sign-in through a tenant's connection (OpenID Connect Core §3.1, Authorization Code + PKCE S256, RFC 7636):
 * start, callback, and the one-time result the browser's front-end reads. openid-client does the protocol; the
 * id_token is verified by us (id-token.ts).
 */
export function createOidcSignIn(deps: OidcSignInDeps) {
  const { db, clock, audit } = deps;
  const transactions = createCookieSealer(deps.masterKeys, 'transaction');
  const results = createCookieSealer(deps.masterKeys, 'result');
  const tickets = createCookieSealer(deps.masterKeys, 'test');
  const redirectUri = `${deps.publicUrl}${CALLBACK_PATH}`;
  const jwksCaches = new Map<string, JwksCache>();
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

  async function loadConnection(tenantId: string, connectionId: string) {
    const row = await db.tenantWork(tenantId, (tx) => store.findConnection(tx, tenantId, connectionId));
    if (!row || row.type !== 'oidc') throw refused('sso_config', 'No such OIDC connection.');
    return row;
  }

  /** The client's authentication at the token endpoint (OpenID Connect Core §9); null at start, where none is used. */
  type Credentials = { secret: string | null; key: { key: jose.CryptoKey; kid: string } | null } | null;

  function clientAuth(oidc: OidcConfig, credentials: Credentials, tokenEndpoint: unknown): client.ClientAuth {
    // No credential at start (only the authorization URL is built); the callback authenticates (RFC 6749 §2.3.1).
    if (credentials === null) return client.None();
    if (oidc.tokenEndpointAuthMethod === 'private_key_jwt') {
      // RFC 7523 §2.2 / Core §9: a JWT signed with the current key, its kid in the header so the IdP picks the key.
      if (!credentials.key) throw refused('sso_config', 'The connection has no client key; rotate one (POST …/keys/rotate).');
      // Core §9: the audience SHOULD be the token endpoint URL (Entra ID and Okta expect it); some IdPs (Auth0)
      // expect their issuer, which openid-client uses by default (RFC 7523 §3 allows either).
      if (oidc.clientAssertionAudience === 'issuer') return client.PrivateKeyJwt({ key: credentials.key.key, kid: credentials.key.kid });
      if (typeof tokenEndpoint !== 'string') throw refused('sso_config', 'The IdP publishes no token_endpoint.');
      return client.PrivateKeyJwt({ key: credentials.key.key, kid: credentials.key.kid }, {
        [client.modifyAssertion]: (_header, payload) => {
          payload.aud = tokenEndpoint;
        },
      });
    }
    if (credentials.secret === null) throw refused('sso_config', 'The connection has no client secret.');
    return oidc.tokenEndpointAuthMethod === 'client_secret_post' ? client.ClientSecretPost(credentials.secret) : client.ClientSecretBasic(credentials.secret);
  }

  function configuration(row: store.ConnectionRow, credentials: Credentials) {
    const oidc = row.config as unknown as OidcConfig;
    if (!row.discovery) throw refused('sso_config', 'The connection has no discovery document; refresh it.');
    const auth = clientAuth(oidc, credentials, row.discovery.token_endpoint);
    const config = new client.Configuration(row.discovery as client.ServerMetadata, oidc.clientId, { id_token_signed_response_alg: oidc.idTokenSignedResponseAlg }, auth);
    const { fetch, close } = issuerFetch(deps.network, oidc.caBundlePem);
    config[client.customFetch] = fetch;
    if (oidc.issuer.startsWith('http:')) client.allowInsecureRequests(config);
    return { config, oidc, close };
  }

  function jwksFor(row: store.ConnectionRow, oidc: OidcConfig): JwksCache {
    const jwksUri = row.discovery?.jwks_uri;
    if (typeof jwksUri !== 'string') throw refused('sso_config', 'The IdP publishes no jwks_uri.');
    const key = `${row.id}|${jwksUri}|${oidc.caBundlePem ?? ''}`;
    let cache = jwksCaches.get(key);
    if (!cache) {
      const { fetch } = issuerFetch(deps.network, oidc.caBundlePem);
      cache = createJwksCache(jwksUri, (url, init) => fetch(url, { ...init, method: 'GET', body: undefined, redirect: 'manual' }), clock);
      jwksCaches.set(key, cache);
    }
    return cache;
  }

  async function recordFailure(tenantId: string, connectionId: string, code: SignInCode, meta: RequestMeta, details: Record<string, unknown> = {}): Promise<void> {
    const actor: AuditActor = { type: 'user', id: null, ip: meta.ip, userAgent: meta.userAgent };
    await db.tenantWork(tenantId, (tx) => audit.record(tx, tenantId, { action: 'sso.login.failed', actor, target: { type: 'sso_connection', id: connectionId }, outcome: 'failure', errorCode: SsoErrors[code], details }));
  }

  /** The user the IdP asserted, found by the linked subject or the email, or provisioned (JIT). */
  async function resolveUser(tx: Tx, row: store.ConnectionRow, claims: jose.JWTPayload, email: string, meta: RequestMeta): Promise<{ userId: string; provisioned: boolean }> {
    const tenantId = row.tenant_id;
    const sub = claims.sub!;
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
    void meta;
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
  async function applyRules(tx: Tx, row: store.ConnectionRow, claims: jose.JWTPayload, userId: string | null, options: { provisioned: boolean; dryRun: boolean }): Promise<{ evaluation: Evaluation; sync: ManagedSync }> {
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
  function cappedClaims(claims: jose.JWTPayload): Record<string, unknown> {
    const cut = (v: unknown, depth: number): unknown => {
      if (typeof v === 'string') return v.length > 500 ? `${v.slice(0, 500)}…` : v;
      if (Array.isArray(v)) return v.slice(0, 100).map((e) => cut(e, depth + 1));
      if (v !== null && typeof v === 'object') return depth > 4 ? '…' : Object.fromEntries(Object.entries(v).slice(0, 100).map(([k, e]) => [k, cut(e, depth + 1)]));
      return v;
    };
    const out = cut(claims, 0) as Record<string, unknown>;
    return JSON.stringify(out).length <= 16_384 ? out : { _truncated: true, claimNames: Object.keys(claims).slice(0, 200) };
  }

  async function recordTest(tenantId: string, connectionId: string, test: NonNullable<SsoTransaction['test']>, status: 'succeeded' | 'failed', outcome: Record<string, unknown>, meta: RequestMeta, errorCode?: string): Promise<void> {
    await db.tenantWork(tenantId, async (tx) => {
      await store.finishTest(tx, tenantId, test.testId, status, outcome);
      await audit.record(tx, tenantId, {
        action: 'sso.connection.tested',
        actor: { type: 'user', id: test.userId, ip: meta.ip, userAgent: meta.userAgent },
        target: { type: 'sso_connection', id: connectionId },
        outcome: status === 'succeeded' ? 'success' : 'failure',
        ...(errorCode ? { errorCode } : {}),
        details: { testId: test.testId, status, error: outcome.error ?? null, roles: (outcome.mapping as { roles?: unknown } | undefined)?.roles ?? null },
      });
    });
  }

  return {
    redirectUri,

    /**
     * POST /api/v1/sso/connections/:id/test: a "Test connection" dry run. A tenant administrator gets a start link
     * (bound to them, the tenant and the connection, sealed, 30 minutes) to open in a browser; the real sign-in
     * through the IdP that follows creates no user, link, role or session, and stores its outcome.
     */
    async startTest(tenantId: string, adminId: string, connectionId: string, returnToInput: string | undefined): Promise<{ url: string; testId: string }> {
      const returnTo = await checkReturnTo(returnToInput, tenantId);
      const testId = newId(clock.now().getTime());
      await db.tenantWork(tenantId, async (tx) => {
        await deps.requireTenantAdmin(tx, tenantId, adminId);
        const row = await store.findConnection(tx, tenantId, connectionId);
        if (!row) throw new AppError(SsoErrors['sso.connection_not_found']);
        const now = clock.now();
        await store.purgeTests(tx, tenantId, now);
        await store.insertTest(tx, tenantId, { id: testId, connectionId, startedBy: adminId, now, expiresAt: new Date(now.getTime() + TEST_TTL_SECONDS * 1000) });
      });
      const ticket: SsoTestTicket = { tenantId, connectionId, testId, userId: adminId, exp: nowSeconds() + TEST_TTL_SECONDS };
      const url = new URL(`${deps.publicUrl}/auth/sso/start`);
      url.searchParams.set('connection', connectionId);
      url.searchParams.set('test', tickets.seal(ticket));
      if (returnTo) url.searchParams.set('returnTo', returnTo);
      return { url: url.href, testId };
    },

    /** GET /api/v1/sso/connections/:id/tests/:testId: the outcome, for the tenant's administrators. */
    async getTest(tenantId: string, adminId: string, connectionId: string, testId: string) {
      return db.tenantWork(tenantId, async (tx) => {
        await deps.requireTenantAdmin(tx, tenantId, adminId);
        const row = await store.findTest(tx, tenantId, connectionId, testId, clock.now());
        if (!row) throw new AppError(SsoErrors['sso.test_not_found']);
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

    /** GET /auth/sso/start: the IdP's authorization URL and the sealed transaction cookie's value. */
    async start(connectionId: string, returnToInput: string | undefined, meta: RequestMeta, testInput?: string): Promise<{ location: string; transaction: string }> {
      let test: SsoTransaction['test'];
      if (testInput !== undefined) {
        // A test link opens only for its own connection, until its end (sealed: neither forged nor altered).
        const ticket = tickets.open<SsoTestTicket>(testInput);
        if (!ticket || ticket.connectionId !== connectionId || ticket.exp < nowSeconds()) throw refused('sso_expired', 'This test link is not valid or has expired; start a new test.');
        test = { testId: ticket.testId, userId: ticket.userId };
      }
      const tenantId = await db.globalWork((tx) => store.connectionTenant(tx, connectionId));
      if (!tenantId) throw refused('sso_config', 'No such SSO connection.');
      const returnTo = await checkReturnTo(returnToInput, tenantId);
      const row = await loadConnection(tenantId, connectionId);
      // Test connection works on a disabled connection: that is its point (test before enabling).
      if (!row.enabled && !test) {
        await recordFailure(tenantId, connectionId, 'sso_disabled', meta, { stage: 'start' });
        throw refused('sso_disabled', 'This SSO connection is disabled.');
      }
      const { config, oidc, close } = configuration(row, null);
      await close();
      const tx: SsoTransaction = {
        tenantId,
        connectionId,
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        returnTo,
        createdAt: nowSeconds(),
        ...(test ? { test } : {}),
      };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: oidc.scopes,
        code_challenge: await client.calculatePKCECodeChallenge(tx.codeVerifier),
        code_challenge_method: 'S256',
        state: tx.state,
        nonce: tx.nonce,
      });
      return { location: url.href, transaction: transactions.seal(tx) };
    },

    /**
     * GET /auth/sso/oidc/callback: the checks in order (transaction, state, RFC 9207 iss, code exchange with
     * PKCE, our id_token verification, userinfo), then the email's domain, the user (linked or JIT), the IdP's
     * MFA, and the login pipeline. Each refusal is audited `sso.login.failed` in the connection's tenant.
     */
    async callback(query: Record<string, string | undefined>, transactionCookie: string | undefined, meta: RequestMeta): Promise<{ result: string | null; returnTo: string | null; testId: string | null }> {
      const tx = transactions.open<SsoTransaction>(transactionCookie);
      if (!tx) throw refused('sso_expired', 'No sign-in under way in this browser (the transaction cookie is missing or altered).');
      const test = tx.test;
      let testClaims: Record<string, unknown> | null = null;
      const fail = async (code: SignInCode, message: string, details: Record<string, unknown> = {}): Promise<never> => {
        if (test) {
          // A test records its refusal on the test (audited sso.connection.tested), not as a failed sign-in.
          await recordTest(tx.tenantId, tx.connectionId, test, 'failed', { error: { code, message: message.slice(0, 500) }, claims: testClaims, mapping: null }, meta, SsoErrors[code]);
          throw new SignInRefused(code, message, tx.returnTo, test.testId);
        }
        await recordFailure(tx.tenantId, tx.connectionId, code, meta, details);
        throw new SignInRefused(code, message, tx.returnTo);
      };
      if (nowSeconds() - tx.createdAt > TRANSACTION_TTL_SECONDS) return fail('sso_expired', 'The sign-in took longer than 10 minutes; start again.');
      // RFC 6749 §10.12: the state binds the response to this browser's request.
      if (query.state !== tx.state) return fail('sso_state', 'The state does not match this browser\'s sign-in.');
      const row = await db.tenantWork(tx.tenantId, (t) => store.findConnection(t, tx.tenantId, tx.connectionId));
      if (!row || row.type !== 'oidc') return fail('sso_config', 'The connection no longer exists.');
      if (!row.enabled && !test) return fail('sso_disabled', 'This SSO connection is disabled.');
      if (query.error) return fail('sso_config', `The IdP answered ${query.error}.`, { error: query.error.slice(0, 100) });
      const oidc = row.config as unknown as OidcConfig;
      // RFC 9207 §2.4: `iss` must equal the issuer when present, and must be present when the OP advertises it.
      if (query.iss !== undefined && query.iss !== oidc.issuer) return fail('sso_state', 'The response\'s iss is not the connection\'s issuer (RFC 9207).');
      if (query.iss === undefined && row.discovery?.authorization_response_iss_parameter_supported === true) return fail('sso_state', 'The IdP advertises RFC 9207 iss but the response has none.');

      const { secret, key } = await db.tenantWork(tx.tenantId, async (t) => ({ secret: await deps.clientSecret(t, tx.tenantId, row), key: await deps.clientKey(t, tx.tenantId, row) }));
      let claims: jose.JWTPayload;
      let configured: ReturnType<typeof configuration>;
      try {
        configured = configuration(row, { secret, key });
      } catch (err) {
        const mapped = fromOpenIdClient(err);
        return await fail(mapped.code, mapped.message, { reason: mapped.message.slice(0, 200) });
      }
      const { config, close } = configured;
      try {
        const current = new URL(redirectUri);
        for (const [k, v] of Object.entries(query)) if (v !== undefined) current.searchParams.set(k, v);
        const tokens = await client.authorizationCodeGrant(config, current, { pkceCodeVerifier: tx.codeVerifier, expectedState: tx.state, expectedNonce: tx.nonce, idTokenExpected: true });
        const idToken = tokens.id_token;
        if (!idToken) return await fail('sso_signature', 'The IdP returned no id_token.');
        claims = await verifyIdToken(idToken, { issuer: oidc.issuer, clientId: oidc.clientId, alg: oidc.idTokenSignedResponseAlg, nonce: tx.nonce, clientSecret: secret }, jwksFor(row, oidc), clock);
        const emailClaim = (row.claim_mapping as { email?: string }).email ?? 'email';
        if (claims[emailClaim] === undefined && typeof row.discovery?.userinfo_endpoint === 'string') {
          // Core §5.3.2: userinfo's sub must equal the id_token's (openid-client checks the expected subject).
          const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub!);
          claims = { ...userinfo, ...claims };
        }
      } catch (err) {
        if (err instanceof SignInRefused) throw err;
        const mapped = fromOpenIdClient(err);
        return await fail(mapped.code, mapped.message, { reason: mapped.message.slice(0, 200) });
      } finally {
        await close();
      }

      testClaims = test ? cappedClaims(claims) : null;
      const mapping = row.claim_mapping as { email?: string };
      const rawEmail = claims[mapping.email ?? 'email'];
      // Core §5.1: an email the IdP says is unverified is not an identity.
      if (typeof rawEmail !== 'string' || claims.email_verified === false) return fail('sso_domain', 'The IdP asserted no verified email.', { sub: claims.sub });
      const email = rawEmail.trim().toLowerCase();
      const domain = emailDomain(email);
      const owner = domain ? await db.globalWork((t) => verifiedDomainOwner(t, domain)) : undefined;
      if (!domain || !row.domains.includes(domain) || owner !== tx.tenantId) return fail('sso_domain', 'The email\'s domain is not one of the connection\'s verified domains.', { sub: claims.sub, domain });

      // MFA delegated to the IdP: amr (RFC 8176) or an accepted acr.
      const policy = row.mfa_policy as { requireMfa?: boolean; acceptedAmr?: string[]; acceptedAcr?: string[] };
      const amr = Array.isArray(claims.amr) ? (claims.amr as unknown[]).filter((a): a is string => typeof a === 'string').slice(0, 20) : [];
      const acceptedAmr = policy.acceptedAmr?.length ? policy.acceptedAmr : DEFAULT_MFA_AMR;
      const idpMfa = amr.some((a) => acceptedAmr.includes(a)) || (typeof claims.acr === 'string' && (policy.acceptedAcr ?? []).includes(claims.acr));
      if (policy.requireMfa && !idpMfa) return fail('sso_mfa_required', 'The connection requires the IdP to assert a second factor, and it did not.', { sub: claims.sub, amr });

      if (test) {
        // The dry run: the user this sign-in would be (none is created), and the roles the rules would give.
        const outcome = await db.tenantWork(tx.tenantId, async (t) => {
          const linked = await store.findIdentityUser(t, tx.tenantId, row.id, claims.sub!);
          const userId = linked ?? (await deps.findUserByEmail(t, tx.tenantId, email))?.id ?? null;
          const { evaluation, sync } = await applyRules(t, row, claims, userId, { provisioned: false, dryRun: true });
          return {
            error: null,
            claims: testClaims,
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
        await recordTest(tx.tenantId, tx.connectionId, test, 'succeeded', outcome, meta);
        return { result: null, returnTo: tx.returnTo, testId: test.testId };
      }

      let resolved: { userId: string; provisioned: boolean } | undefined;
      let inactive = false;
      const result = await deps
        .loginWithIdentitySource(
          tx.tenantId,
          async (t) => {
            resolved = await resolveUser(t, row, claims, email, meta);
            const user = await findLoginUserById(t, tx.tenantId, resolved.userId);
            if (!user?.active) {
              inactive = true;
              throw refused('sso_config', 'This user is deactivated.');
            }
            await applyRules(t, row, claims, user.id, { provisioned: resolved.provisioned, dryRun: false });
            await audit.record(t, tx.tenantId, {
              action: 'sso.login.succeeded',
              actor: { type: 'user', id: user.id, email: user.email, ip: meta.ip, userAgent: meta.userAgent },
              target: { type: 'sso_connection', id: row.id },
              outcome: 'success',
              details: { sub: claims.sub, amr, provisioned: resolved.provisioned },
            });
            return { tenantId: tx.tenantId, userId: user.id, email: user.email, stamp: user.security_stamp, amr: amr.length > 0 ? amr : ['ext'], secondFactorSatisfied: idpMfa };
          },
          meta,
        )
        .catch(async (err: unknown) => {
          if (inactive) return fail('sso_config', 'This user is deactivated.', { sub: claims.sub, reason: 'inactive' });
          throw err;
        });
      const id = randomUUID();
      return { result: results.seal({ id, tenantId: tx.tenantId, exp: nowSeconds() + RESULT_TTL_SECONDS, result }), returnTo: tx.returnTo, testId: null };
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

export type OidcSignIn = ReturnType<typeof createOidcSignIn>;
