import { defineRoute, NoContent, type Route } from '../../http/route.js';
import type { SsoSignIn } from './signin.js';
import { ClientJwks, ClientKeyParams, ConnectionList, ConnectionParams, ConnectionSchema, ConnectionTestSchema, CreateConnectionBody, RotateSecretBody, SpKeyParams, TestConnectionBody, TestParams, TestStarted, UpdateConnectionBody } from './sso.schema.js';
import { CLIENT_JWKS_PATH } from './sso-paths.js';
import type { SsoService } from './sso.service.js';

const tags = ['single sign-on'];
const view = { permission: 'sso.view' } as const;
const manage = { permission: 'sso.manage' } as const;
const base = '/api/v1/sso/connections';
const params = ConnectionParams;
const refusals = 'Tenant administrators with `sso.manage`. Refused: `sso_config` (with the reason), `sso_role_forbidden`, `sso.role_not_found`, `sso.invalid_rule`, `sso.name_taken`.';

/** SSO connections: reading needs `sso.view`; changes `sso.manage` and a tenant administrator. */
export function ssoRoutes(sso: SsoService, signIn: Pick<SsoSignIn, 'startTest' | 'getTest'>): Route[] {
  return [
    defineRoute({
      method: 'GET', url: base, auth: view,
      schema: { tags, summary: "The tenant's SSO connections (never their secrets)", response: { 200: ConnectionList } },
      handler: async (ctx) => ({ items: await sso.list(ctx.tenantId) }),
    }),
    defineRoute({
      method: 'POST', url: base, auth: manage, status: 201,
      schema: { tags, summary: 'Create an SSO connection (OIDC: its discovery document is fetched first)', description: refusals, body: CreateConnectionBody, response: { 201: ConnectionSchema } },
      handler: (ctx) => sso.create(ctx.tenantId, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'GET', url: `${base}/:id`, auth: view,
      schema: { tags, summary: 'An SSO connection', params, response: { 200: ConnectionSchema } },
      handler: (ctx) => sso.get(ctx.tenantId, ctx.input.params.id),
    }),
    defineRoute({
      method: 'PATCH', url: `${base}/:id`, auth: manage,
      schema: { tags, summary: 'Change an SSO connection (a change of its OIDC settings fetches discovery again)', description: refusals, params, body: UpdateConnectionBody, response: { 200: ConnectionSchema } },
      handler: (ctx) => sso.update(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.body),
    }),
    defineRoute({
      method: 'POST', url: `${base}/:id/enable`, auth: manage,
      schema: { tags, summary: 'Enable an SSO connection', description: 'Refused (`sso_config`) until it has a discovery document and a client secret.', params, response: { 200: ConnectionSchema } },
      handler: (ctx) => sso.enable(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'POST', url: `${base}/:id/disable`, auth: manage,
      schema: { tags, summary: 'Disable an SSO connection', params, response: { 200: ConnectionSchema } },
      handler: (ctx) => sso.disable(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'DELETE', url: `${base}/:id`, auth: manage, status: 204,
      schema: { tags, summary: 'Delete an SSO connection', params, response: { 204: NoContent } },
      handler: (ctx) => sso.remove(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'POST', url: `${base}/:id/secret`, auth: manage,
      schema: { tags, summary: 'Replace the client secret (write-only)', params, body: RotateSecretBody, response: { 200: ConnectionSchema } },
      handler: (ctx) => sso.rotateSecret(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.body.clientSecret),
    }),
    defineRoute({
      method: 'POST', url: `${base}/:id/keys/rotate`, auth: manage,
      schema: {
        tags, summary: 'private_key_jwt: generate a new client key pair and sign with it from now on',
        description: 'The new public key goes first in `clientJwks`; the previous ones stay published until removed, so register the new key (or let the IdP refetch `clientJwksUri`) and then remove the old one. Refused: `sso_config` (the connection does not use private_key_jwt, or already publishes 5 keys).',
        params, response: { 200: ConnectionSchema },
      },
      handler: (ctx) => sso.rotateClientKey(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'DELETE', url: `${base}/:id/keys/:kid`, auth: manage,
      schema: { tags, summary: 'private_key_jwt: stop publishing a previous client key', description: 'Refused: `sso.key_not_found`, `sso.key_in_use` (the current key).', params: ClientKeyParams, response: { 200: ConnectionSchema } },
      handler: (ctx) => sso.removeClientKey(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.params.kid),
    }),
    defineRoute({
      method: 'POST', url: `${base}/:id/sp-keys/rotate`, auth: manage,
      schema: {
        tags, summary: 'SAML: generate a new SP key pair and certificate, current from now on',
        description: 'The new key signs AuthnRequests at once; the previous one stays in the SP metadata (signing and encryption) and still decrypts assertions until removed, so give the IdP the new certificate (or let it re-import the SP metadata) and then remove the old key. Audited `sso.connection.sp_key_rotated`. Refused: `sso_config` (not a SAML connection, or it already holds 2 keys).',
        params, response: { 200: ConnectionSchema },
      },
      handler: (ctx) => sso.rotateSpKey(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'DELETE', url: `${base}/:id/sp-keys/:keyId`, auth: manage,
      schema: { tags, summary: 'SAML: remove a previous SP key', description: 'Audited `sso.connection.sp_key_removed`. Refused: `sso.sp_key_not_found`, `sso.sp_key_in_use` (the current key).', params: SpKeyParams, response: { 200: ConnectionSchema } },
      handler: (ctx) => sso.removeSpKey(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.params.keyId),
    }),
    defineRoute({
      method: 'GET', url: CLIENT_JWKS_PATH, auth: 'public', logLevel: 'warn',
      schema: {
        tags: ['auth'], summary: "A connection's private_key_jwt public keys, for its identity provider (RFC 7517 JWK Set)",
        description: 'No authentication: public keys only. An empty set when the connection has no keys; `sso.connection_not_found` for an unknown connection.',
        params, response: { 200: ClientJwks },
      },
      handler: async (ctx) => {
        // Short cache: an IdP that caches the set sees a rotation within five minutes.
        ctx.reply.header('cache-control', 'public, max-age=300');
        return sso.publicClientJwks(ctx.input.params.id);
      },
    }),
    defineRoute({
      method: 'POST', url: `${base}/:id/discovery/refresh`, auth: manage,
      schema: { tags, summary: "Fetch the issuer's discovery document again", description: 'Refused: `sso_config` (issuer mismatch, unreachable, untrusted certificate, refused address).', params, response: { 200: ConnectionSchema } },
      handler: (ctx) => sso.refreshDiscovery(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'POST', url: `${base}/:id/test`, auth: manage,
      schema: {
        tags, summary: 'Test connection: a dry-run sign-in through the IdP (works on a disabled connection)',
        description: 'Tenant administrators with `sso.manage`. Returns a start `url` to open in a browser: the real sign-in through the identity provider runs every check and the mapping rules, creates no user, link, role or session, and lands on `returnTo` (else `PUBLIC_URL/login`) with `?ssoTest=<testId>`. Read the outcome at GET …/tests/{testId} (kept 30 minutes). Audited `sso.connection.tested`.',
        params, body: TestConnectionBody, response: { 200: TestStarted },
      },
      handler: (ctx) => signIn.startTest(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.body?.returnTo),
    }),
    defineRoute({
      method: 'GET', url: `${base}/:id/tests/:testId`, auth: manage,
      schema: { tags, summary: 'A connection test\'s outcome', description: 'Tenant administrators with `sso.manage`, of the connection\'s tenant only. Refused: `sso.test_not_found` (unknown, another tenant\'s, or older than 30 minutes).', params: TestParams, response: { 200: ConnectionTestSchema } },
      handler: (ctx) => signIn.getTest(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.params.testId),
    }),
  ];
}
