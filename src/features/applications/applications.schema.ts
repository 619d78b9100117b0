import { z } from 'zod';

/** What an application may ask for; `permissions` carries the user's permissions in the application's account. */
export const APPLICATION_SCOPES = ['openid', 'email', 'profile', 'offline_access', 'permissions'] as const;

const uri = z.string().min(1).max(2000);
const jwk = z.looseObject({ kty: z.enum(['RSA', 'EC', 'OKP']) }).refine((k) => !('d' in k) && !('p' in k) && !('k' in k), 'public keys only');

export const ApplicationIdParams = z.object({ id: z.uuid() });

export const ApplicationSchema = z
  .object({
    id: z.string(),
    accountId: z.string(),
    clientId: z.string(),
    name: z.string(),
    type: z.enum(['spa', 'web', 'native', 'machine']),
    firstParty: z.boolean(),
    redirectUris: z.array(z.string()),
    postLogoutRedirectUris: z.array(z.string()),
    allowedOrigins: z.array(z.string()),
    tokenEndpointAuthMethod: z.enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']),
    scopes: z.array(z.string()),
    resources: z.array(z.string()).describe('The APIs (RFC 8707 resource indicators) the application obtains JWT access tokens for; the first is the default `aud`. Empty: the default `aud` is the client id.'),
    backchannelLogoutUri: z.string().nullable(),
    backchannelLogoutSessionRequired: z.boolean(),
    accessTokenTtlSeconds: z.number(),
    refreshTokenTtlSeconds: z.number(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Application' });

export const ApplicationCreated = ApplicationSchema.extend({
  clientSecret: z.string().nullable().describe('Shown once (web and machine apps with a client secret); only its hash is stored.'),
});
export const ApplicationList = z.object({ items: z.array(ApplicationSchema) });

const settings = {
  name: z.string().trim().min(1).max(200),
  firstParty: z.boolean().describe('First-party applications skip the consent screen (default true).'),
  redirectUris: z.array(uri).max(20),
  postLogoutRedirectUris: z.array(uri).max(20),
  allowedOrigins: z.array(z.string().min(1).max(300)).max(20),
  scopes: z.array(z.enum(APPLICATION_SCOPES)).max(APPLICATION_SCOPES.length),
  resources: z.array(z.string().min(1).max(2000)).max(10).describe('API identifiers (https URL or URN) the application may name as `resource` (RFC 8707); the first is the default audience of its JWT access tokens. Empty (default): the audience is the client id.'),
  backchannelLogoutUri: uri.nullable().describe('OIDC Back-Channel Logout 1.0: where Tessera POSTs a Logout Token when a session the application signed in with ends (https, or http on a loopback address); null: none.'),
  backchannelLogoutSessionRequired: z.boolean().describe('The application needs `sid` in Logout Tokens (always sent; default false).'),
  accessTokenTtlSeconds: z.number().int().min(60).max(86_400),
  refreshTokenTtlSeconds: z.number().int().min(300).max(31_536_000),
  jwks: z.object({ keys: z.array(jwk).min(1).max(10) }).describe('Public keys for private_key_jwt client authentication (RFC 7523).'),
};

export const CreateApplicationBody = z.object({
  name: settings.name,
  type: z.enum(['spa', 'web', 'native', 'machine']),
  firstParty: settings.firstParty.optional(),
  redirectUris: settings.redirectUris.optional(),
  postLogoutRedirectUris: settings.postLogoutRedirectUris.optional(),
  allowedOrigins: settings.allowedOrigins.optional(),
  tokenEndpointAuthMethod: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']).optional().describe('Web and machine apps only (default client_secret_basic); SPA and native apps are public clients.'),
  jwks: settings.jwks.optional(),
  scopes: settings.scopes.optional(),
  resources: settings.resources.optional(),
  backchannelLogoutUri: settings.backchannelLogoutUri.optional(),
  backchannelLogoutSessionRequired: settings.backchannelLogoutSessionRequired.optional(),
  accessTokenTtlSeconds: settings.accessTokenTtlSeconds.optional(),
  refreshTokenTtlSeconds: settings.refreshTokenTtlSeconds.optional(),
});

export const UpdateApplicationBody = z.object({
  name: settings.name.optional(),
  firstParty: settings.firstParty.optional(),
  redirectUris: settings.redirectUris.optional(),
  postLogoutRedirectUris: settings.postLogoutRedirectUris.optional(),
  allowedOrigins: settings.allowedOrigins.optional(),
  jwks: settings.jwks.optional(),
  scopes: settings.scopes.optional(),
  resources: settings.resources.optional(),
  backchannelLogoutUri: settings.backchannelLogoutUri.optional(),
  backchannelLogoutSessionRequired: settings.backchannelLogoutSessionRequired.optional(),
  accessTokenTtlSeconds: settings.accessTokenTtlSeconds.optional(),
  refreshTokenTtlSeconds: settings.refreshTokenTtlSeconds.optional(),
});

export type CreateApplicationInput = z.output<typeof CreateApplicationBody>;
export type UpdateApplicationInput = z.output<typeof UpdateApplicationBody>;
