import type { KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWK } from 'jose';
import type Provider from 'oidc-provider';
import type { Account, AdapterPayload, KoaContextWithOIDC } from 'oidc-provider';
import type { SigningAlgorithm } from '../../config/config.schema.js';
import type { MasterKeys } from '../../crypto/master-key.js';
import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { type JobLog, type PeriodicJob, startPeriodicJob } from '../../kernel/periodic-job.js';
import type { Principal } from '../../kernel/principal.js';
import { type ProviderClient, parseClientId } from '../applications/index.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import * as artifacts from './artifacts.store.js';
import { createBackchannelLogout } from './backchannel-logout.js';
import type { OutboundNetworkPolicy } from '../../net/outbound-network.js';
import { OpenIdProviderErrors } from './openid-provider.errors.js';
import { buildProvider, INTERACTION_TTL_SECONDS, loadOidcProvider, OP_PATH, SUBJECT_CLAIM } from './provider-config.js';

/**
 * Tessera's OpenID Provider (docs/openid-provider.md). oidc-provider runs the protocol; Tessera supplies the rest:
 * - the **account id** oidc-provider binds every grant, code and token to is a Tessera session,
 *   `<tenant id>.<session id>`; `findAccount` reads that session on every use (authorization, code exchange,
 *   refresh, userinfo, introspection) and answers nothing once it ended or its user was deactivated, so logout,
 *   revocation and de-provisioning apply to the application's next request (DESIGN §3);
 * - the session comes from the hosted sign-in (`/login?interaction=<uid>`): the same login pipeline (password, TOTP,
 *   SSO, account picker) and the same session issuance as everywhere;
 * - an application belongs to one account: a session in another account obtains nothing for it.
 */
export interface SessionStateView {
  readonly tenantId: string;
  readonly sessionId: string;
  readonly userId: string;
  readonly accountId: string;
  readonly revoked: boolean;
  readonly expiresAt: Date;
  readonly userActive: boolean;
  readonly user: Principal;
}

/** The signed-in caller finishing an interaction (the request's session). */
export interface SessionCaller {
  readonly tenantId: string;
  readonly userId: string;
  readonly accountId: string;
  readonly sessionId: string;
  readonly authTime?: number | undefined;
}

export interface OpenIdProviderDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly issuer: string;
  readonly masterKeys: MasterKeys;
  readonly trustProxy: boolean;
  readonly audit: AuditRecorder;
  readonly keys: { currentSigningKey(): Promise<{ kid: string; alg: SigningAlgorithm; privateKey: KeyObject }> };
  readonly applications: {
    findClient(clientId: string): Promise<ProviderClient | undefined>;
    secretMatches(client: Pick<ProviderClient, 'secretHash'>, presented: string): boolean;
    backchannelTargetsIn(tx: Tx, tenantId: string, clientIds: readonly string[]): Promise<{ id: string; clientId: string }[]>;
  };
  readonly sessions: {
    sessionState(tenantId: string, sessionId: string): Promise<SessionStateView | undefined>;
    logout(caller: SessionCaller, meta: { ip: string; userAgent: string | null }): Promise<unknown>;
  };
  /** The user's permission keys in the account: the same answer as GET /api/v1/me/access. */
  readonly permissionsIn: (tenantId: string, userId: string, accountId: string) => Promise<string[]>;
  /** Whether the email's domain is verified by the user's tenant (`email_verified`, OIDC Core §5.1). */
  readonly emailVerified: (tenantId: string, email: string) => Promise<boolean>;
  /** Where back-channel logout may call applications (TESSERA_APPLICATION_ALLOW_LOOPBACK, TESSERA_APPLICATION_PRIVATE_NETWORKS). */
  readonly applicationNetwork: OutboundNetworkPolicy;
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const ACCOUNT_ID = new RegExp(`^(${UUID})\\.(${UUID})$`);
const INTERACTION_UID = /^[A-Za-z0-9_-]{10,64}$/;

export function accountIdOf(tenantId: string, sessionId: string): string {
  return `${tenantId}.${sessionId}`;
}

export function parseAccountId(accountId: string): { tenantId: string; sessionId: string } | undefined {
  const m = ACCOUNT_ID.exec(accountId);
  return m ? { tenantId: m[1]!, sessionId: m[2]! } : undefined;
}

/** An authorization request parameter as text ('' when absent or not text). */
const textParam = (value: unknown): string => (typeof value === 'string' ? value : '');

export function isInteractionUid(uid: string): boolean {
  return INTERACTION_UID.test(uid);
}

/** Where an interaction's browser goes, and what the hosted sign-in shows of it. */
export interface InteractionSummary {
  readonly uid: string;
  readonly prompt: string;
  readonly clientName: string;
  readonly firstParty: boolean;
  readonly scopes: string[];
  readonly loginHint: string | null;
}

type Raw = readonly [IncomingMessage, ServerResponse];

export function createOpenIdProvider(deps: OpenIdProviderDeps) {
  const { clock, sessions } = deps;
  let built: { kid: string; provider: Provider; handler: ReturnType<Provider['callback']> } | undefined;
  const serverErrorListeners: ((error: unknown) => void)[] = [];
  const backchannel = createBackchannelLogout({ db: deps.db, clock, issuer: deps.issuer, audit: deps.audit, network: deps.applicationNetwork, keys: deps.keys, applications: deps.applications });

  async function liveState(accountId: string): Promise<SessionStateView | undefined> {
    const ref = parseAccountId(accountId);
    if (!ref) return undefined;
    const state = await sessions.sessionState(ref.tenantId, ref.sessionId);
    if (!state || state.revoked || state.expiresAt <= clock.now() || !state.userActive) return undefined;
    return state;
  }

  async function claimsOf(state: SessionStateView, scope: string): Promise<Record<string, unknown> & { sub: string }> {
    const scopes = new Set(scope.split(' '));
    return {
      sub: state.userId,
      [SUBJECT_CLAIM]: state.userId,
      acc: state.accountId,
      // The Tessera session: the `sid` of Logout Tokens (OIDC Back-Channel Logout 1.0 §2.4) and of the ID token.
      sid: state.sessionId,
      ...(scopes.has('email') ? { email: state.user.email, email_verified: await deps.emailVerified(state.tenantId, state.user.email) } : {}),
      ...(scopes.has('profile') ? { name: state.user.name ?? undefined } : {}),
      ...(scopes.has('permissions') ? { permissions: await deps.permissionsIn(state.tenantId, state.userId, state.accountId) } : {}),
    };
  }

  /**
   * The account behind an id, while its Tessera session lives. During an authorization request (`authorization`,
   * `resume`) a session in another account than the application's is still returned: the interaction policy then asks
   * for a sign-in (provider-config.ts); everywhere else (code exchange, refresh, userinfo) it is refused.
   */
  async function findAccount(ctx: KoaContextWithOIDC, accountId: string): Promise<Account | undefined> {
    const state = await liveState(accountId);
    const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
    if (!state) {
      // The browser's sign-in at the provider ended in Tessera (logout, revocation, de-provisioning): the browser is
      // signed out at the provider too, so the request prompts for a sign-in (or answers login_required).
      const session: { accountId?: string | undefined; authorizations?: unknown; touched?: boolean } | undefined = oidc?.session;
      if (session?.accountId === accountId) {
        delete session.accountId;
        session.authorizations = {};
        session.touched = true;
      }
      return undefined;
    }
    const client = oidc?.client;
    const inAuthorization = oidc?.route === 'authorization' || oidc?.route === 'resume';
    if (client && !inAuthorization && (client.metadata() as { tessera_account_id?: string }).tessera_account_id !== state.accountId) return undefined;
    return { accountId, tesseraAccountId: state.accountId, claims: (_use, scope) => claimsOf(state, scope) };
  }

  function tenantOf(payload: AdapterPayload): string | null {
    if (typeof payload.clientId === 'string') {
      const tenant = parseClientId(payload.clientId)?.tenantId;
      if (tenant) return tenant;
    }
    return typeof payload.accountId === 'string' ? (parseAccountId(payload.accountId)?.tenantId ?? null) : null;
  }

  /** RP-initiated logout (OIDC RP-Initiated Logout §2) that the user confirmed ends the Tessera session too. */
  async function endTesseraSession(accountId: string, meta: { ip: string; userAgent: string | null }): Promise<void> {
    const state = await liveState(accountId);
    if (!state) return;
    await sessions.logout({ tenantId: state.tenantId, userId: state.userId, accountId: state.accountId, sessionId: state.sessionId }, meta);
  }

  async function current(): Promise<NonNullable<typeof built>> {
    const key = await deps.keys.currentSigningKey();
    if (built?.kid === key.kid) return built;
    const jwk = { ...(key.privateKey.export({ format: 'jwk' }) as JWK), kid: key.kid, alg: key.alg, use: 'sig' };
    const provider = buildProvider(
      await loadOidcProvider(),
      {
        db: deps.db,
        clock,
        issuer: deps.issuer,
        masterKeys: deps.masterKeys,
        trustProxy: deps.trustProxy,
        findClient: (id) => deps.applications.findClient(id),
        secretMatches: (c, s) => deps.applications.secretMatches(c, s),
        findAccount,
        accountLive: async (accountId, tesseraAccountId) => (await liveState(accountId))?.accountId === tesseraAccountId,
        tokenClaims: async (accountId, scope) => {
          const state = await liveState(accountId);
          if (!state) return undefined;
          const permissions = scope.split(' ').includes('permissions') ? { permissions: await deps.permissionsIn(state.tenantId, state.userId, state.accountId) } : {};
          return { sub: state.userId, acc: state.accountId, tid: state.tenantId, sid: state.sessionId, ...permissions };
        },
        currentPermissions: async (accountId) => {
          const state = await liveState(accountId);
          return state ? deps.permissionsIn(state.tenantId, state.userId, state.accountId) : undefined;
        },
        tenantOf,
        onServerError: (error) => serverErrorListeners.forEach((l) => l(error)),
      },
      { kid: key.kid, alg: key.alg, jwk },
    );
    provider.use(async (ctx, next) => {
      await next();
      const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
      if (oidc?.route === 'end_session_confirm' && ctx.status === 303 && oidc.params?.logout) {
        const accountId = oidc.session?.accountId;
        if (accountId) await endTesseraSession(accountId, { ip: ctx.ip, userAgent: ctx.get('user-agent') || null });
      }
    });
    built = { kid: key.kid, provider, handler: provider.callback() };
    return built;
  }

  async function details(raw: Raw, uid: string) {
    const { provider } = await current();
    const interaction = await provider.interactionDetails(raw[0], raw[1]).catch(() => undefined);
    if (!interaction || interaction.uid !== uid) throw new AppError(OpenIdProviderErrors['openid_provider.interaction_not_found']);
    return { provider, interaction };
  }

  function actorOf(caller: SessionCaller, meta: { ip: string; userAgent: string | null }): AuditActor {
    return { type: 'user', id: caller.userId, ip: meta.ip, userAgent: meta.userAgent };
  }

  async function audited(tenantId: string, work: (tx: Tx) => Promise<void>): Promise<void> {
    await deps.db.tenantWork(tenantId, work);
  }

  return {
    /** The provider signing with the current key, and its request handler. */
    current,

    /** OIDC Back-Channel Logout 1.0: subscribe `sessionsEnded` to the sessions feature's `sessions.ended`. */
    backchannel,

    onServerError(listener: (error: unknown) => void): void {
      serverErrorListeners.push(listener);
    },

    /** What the hosted sign-in shows of an interaction (the application's name, the prompt, the scopes asked). */
    async summary(raw: Raw, uid: string): Promise<InteractionSummary> {
      const { provider, interaction } = await details(raw, uid);
      const client = await provider.Client.find(String(interaction.params.client_id));
      const meta = client?.metadata() as { client_name?: string; tessera_first_party?: boolean } | undefined;
      return {
        uid,
        prompt: interaction.prompt.name,
        clientName: meta?.client_name ?? 'An application',
        firstParty: meta?.tessera_first_party ?? true,
        scopes: textParam(interaction.params.scope).split(' ').filter(Boolean),
        loginHint: typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint.slice(0, 320) : null,
      };
    },

    /** The hosted sign-in page for an interaction. */
    async signInUrl(raw: Raw, uid: string): Promise<string> {
      const { interaction } = await details(raw, uid);
      const query = new URLSearchParams({ interaction: uid });
      if (typeof interaction.params.login_hint === 'string') query.set('login_hint', interaction.params.login_hint.slice(0, 320));
      return `/login?${query.toString()}`;
    },

    /**
     * Finishes an interaction with the caller's Tessera session: the application must belong to the session's
     * account; `prompt=login` needs a sign-in made after the request, `max_age` one recent enough (OIDC Core
     * §3.1.2.1). A browser that was signed in at the provider as another session leaves that sign-in first. Returns
     * where the browser goes next (the authorization endpoint resumes, then back to the application).
     */
    async completeLogin(raw: Raw, uid: string, caller: SessionCaller, meta: { ip: string; userAgent: string | null }): Promise<string> {
      const { provider, interaction } = await details(raw, uid);
      const client = await deps.applications.findClient(String(interaction.params.client_id));
      if (!client) throw new AppError(OpenIdProviderErrors['openid_provider.interaction_not_found']);
      const actor = actorOf(caller, meta);
      if (client.accountId !== caller.accountId) {
        await audited(caller.tenantId, (tx) =>
          deps.audit.record(tx, caller.tenantId, { action: 'openid_provider.login', actor, target: { type: 'application', id: client.id }, outcome: 'failure', errorCode: 'openid_provider.account_mismatch', details: { clientId: client.clientId, accountId: caller.accountId } }),
        );
        throw new AppError(OpenIdProviderErrors['openid_provider.account_mismatch']);
      }
      const prompts = new Set(textParam(interaction.params.prompt).split(' '));
      const nowSeconds = Math.floor(clock.now().getTime() / 1000);
      const authTime = caller.authTime ?? 0;
      const maxAge = interaction.params.max_age === undefined ? undefined : Number(interaction.params.max_age);
      const startedAt = interaction.exp - INTERACTION_TTL_SECONDS;
      if ((prompts.has('login') && authTime < startedAt) || (maxAge !== undefined && nowSeconds - authTime > maxAge)) {
        throw new AppError(OpenIdProviderErrors['openid_provider.reauthentication_required']);
      }
      const accountId = accountIdOf(caller.tenantId, caller.sessionId);
      const previous = interaction.session?.accountId;
      if (previous && previous !== accountId && interaction.session?.uid) {
        // oidc-provider would log the browser out of the previous sign-in with a self-submitting form first
        // (resume.js); it is done here instead: that sign-in's grants and Tessera session end, the interaction forgets it.
        const opSession = await provider.Session.findByUid(interaction.session.uid);
        if (opSession) {
          for (const [, entry] of Object.entries(opSession.authorizations ?? {})) {
            const grantId = entry.grantId;
            if (!grantId) continue;
            await (await provider.Grant.find(grantId))?.destroy();
            await deps.db.globalWork((tx) => artifacts.destroyByGrantId(tx, grantId));
          }
          await opSession.destroy();
        }
        await endTesseraSession(previous, meta);
        const forgotten = interaction.session as { uid?: string; accountId?: string };
        delete forgotten.uid;
        delete forgotten.accountId;
        await interaction.save(Math.max(1, interaction.exp - nowSeconds));
      }
      const result = {
        login: { accountId, ts: authTime || nowSeconds, remember: true },
        ...(prompts.has('select_account') ? { select_account: {} } : {}),
      };
      const redirectTo = await provider.interactionResult(raw[0], raw[1], result, { mergeWithLastSubmission: false });
      await audited(caller.tenantId, (tx) =>
        deps.audit.record(tx, caller.tenantId, { action: 'openid_provider.login', actor, target: { type: 'application', id: client.id }, outcome: 'success', details: { clientId: client.clientId, sessionId: caller.sessionId } }),
      );
      return redirectTo;
    },

    /** The user declined: the application receives `access_denied` (RFC 6749 §4.1.2.1). */
    async abort(raw: Raw, uid: string): Promise<string> {
      const { provider } = await details(raw, uid);
      return provider.interactionResult(raw[0], raw[1], { error: 'access_denied', error_description: 'The user cancelled the sign-in.' }, { mergeWithLastSubmission: false });
    },

    /** Consent to a third-party application (first-party ones never ask): the scopes it asked, granted. */
    async consent(raw: Raw, uid: string): Promise<string> {
      const { provider, interaction } = await details(raw, uid);
      const accountId = interaction.session?.accountId;
      const state = accountId ? await liveState(accountId) : undefined;
      if (interaction.prompt.name !== 'consent' || !accountId || !state) throw new AppError(OpenIdProviderErrors['openid_provider.interaction_not_found']);
      const clientId = String(interaction.params.client_id);
      const grant = (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ?? new provider.Grant({ accountId, clientId });
      const asked = interaction.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
      const missing = asked.missingOIDCScope;
      if (missing?.length) grant.addOIDCScope(missing.join(' '));
      // The same scopes for the API the access token is for (RFC 8707 resource indicators).
      for (const [indicator, scopes] of Object.entries(asked.missingResourceScopes ?? {})) {
        if (scopes.length > 0) grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      const client = await deps.applications.findClient(clientId);
      await audited(state.tenantId, (tx) =>
        deps.audit.record(tx, state.tenantId, { action: 'openid_provider.consent', actor: { type: 'user', id: state.userId }, target: { type: 'application', id: client?.id ?? clientId }, outcome: 'success', details: { clientId, scopes: missing ?? [], sessionId: state.sessionId } }),
      );
      return provider.interactionResult(raw[0], raw[1], { consent: { grantId } }, { mergeWithLastSubmission: true });
    },

    /** Expired artefacts removed (the provider never reads them again). */
    purgeExpired(): Promise<number> {
      return deps.db.globalWork((tx) => artifacts.purgeExpired(tx, clock.now()));
    },

    /**
     * The purge, every hour on each instance (a delete of expired rows: instances running it at once do no harm), and
     * the back-channel logout deliveries every few seconds (one pass at a time across instances: advisory lock).
     */
    startJobs({ log, intervalMs = 3_600_000, firstMs = 120_000, backchannelMs = 5_000 }: { log: JobLog; intervalMs?: number; firstMs?: number; backchannelMs?: number }): PeriodicJob {
      const purge = startPeriodicJob('openid-provider-purge', async () => ({ expiredArtifacts: await deps.db.globalWork((tx) => artifacts.purgeExpired(tx, clock.now())) }), { log, intervalMs, firstMs });
      const logout = startPeriodicJob('openid-provider-backchannel-logout', async () => ({ ...(await backchannel.deliver()) }), { log, intervalMs: backchannelMs, firstMs: backchannelMs });
      return { stop: async () => void (await Promise.all([purge.stop(), logout.stop()])) };
    },
  };
}

export type OpenIdProviderService = ReturnType<typeof createOpenIdProvider>;
export { OP_PATH };
