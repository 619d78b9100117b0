import { timingSafeEqual } from 'node:crypto';
import { hashOpaqueToken } from '../../crypto/opaque-token.js';
import { randomToken } from '../../crypto/random.js';
import type { Database, Tx } from '../../db/database.js';
import { AppError } from '../../kernel/app-error.js';
import type { Clock } from '../../kernel/clock.js';
import { newId } from '../../kernel/ids.js';
import type { AuditActor, AuditRecorder } from '../audit/index.js';
import { ApplicationsErrors } from './applications.errors.js';
import type { CreateApplicationInput, UpdateApplicationInput } from './applications.schema.js';
import * as store from './applications.store.js';
import { type ApplicationType, originProblem, redirectUriProblem, resourceProblem } from './redirect-uris.js';

/**
 * Applications of an account (docs/openid-provider.md): the product's apps that sign users in through Tessera's
 * OpenID Provider. The client id names the tenant (`tc1.<tenant id>.<application id>`) so the provider can open the
 * tenant's unit of work from it alone; the client secret (`tcs1.<256 random bits>`) is shown once and only its
 * SHA-256 is kept (DESIGN §4).
 */
const CLIENT_ID = /^tc1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[0-9a-f-]{36}$/;
const SECRET_CONTEXT = 'tessera:client-secret:';

export interface Application {
  readonly id: string;
  readonly accountId: string;
  readonly clientId: string;
  readonly name: string;
  readonly type: ApplicationType;
  readonly firstParty: boolean;
  readonly redirectUris: string[];
  readonly postLogoutRedirectUris: string[];
  readonly allowedOrigins: string[];
  readonly tokenEndpointAuthMethod: 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  readonly scopes: string[];
  /** The APIs (RFC 8707 resource indicators) it obtains JWT access tokens for; the first is the default audience. */
  readonly resources: string[];
  /** OIDC Back-Channel Logout 1.0 §2.2: where Logout Tokens are POSTed, and whether they must carry `sid`. */
  readonly backchannelLogoutUri: string | null;
  readonly backchannelLogoutSessionRequired: boolean;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** What the OpenID Provider needs of an application: its settings, its tenant, and its keys or secret hash. */
export interface ProviderClient extends Application {
  readonly tenantId: string;
  readonly jwks: { keys: Record<string, unknown>[] } | null;
  readonly secretHash: Buffer | null;
}

export interface Scope {
  readonly tenantId: string;
  readonly accountId: string;
}

type UserActor = AuditActor & { readonly type: 'user'; readonly id: string };

export interface ApplicationsDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly audit: AuditRecorder;
}

const DEFAULT_SCOPES = ['openid', 'email', 'profile', 'offline_access'];

function toApplication(r: store.ApplicationRow): Application {
  return {
    id: r.id,
    accountId: r.account_id,
    clientId: r.client_id,
    name: r.name,
    type: r.type,
    firstParty: r.first_party,
    redirectUris: r.redirect_uris,
    postLogoutRedirectUris: r.post_logout_redirect_uris,
    allowedOrigins: r.allowed_origins,
    tokenEndpointAuthMethod: r.token_endpoint_auth_method,
    scopes: r.scopes,
    resources: r.resources,
    backchannelLogoutUri: r.backchannel_logout_uri,
    backchannelLogoutSessionRequired: r.backchannel_logout_session_required,
    accessTokenTtlSeconds: r.access_token_ttl_seconds,
    refreshTokenTtlSeconds: r.refresh_token_ttl_seconds,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

function invalid(code: keyof typeof ApplicationsErrors, message: string): never {
  throw new AppError(ApplicationsErrors[code], { message });
}

/** The settings an application of `type` must have, checked together (every refusal names what to change). */
function checkSettings(type: ApplicationType, s: { redirectUris: string[]; postLogoutRedirectUris: string[]; allowedOrigins: string[]; resources: string[]; backchannelLogoutUri: string | null; authMethod: string; jwks: unknown; scopes: string[] }): void {
  for (const uri of s.redirectUris) {
    const problem = redirectUriProblem(uri, type);
    if (problem) invalid('applications.invalid_redirect_uri', `Redirect URI ${JSON.stringify(uri.slice(0, 200))}: ${problem}.`);
  }
  for (const uri of s.postLogoutRedirectUris) {
    const problem = redirectUriProblem(uri, type);
    if (problem) invalid('applications.invalid_redirect_uri', `Post-logout redirect URI ${JSON.stringify(uri.slice(0, 200))}: ${problem}.`);
  }
  for (const origin of s.allowedOrigins) {
    const problem = originProblem(origin);
    if (problem) invalid('applications.invalid_origin', `Allowed origin ${JSON.stringify(origin.slice(0, 200))}: ${problem}.`);
  }
  for (const resource of s.resources) {
    const problem = resourceProblem(resource);
    if (problem) invalid('applications.invalid_resource', `API identifier ${JSON.stringify(resource.slice(0, 200))}: ${problem}.`);
  }
  if (s.backchannelLogoutUri !== null) {
    // OIDC Back-Channel Logout 1.0 §2.2: an absolute URL without a fragment; the redirect URI rule (https, http on loopback).
    const problem = type === 'machine' ? 'a machine application signs no user in' : redirectUriProblem(s.backchannelLogoutUri, 'web');
    if (problem) invalid('applications.invalid_config', `Back-channel logout URI ${JSON.stringify(s.backchannelLogoutUri.slice(0, 200))}: ${problem}.`);
  }
  if (new Set(s.resources).size !== s.resources.length) invalid('applications.invalid_resource', 'An API identifier is listed twice.');
  if (type === 'machine') {
    if (s.redirectUris.length > 0 || s.postLogoutRedirectUris.length > 0) invalid('applications.invalid_config', 'A machine application signs no user in: it has no redirect URIs.');
    if (s.scopes.length > 0) invalid('applications.invalid_config', 'A machine application obtains tokens for itself (client credentials): it takes no user scopes.');
  } else {
    if (s.redirectUris.length === 0) invalid('applications.invalid_config', 'Give at least one redirect URI.');
    if (!s.scopes.includes('openid')) invalid('applications.invalid_config', 'An application that signs users in needs the openid scope.');
  }
  if (s.authMethod === 'private_key_jwt' && !s.jwks) invalid('applications.invalid_config', 'private_key_jwt needs the public keys (jwks) the application signs its assertions with.');
  if (s.authMethod !== 'private_key_jwt' && s.jwks) invalid('applications.invalid_config', 'Public keys (jwks) are used only with private_key_jwt.');
}

/** A public client (SPA, native) holds no secret (RFC 6749 §2.1); a confidential one authenticates with a secret or a signed assertion. */
function authMethodFor(type: ApplicationType, asked: CreateApplicationInput['tokenEndpointAuthMethod']): Application['tokenEndpointAuthMethod'] {
  if (type === 'spa' || type === 'native') {
    if (asked) invalid('applications.invalid_config', 'SPA and native applications are public clients: they cannot keep a secret, so they take no token endpoint authentication method (they use PKCE).');
    return 'none';
  }
  return asked ?? 'client_secret_basic';
}

export function parseClientId(clientId: string): { tenantId: string } | undefined {
  const m = CLIENT_ID.exec(clientId);
  return m ? { tenantId: m[1]! } : undefined;
}

export function createApplicationsService({ db, clock, audit }: ApplicationsDeps) {
  async function mustFind(tx: Tx, scope: Scope, id: string): Promise<store.ApplicationRow> {
    const row = await store.findApplication(tx, scope.tenantId, scope.accountId, id);
    if (!row) throw new AppError(ApplicationsErrors['applications.not_found']);
    return row;
  }

  return {
    /** Registers an application; a confidential client's secret is in the answer once. Audited. */
    create(scope: Scope, actor: UserActor, input: CreateApplicationInput): Promise<Application & { clientSecret: string | null }> {
      const authMethod = authMethodFor(input.type, input.tokenEndpointAuthMethod);
      const settings = {
        redirectUris: input.redirectUris ?? [],
        postLogoutRedirectUris: input.postLogoutRedirectUris ?? [],
        allowedOrigins: input.allowedOrigins ?? [],
        resources: input.resources ?? [],
        backchannelLogoutUri: input.backchannelLogoutUri ?? null,
        scopes: input.scopes ?? (input.type === 'machine' ? [] : DEFAULT_SCOPES),
      };
      checkSettings(input.type, { ...settings, authMethod, jwks: input.jwks });
      return db.tenantWork(scope.tenantId, async (tx) => {
        const now = clock.now();
        const id = newId(now.getTime());
        const clientId = `tc1.${scope.tenantId}.${id}`;
        const secret = authMethod === 'client_secret_basic' || authMethod === 'client_secret_post' ? `tcs1.${randomToken(32)}` : null;
        await store.insertApplication(tx, scope.tenantId, {
          id,
          account_id: scope.accountId,
          client_id: clientId,
          name: input.name,
          type: input.type,
          first_party: input.firstParty ?? true,
          redirect_uris: settings.redirectUris,
          post_logout_redirect_uris: settings.postLogoutRedirectUris,
          allowed_origins: settings.allowedOrigins,
          token_endpoint_auth_method: authMethod,
          secret_hash: secret ? hashOpaqueToken(secret, SECRET_CONTEXT) : null,
          jwks: input.jwks ? JSON.stringify(input.jwks) : null,
          scopes: settings.scopes,
          resources: settings.resources,
          backchannel_logout_uri: settings.backchannelLogoutUri,
          backchannel_logout_session_required: input.backchannelLogoutSessionRequired ?? false,
          access_token_ttl_seconds: input.accessTokenTtlSeconds ?? 300,
          refresh_token_ttl_seconds: input.refreshTokenTtlSeconds ?? 14 * 86_400,
          created_by: actor.id,
          created_at: now,
          updated_at: now,
        });
        const created = toApplication((await store.findApplication(tx, scope.tenantId, scope.accountId, id))!);
        await audit.record(tx, scope.tenantId, {
          action: 'application.created',
          actor,
          target: { type: 'application', id },
          outcome: 'success',
          details: { accountId: scope.accountId, name: input.name, type: input.type, clientId, redirectUris: created.redirectUris, scopes: created.scopes, resources: created.resources, backchannelLogoutUri: created.backchannelLogoutUri, tokenEndpointAuthMethod: authMethod },
        });
        return { ...created, clientSecret: secret };
      });
    },

    async list(scope: Scope): Promise<Application[]> {
      const rows = await db.tenantWork(scope.tenantId, (tx) => store.listApplications(tx, scope.tenantId, scope.accountId));
      return rows.map(toApplication);
    },

    get(scope: Scope, id: string): Promise<Application> {
      return db.tenantWork(scope.tenantId, async (tx) => toApplication(await mustFind(tx, scope, id)));
    },

    /** Changes an application's settings (its type and authentication method stay). Audited with what changed. */
    update(scope: Scope, actor: UserActor, id: string, patch: UpdateApplicationInput): Promise<Application> {
      return db.tenantWork(scope.tenantId, async (tx) => {
        const row = await mustFind(tx, scope, id);
        const next = {
          redirectUris: patch.redirectUris ?? row.redirect_uris,
          postLogoutRedirectUris: patch.postLogoutRedirectUris ?? row.post_logout_redirect_uris,
          allowedOrigins: patch.allowedOrigins ?? row.allowed_origins,
          resources: patch.resources ?? row.resources,
          backchannelLogoutUri: patch.backchannelLogoutUri !== undefined ? patch.backchannelLogoutUri : row.backchannel_logout_uri,
          scopes: patch.scopes ?? row.scopes,
        };
        checkSettings(row.type, { ...next, authMethod: row.token_endpoint_auth_method, jwks: patch.jwks ?? row.jwks });
        const now = clock.now();
        await store.updateApplication(tx, scope.tenantId, id, {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.firstParty !== undefined ? { first_party: patch.firstParty } : {}),
          redirect_uris: next.redirectUris,
          post_logout_redirect_uris: next.postLogoutRedirectUris,
          allowed_origins: next.allowedOrigins,
          scopes: next.scopes,
          resources: next.resources,
          backchannel_logout_uri: next.backchannelLogoutUri,
          ...(patch.backchannelLogoutSessionRequired !== undefined ? { backchannel_logout_session_required: patch.backchannelLogoutSessionRequired } : {}),
          ...(patch.jwks !== undefined ? { jwks: JSON.stringify(patch.jwks) } : {}),
          ...(patch.accessTokenTtlSeconds !== undefined ? { access_token_ttl_seconds: patch.accessTokenTtlSeconds } : {}),
          ...(patch.refreshTokenTtlSeconds !== undefined ? { refresh_token_ttl_seconds: patch.refreshTokenTtlSeconds } : {}),
          updated_at: now,
        });
        await audit.record(tx, scope.tenantId, { action: 'application.updated', actor, target: { type: 'application', id }, outcome: 'success', details: { accountId: scope.accountId, changed: Object.keys(patch).sort() } });
        return toApplication((await store.findApplication(tx, scope.tenantId, scope.accountId, id))!);
      });
    },

    /** A new client secret (shown once); the old one stops working at once. Audited. */
    rotateSecret(scope: Scope, actor: UserActor, id: string): Promise<Application & { clientSecret: string }> {
      return db.tenantWork(scope.tenantId, async (tx) => {
        const row = await mustFind(tx, scope, id);
        if (row.token_endpoint_auth_method !== 'client_secret_basic' && row.token_endpoint_auth_method !== 'client_secret_post') {
          invalid('applications.invalid_config', 'This application authenticates without a client secret.');
        }
        const secret = `tcs1.${randomToken(32)}`;
        const now = clock.now();
        await store.updateApplication(tx, scope.tenantId, id, { secret_hash: hashOpaqueToken(secret, SECRET_CONTEXT), updated_at: now });
        await audit.record(tx, scope.tenantId, { action: 'application.secret_rotated', actor, target: { type: 'application', id }, outcome: 'success', details: { accountId: scope.accountId } });
        return { ...toApplication({ ...row, updated_at: now }), clientSecret: secret };
      });
    },

    /** Deletes an application: its client id stops authenticating at once (the provider reads it on every use). Audited. */
    remove(scope: Scope, actor: UserActor, id: string): Promise<void> {
      return db.tenantWork(scope.tenantId, async (tx) => {
        const row = await mustFind(tx, scope, id);
        await store.deleteApplication(tx, scope.tenantId, id);
        await audit.record(tx, scope.tenantId, { action: 'application.deleted', actor, target: { type: 'application', id }, outcome: 'success', details: { accountId: scope.accountId, name: row.name, clientId: row.client_id } });
      });
    },

    /** The application a client id names, read now (the provider asks on every use), or undefined. */
    async findClient(clientId: string): Promise<ProviderClient | undefined> {
      const parsed = parseClientId(clientId);
      if (!parsed) return undefined;
      const row = await db.tenantWork(parsed.tenantId, (tx) => store.findApplicationByClientId(tx, parsed.tenantId, clientId));
      if (!row) return undefined;
      return { ...toApplication(row), tenantId: row.tenant_id, jwks: row.jwks, secretHash: row.secret_hash ? Buffer.from(row.secret_hash) : null };
    },

    /** Of these client ids, the applications with a back-channel logout URI, in the caller's unit of work. */
    async backchannelTargetsIn(tx: Tx, tenantId: string, clientIds: readonly string[]): Promise<{ id: string; clientId: string }[]> {
      return (await store.findBackchannelTargets(tx, tenantId, clientIds)).map((r) => ({ id: r.id, clientId: r.client_id }));
    },

    /** Whether `presented` is the client's secret (constant time over the hashes). */
    secretMatches(client: Pick<ProviderClient, 'secretHash'>, presented: string): boolean {
      if (!client.secretHash) return false;
      return timingSafeEqual(client.secretHash, hashOpaqueToken(presented, SECRET_CONTEXT));
    },
  };
}

export type ApplicationsService = ReturnType<typeof createApplicationsService>;
