import { createHmac } from 'node:crypto';
import { decodeJwt, type JWK } from 'jose';
import * as querystring from 'node:querystring';
import type * as OidcProviderNamespace from 'oidc-provider';
import type { Account, AdapterPayload, ClientMetadata, Configuration, KoaContextWithOIDC, default as Provider, SigningAlgorithm as JoseAlgorithm } from 'oidc-provider';
import type { SigningAlgorithm } from '../../config/config.schema.js';
import type { MasterKeys } from '../../crypto/master-key.js';
import type { Database } from '../../db/database.js';
import type { Clock } from '../../kernel/clock.js';
import type { ProviderClient } from '../applications/index.js';
import { artifactAdapter } from './artifact-adapter.js';
import { isJwt, JWT_HANDLE_FIELD, jwtHandle } from './jwt-handle.js';
import { logoutSource, postLogoutSuccessSource, renderError } from './provider-pages.js';

/**
 * Tessera's OpenID Provider is oidc-provider 9 (panva; OpenID Certified), configured here. Its endpoints live under
 * `/oidc/`, its issuer is PUBLIC_URL itself, so discovery is `PUBLIC_URL/.well-known/openid-configuration` (OIDC
 * Discovery §4) and `jwks_uri` is the key set Tessera already publishes (`/.well-known/jwks.json`).
 */
export const OP_PATH = '/oidc';

export const OP_ROUTES = {
  authorization: `${OP_PATH}/auth`,
  token: `${OP_PATH}/token`,
  userinfo: `${OP_PATH}/me`,
  introspection: `${OP_PATH}/token/introspection`,
  revocation: `${OP_PATH}/token/revocation`,
  end_session: `${OP_PATH}/session/end`,
  jwks: '/.well-known/jwks.json',
  // Not enabled; named under /oidc so that none can shadow a Tessera route.
  registration: `${OP_PATH}/reg`,
  pushed_authorization_request: `${OP_PATH}/request`,
  device_authorization: `${OP_PATH}/device/auth`,
  code_verification: `${OP_PATH}/device`,
  backchannel_authentication: `${OP_PATH}/backchannel`,
  challenge: `${OP_PATH}/challenge`,
} as const;

/** The account's claim holding the user id that becomes `sub` (never in a token itself). */
export const SUBJECT_CLAIM = 'tessera:subject';

/** How long a sign-in request waits for the user (oidc-provider's Interaction artefact). */
export const INTERACTION_TTL_SECONDS = 600;

export const OP_SCOPES = ['openid', 'offline_access', 'email', 'profile', 'permissions'] as const;

/** Tessera's own client metadata (extraClientMetadata): what the provider reads of the application on every use. */
export interface TesseraClientMetadata {
  readonly tessera_tenant_id: string;
  readonly tessera_account_id: string;
  readonly tessera_first_party: boolean;
  readonly tessera_origins: string[];
  readonly tessera_access_ttl: number;
  readonly tessera_refresh_ttl: number;
  /** The APIs it may name as `resource` (RFC 8707); the first is its default audience. */
  readonly tessera_resources: string[];
}
const TESSERA_METADATA = ['tessera_tenant_id', 'tessera_account_id', 'tessera_first_party', 'tessera_origins', 'tessera_access_ttl', 'tessera_refresh_ttl', 'tessera_resources'] as const;

/**
 * The resource indicator (RFC 8707) of an application that registered no API: its JWT access tokens are for the
 * application itself, `aud` = its client id (a client id is not an absolute URI, which a resource indicator must be).
 */
export const clientResource = (clientId: string): string => `urn:tessera:client:${clientId}`;

/** The resource a token request that names none is for: the first registered API, else the application itself. */
export function defaultResourceOf(metadata: Pick<TesseraClientMetadata, 'tessera_resources'> & { client_id: string }): string {
  return metadata.tessera_resources[0] ?? clientResource(metadata.client_id);
}

/** The `aud` of a JWT access token for `resource`, or undefined when the application may not name it. */
export function audienceOf(metadata: Pick<TesseraClientMetadata, 'tessera_resources'> & { client_id: string }, resource: string): string | undefined {
  if (resource === clientResource(metadata.client_id)) return metadata.client_id;
  return metadata.tessera_resources.includes(resource) ? resource : undefined;
}


/** The application as oidc-provider's client metadata (RFC 7591 §2 names). */
export function clientMetadataOf(app: ProviderClient, alg: SigningAlgorithm): ClientMetadata & TesseraClientMetadata {
  const machine = app.type === 'machine';
  const refresh = !machine && app.scopes.includes('offline_access');
  return {
    client_id: app.clientId,
    client_name: app.name,
    application_type: app.type === 'native' ? 'native' : 'web',
    token_endpoint_auth_method: app.tokenEndpointAuthMethod,
    // oidc-provider compares the presented secret through compareClientSecret (replaced in buildProvider): the
    // stored value is the hash, never a usable secret.
    ...(app.secretHash ? { client_secret: app.secretHash.toString('base64url') } : {}),
    ...(app.jwks ? { jwks: app.jwks } : {}),
    grant_types: machine ? ['client_credentials'] : refresh ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
    response_types: machine ? [] : ['code'],
    redirect_uris: app.redirectUris,
    post_logout_redirect_uris: app.postLogoutRedirectUris,
    ...(app.scopes.length > 0 ? { scope: app.scopes.join(' ') } : {}),
    id_token_signed_response_alg: alg,
    tessera_tenant_id: app.tenantId,
    tessera_account_id: app.accountId,
    tessera_first_party: app.firstParty,
    tessera_origins: app.allowedOrigins,
    tessera_access_ttl: app.accessTokenTtlSeconds,
    tessera_refresh_ttl: app.refreshTokenTtlSeconds,
    tessera_resources: app.resources,
  };
}

export interface ProviderDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly issuer: string;
  readonly masterKeys: MasterKeys;
  readonly trustProxy: boolean;
  /** The application a client id names, read on every use (a deleted application stops at once). */
  readonly findClient: (clientId: string) => Promise<ProviderClient | undefined>;
  readonly secretMatches: (client: Pick<ProviderClient, 'secretHash'>, presented: string) => boolean;
  readonly findAccount: (ctx: KoaContextWithOIDC, accountId: string) => Promise<Account | undefined>;
  /** Whether the Tessera session behind an account id is still live (introspection answers inactive otherwise). */
  readonly accountLive: (accountId: string, tesseraAccountId: string) => Promise<boolean>;
  /**
   * Token claims beyond the library's: the user's `sub` (the account id is the session), `acc`, `tid`, `sid` (the
   * Tessera session), and `permissions` when the token's scope has `permissions`.
   */
  readonly tokenClaims: (accountId: string, scope: string) => Promise<Record<string, unknown> | undefined>;
  /** The user's permission keys in the account now (introspection answers the current set, not the issued one). */
  readonly currentPermissions: (accountId: string) => Promise<string[] | undefined>;
  readonly tenantOf: (payload: AdapterPayload) => string | null;
  readonly onServerError: (error: unknown) => void;
}

/** Cookie keys derived from the master keys (current first, previous to verify what it signed): never stored. */
function cookieKeys(master: MasterKeys): string[] {
  const derive = (key: Buffer) => createHmac('sha256', key).update('tessera:oidc-provider:cookie-keys').digest('base64url');
  return [master.current.key, ...(master.previous ? [master.previous.key] : [])].map(derive);
}

/**
 * The interaction policy: oidc-provider's, plus
 * - `prompt=select_account` (OIDC Core §3.1.2.1) as a requestable prompt the hosted sign-in resolves (account picker);
 * - a sign-in is needed when the browser's session is in another account than the application's: an application
 *   obtains tokens only for sessions in its own account.
 */
function policy({ interactionPolicy }: OidcProviderModule) {
  const rules = interactionPolicy.base();
  rules.add(new interactionPolicy.Prompt({ name: 'select_account', requestable: true }), 0);
  rules.get('login')!.checks.add(
    new interactionPolicy.Check('application_account', 'the signed-in session is in another account than the application', 'login_required', (ctx) => {
      const { account, client } = ctx.oidc;
      if (!account || !client) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return (account as { tesseraAccountId?: string }).tesseraAccountId === meta(client).tessera_account_id ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return rules;
}

/** The account id a token is bound to; client-credentials tokens have none. */
const accountIdOf = (token: object): string | undefined => ('accountId' in token && typeof token.accountId === 'string' ? token.accountId : undefined);

const meta = (client: { metadata(): object }) => client.metadata() as unknown as TesseraClientMetadata;

/**
 * One provider over one signing key. The key set oidc-provider signs with is fixed when it is built, so a new
 * provider is built when Tessera's current signing key changes (openid-provider.service.ts); everything it keeps
 * lives in the database, so the provider it replaces leaves nothing behind.
 */
export type OidcProviderModule = typeof OidcProviderNamespace;
let loading: Promise<OidcProviderModule> | undefined;
/**
 * oidc-provider, loaded when the first provider is built rather than when Tessera starts: on a Node.js it does not
 * support (20) its import prints "Unsupported runtime" on stderr, which every CLI command and every server would
 * print although only the OpenID Provider uses it.
 */
export const loadOidcProvider = (): Promise<OidcProviderModule> => (loading ??= import('oidc-provider'));

export function buildProvider(oidc: OidcProviderModule, deps: ProviderDeps, key: { kid: string; alg: SigningAlgorithm; jwk: JWK }): Provider {
  const ttlOf = (field: 'tessera_access_ttl' | 'tessera_refresh_ttl') => (_ctx: unknown, _token: unknown, client: { metadata(): object }) => meta(client)[field];
  const clientAlgs: JoseAlgorithm[] = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'];
  const configuration: Configuration = {
    adapter: artifactAdapter({
      errors: oidc.errors,
      db: deps.db,
      clock: deps.clock,
      tenantOf: deps.tenantOf,
      clientMetadata: async (clientId) => {
        const app = await deps.findClient(clientId);
        return app ? (clientMetadataOf(app, key.alg)) : undefined;
      },
    }),
    jwks: { keys: [key.jwk] },
    cookies: { keys: cookieKeys(deps.masterKeys) },
    findAccount: (ctx, sub) => deps.findAccount(ctx, sub),
    extraClientMetadata: { properties: [...TESSERA_METADATA] },
    clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: key.alg },
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    enabledJWA: {
      idTokenSigningAlgValues: [key.alg],
      userinfoSigningAlgValues: [key.alg],
      introspectionSigningAlgValues: [key.alg],
      authorizationSigningAlgValues: [key.alg],
      clientAuthSigningAlgValues: clientAlgs,
      requestObjectSigningAlgValues: clientAlgs,
    },
    responseTypes: ['code'],
    scopes: [...OP_SCOPES],
    claims: { openid: ['sub', 'acc', 'sid'], email: ['email', 'email_verified'], profile: ['name'], permissions: ['permissions'] },
    // The scope's claims go in the ID token too (applications read `acc` and `email` from it without a userinfo call).
    conformIdTokenClaims: false,
    // OAuth 2.1 §4.1.1 / RFC 9700 §2.1.1: PKCE for every authorization code, public or confidential client; S256 only.
    pkce: { required: () => true },
    // RFC 6749 §3.1.2.3: exact redirect URI match, always named in the request.
    allowOmittingSingleRegisteredRedirectUri: false,
    // Refresh tokens for applications allowed them, rotated on every use (RFC 9700 §4.14.2); they never outlive the
    // Tessera session they are bound to (findAccount answers nothing once it ended).
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    loadExistingGrant: async (ctx) => {
      const account = ctx.oidc.account;
      const client = ctx.oidc.client;
      if (!account || !client) return undefined;
      const grantId = (ctx.oidc.result?.consent as { grantId?: string } | undefined)?.grantId ?? ctx.oidc.session?.grantIdFor(client.clientId);
      const found = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      // A grant of another sign-in (another Tessera session) is not this one's.
      const existing = found && found.accountId === account.accountId && found.clientId === client.clientId ? found : undefined;
      if (!meta(client).tessera_first_party) return existing;
      // A first-party application is the product itself: no consent screen; the grant covers what it asks within its scopes.
      const grant = existing ?? new ctx.oidc.provider.Grant({ accountId: account.accountId, clientId: client.clientId });
      const asked = [...(ctx.oidc.requestParamScopes ?? new Set<string>())].filter((s) => s !== 'offline_access' || client.grantTypeAllowed('refresh_token'));
      if (asked.length > 0) grant.addOIDCScope(asked.join(' '));
      // The API the access token is for (RFC 8707): the same scopes, within what that resource server takes.
      for (const [indicator, server] of Object.entries(ctx.oidc.resourceServers ?? {})) {
        const scopes = asked.filter((s) => server.scopes.has(s));
        if (scopes.length > 0) grant.addResourceScope(indicator, scopes.join(' '));
      }
      await grant.save();
      return grant;
    },
    extraTokenClaims: async (_ctx, token) => {
      const accountId = accountIdOf(token);
      return accountId ? deps.tokenClaims(accountId, 'scope' in token && typeof token.scope === 'string' ? token.scope : '') : undefined;
    },
    formats: {
      customizers: {
        // RFC 9068 §2.2: `sub` is the user (oidc-provider puts the account id, which names the Tessera session here;
        // the user id is in the extra claims); a client-credentials token keeps `sub` = client id and no user claims.
        jwt: (_ctx, token, jwt) => {
          const extra = (token as { extra?: Record<string, unknown> }).extra;
          if (typeof extra?.sub === 'string') jwt.payload.sub = extra.sub;
        },
      },
    },
    clientBasedCORS: (_ctx, origin, client) => meta(client).tessera_origins.includes(origin),
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // RFC 7662 §4: a client learns about its own tokens, or a confidential client of the same account about
        // that account's tokens; a token whose Tessera session ended is inactive.
        allowedPolicy: async (ctx, client, token) => {
          const own = token.clientId === client.clientId;
          if (!own) {
            if (client.clientAuthMethod === 'none' || !token.clientId) return false;
            const other = await ctx.oidc.provider.Client.find(token.clientId);
            if (!other || meta(other).tessera_account_id !== meta(client).tessera_account_id) return false;
          }
          const accountId = accountIdOf(token);
          return accountId ? deps.accountLive(accountId, meta(client).tessera_account_id) : true;
        },
      },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client revokes only its own tokens.
        allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
      },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      // RFC 8707 resource indicators → RFC 9068 JWT access tokens, signed by oidc-provider with Tessera's current key.
      // A request that names no resource gets the application's default audience (its first registered API, else its
      // client id); a resource it did not register is refused with `invalid_target` (RFC 8707 §2). At the token
      // endpoint the code's or refresh token's own resource applies (useGrantedResource), so a refresh keeps its audience.
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, client, oneOf) => oneOf ?? defaultResourceOf({ ...meta(client), client_id: client.clientId }),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource, client) => {
          const audience = audienceOf({ ...meta(client), client_id: client.clientId }, resource);
          if (!audience) throw new oidc.errors.InvalidTarget('the application has not registered this resource');
          return { scope: client.scope ?? '', audience, accessTokenFormat: 'jwt', jwt: { sign: { alg: key.alg } } };
        },
      },
    },
    interactions: { policy: policy(oidc), url: (_ctx, interaction) => `${OP_PATH}/interaction/${interaction.uid}` },
    routes: OP_ROUTES,
    ttl: {
      AccessToken: ttlOf('tessera_access_ttl'),
      ClientCredentials: ttlOf('tessera_access_ttl'),
      RefreshToken: ttlOf('tessera_refresh_ttl'),
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: INTERACTION_TTL_SECONDS,
      Session: 14 * 86_400,
      Grant: 14 * 86_400,
    },
    renderError: (ctx, out) => renderError(ctx, out),
  };
  const provider = new oidc.Provider(deps.issuer, configuration);
  provider.proxy = deps.trustProxy;
  // Client secrets are stored as hashes (DESIGN §4); the library's own comparison would need the secret itself.
  provider.Client.prototype.compareClientSecret = function (this: { clientSecret?: string }, actual: string) {
    return Promise.resolve(deps.secretMatches({ secretHash: this.clientSecret ? Buffer.from(this.clientSecret, 'base64url') : null }, actual));
  };
  // oidc-provider sets `sub` to the account id, which here names the Tessera session (openid-provider.service.ts);
  // the subject an application sees is the user (OIDC Core §2: locally unique, never reassigned), carried by the
  // account's claims as SUBJECT_CLAIM and put back here, in the one place ID token and userinfo claims are built.
  const claimsOf = Object.getOwnPropertyDescriptor(provider.Claims.prototype, 'result')!.value as (this: unknown) => Promise<Record<string, unknown>>;
  provider.Claims.prototype.result = async function (this: { available: Record<string, unknown> }) {
    const claims = await claimsOf.call(this);
    const subject = this.available[SUBJECT_CLAIM];
    if (claims.sub !== undefined && typeof subject === 'string') claims.sub = subject;
    return claims;
  };
  storeJwtAccessTokens(oidc, provider, deps);
  // OIDC Back-Channel Logout 1.0 §2.1: Tessera sends the Logout Tokens itself (backchannel-logout.ts, on every way a
  // Tessera session ends), so oidc-provider's own feature (which would fire only on its own session's end) stays off.
  provider.use(async (ctx, next) => {
    await next();
    if ((ctx.oidc as KoaContextWithOIDC['oidc'] | undefined)?.route === 'discovery' && ctx.body && typeof ctx.body === 'object') {
      Object.assign(ctx.body, { backchannel_logout_supported: true, backchannel_logout_session_supported: true });
    }
  });
  provider.on('server_error', (_ctx: unknown, error: unknown) => deps.onServerError(error));
  return provider;
}

type TokenModel = { prototype: { getValueAndPayload: (this: TokenInstance) => Promise<{ value: string; payload?: Record<string, unknown> }> }; IN_PAYLOAD: string[] };
type TokenInstance = Record<string, unknown> & { format?: string; constructor: { IN_PAYLOAD: string[] } };
const TOKEN_PATHS = new Set([OP_ROUTES.introspection, OP_ROUTES.revocation]);
/** oidc-provider's own body limit (shared/selective_body.js). */
const BODY_LIMIT = 56 * 1024;

async function readBody(req: NodeJS.ReadableStream & { headers: Record<string, unknown> }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > BODY_LIMIT) throw new Error('request entity too large');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * JWT access tokens (RFC 9068) that stay bound to the Tessera session behind them. oidc-provider signs them and keeps
 * no record; Tessera keeps one (under the JWT's handle, see jwtHandle) so that
 * - userinfo, introspection (RFC 7662) and revocation (RFC 7009) find them like opaque tokens, and introspection answers
 *   `active: false` once the session ended (the introspection policy reads the session) and the **current** permissions;
 * - userinfo accepts them although they carry an audience (the application's API): it is the provider's own endpoint,
 *   and a token with the `openid` scope is for it too (OIDC Core §5.3.1); the library refuses any `aud` there.
 */
function storeJwtAccessTokens(oidc: OidcProviderModule, provider: Provider, deps: ProviderDeps): void {
  for (const model of [provider.AccessToken, provider.ClientCredentials] as unknown as TokenModel[]) {
    const issue = model.prototype.getValueAndPayload;
    model.prototype.getValueAndPayload = async function (this: TokenInstance) {
      const result = await issue.call(this);
      if (this.format !== 'jwt' || result.payload) return result;
      const claims = decodeJwt(result.value);
      const payload: Record<string, unknown> = {};
      for (const field of this.constructor.IN_PAYLOAD) {
        if (this[field] !== undefined) payload[field] = this[field];
      }
      return { value: result.value, payload: { ...payload, iat: claims.iat, exp: claims.exp, [JWT_HANDLE_FIELD]: jwtHandle(result.value) } };
    };
  }
  const AccessToken = provider.AccessToken as unknown as { find(value: string, options?: object): Promise<{ aud?: unknown; scopes: Set<string> } | undefined> };
  const find = AccessToken.find.bind(AccessToken);
  AccessToken.find = async (value, options) => {
    const token = await find(value, options);
    const ctx = oidc.Provider.ctx;
    if (token?.aud !== undefined && ctx?.oidc?.route === 'userinfo' && token.scopes.has('openid')) token.aud = undefined;
    return token;
  };
  provider.use(async (ctx, next) => {
    // A JWT presented at introspection or revocation is looked up by its handle (the library refuses JWT-shaped values).
    if (ctx.method === 'POST' && TOKEN_PATHS.has(ctx.path as never) && ctx.is('application/x-www-form-urlencoded')) {
      const params = querystring.parse(await readBody(ctx.req));
      if (typeof params.token === 'string' && isJwt(params.token)) params.token = jwtHandle(params.token);
      (ctx.req as { body?: string }).body = querystring.stringify(params);
    }
    await next();
    const oidcCtx = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
    const body = ctx.body as Record<string, unknown> | undefined;
    if (oidcCtx?.route !== 'introspection' || body?.active !== true) return;
    const token = (oidcCtx.entities.AccessToken ?? oidcCtx.entities.RefreshToken) as { accountId?: string; scopes: Set<string>; extra?: Record<string, unknown> } | undefined;
    if (!token?.accountId) return;
    // RFC 7662 §2.2: the token's state now: the Tessera session's id and the user's current permissions.
    if (typeof token.extra?.sid === 'string') body.sid = token.extra.sid;
    if (token.scopes.has('permissions')) {
      const permissions = await deps.currentPermissions(token.accountId);
      if (permissions) body.permissions = permissions;
      else ctx.body = { active: false };
    }
  });
}
