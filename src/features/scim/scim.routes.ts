import { defineRoute, NoContent, type ProtocolFrame, type Route } from '../../http/route.js';
import { AppError } from '../../kernel/app-error.js';
import { KernelErrors } from '../../kernel/errors.js';
import type { DirectoriesService } from './directories.service.js';
import type { ScimCaller } from './scim-caller.js';
import { resourceType, resourceTypes, schema, schemas, serviceProviderConfig } from './discovery.js';
import { SCIM_TYPES, ScimErrors } from './scim.errors.js';
import { ERROR_SCHEMA } from './scim-schema.js';
import {
  CreatedToken, CreateDirectoryBody, DirectoryList, DirectoryParams, DirectorySchema, RoleMappingsBody, RoleMappingsSchema, ScimDocument, ScimListQuery, ScimParams, ScimProjection, ScimResourceParams, TokenList, TokenParams, UpdateDirectoryBody,
} from './scim.schema.js';
import type { ScimGroupsService } from './groups.service.js';
import type { RoleMappingsService } from './role-mappings.service.js';
import type { ScimUsersService } from './users.service.js';

const tags = ['SCIM directories'];
const manage = { permission: 'scim.manage' } as const;
const base = '/api/v1/scim/directories';
const admins = 'Tenant administrators with `scim.manage` (`identity.tenant_admin_required` otherwise).';

/** The directory API: reading and changing need `scim.manage`; changes also a tenant administrator. */
export function scimDirectoryRoutes(directories: DirectoriesService, roleMappings: RoleMappingsService): Route[] {
  return [
    defineRoute({
      method: 'GET', url: `${base}/:id/role-mappings`, auth: manage,
      schema: { tags, summary: "The directory's group → role mappings and default role", params: DirectoryParams, response: { 200: RoleMappingsSchema } },
      handler: (ctx) => roleMappings.get(ctx.tenantId, ctx.input.params.id),
    }),
    defineRoute({
      method: 'PUT', url: `${base}/:id/role-mappings`, auth: manage,
      schema: {
        tags, summary: "Replace the directory's group → role mappings and default role",
        description: `${admins} Every role goes through the grant rule against you (\`rbac.grant_exceeds_own_access\`); never Account Administrator (\`scim.role_forbidden\`). Refused: \`scim.role_not_found\`, \`scim.invalid_mapping\`.`,
        params: DirectoryParams, body: RoleMappingsBody, response: { 200: RoleMappingsSchema },
      },
      handler: (ctx) => roleMappings.put(ctx.tenantId, ctx.actor, ctx.input.params.id, { mappings: ctx.input.body.mappings, defaultRoleId: ctx.input.body.defaultRoleId ?? null }),
    }),
    defineRoute({
      method: 'GET', url: base, auth: manage,
      schema: { tags, summary: "The tenant's SCIM directories", response: { 200: DirectoryList } },
      handler: async (ctx) => ({ items: await directories.list(ctx.tenantId) }),
    }),
    defineRoute({
      method: 'POST', url: base, auth: manage, status: 201,
      schema: { tags, summary: 'Create a SCIM directory', description: `${admins} Refused: \`scim.name_taken\`, \`scim.sso_connection_not_found\`.`, body: CreateDirectoryBody, response: { 201: DirectorySchema } },
      handler: (ctx) => directories.create(ctx.tenantId, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'GET', url: `${base}/:id`, auth: manage,
      schema: { tags, summary: 'A SCIM directory', params: DirectoryParams, response: { 200: DirectorySchema } },
      handler: (ctx) => directories.get(ctx.tenantId, ctx.input.params.id),
    }),
    defineRoute({
      method: 'PATCH', url: `${base}/:id`, auth: manage,
      schema: { tags, summary: 'Rename a SCIM directory or change its SSO connection', description: admins, params: DirectoryParams, body: UpdateDirectoryBody, response: { 200: DirectorySchema } },
      handler: (ctx) => directories.update(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.body),
    }),
    defineRoute({
      method: 'DELETE', url: `${base}/:id`, auth: manage, status: 204,
      schema: { tags, summary: 'Delete a SCIM directory: its users are deactivated first, its tokens stop working', description: admins, params: DirectoryParams, response: { 204: NoContent } },
      handler: (ctx) => directories.remove(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'GET', url: `${base}/:id/tokens`, auth: manage,
      schema: { tags, summary: "The directory's bearer tokens (never the tokens themselves)", params: DirectoryParams, response: { 200: TokenList } },
      handler: async (ctx) => ({ items: await directories.listTokens(ctx.tenantId, ctx.input.params.id) }),
    }),
    defineRoute({
      method: 'POST', url: `${base}/:id/tokens`, auth: manage, status: 201, headers: { 'cache-control': 'no-store' },
      schema: { tags, summary: 'Create a bearer token (shown once; at most two live)', description: `${admins} Refused: \`scim.too_many_tokens\`.`, params: DirectoryParams, response: { 201: CreatedToken } },
      handler: (ctx) => directories.createToken(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'DELETE', url: `${base}/:id/tokens/:tokenId`, auth: manage, status: 204,
      schema: { tags, summary: 'Revoke a bearer token', description: admins, params: TokenParams, response: { 204: NoContent } },
      handler: (ctx) => directories.revokeToken(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.params.tokenId),
    }),
  ];
}

/** RFC 7644 §3.12: every error of `/scim/v2/*` as a SCIM error message; `status` is a string. */
export function scimError(error: AppError): { status: number; body: Record<string, unknown> } {
  const scimType = SCIM_TYPES[error.code] ?? (error.code === KernelErrors.invalid_request ? 'invalidSyntax' : undefined);
  return { status: error.status, body: { schemas: [ERROR_SCHEMA], status: String(error.status), ...(scimType ? { scimType } : {}), detail: error.message } };
}

/** The SCIM frame: prefix, media type (RFC 7644 §3.1 `application/scim+json`), error document. */
export const scimFrame: ProtocolFrame = { prefix: '/scim/v2', mediaType: 'application/scim+json', renderError: scimError };

const stags = ['SCIM 2.0'];
const auth = 'scim-directory' as const;
const found = <T>(value: T | undefined): T => {
  if (value === undefined) throw new AppError(ScimErrors['scim.resource_not_found']);
  return value;
};

type RequestInfo = Parameters<ScimUsersService['create']>[1];
/** What /Users and /Groups both offer: the six operations of RFC 7644 §3.3–3.6 on one resource type. */
type ResourceService = Pick<ScimUsersService, 'create' | 'list' | 'get' | 'replace' | 'patch' | 'remove'>;

const info = (ctx: { meta: { ip: string; userAgent: string | null }; headers: Record<string, string | string[] | undefined> }): RequestInfo => ({
  ...ctx.meta,
  ifMatch: typeof ctx.headers['if-match'] === 'string' ? ctx.headers['if-match'] : undefined,
});

/**
 * The routes of one resource type (`/Users`, `/Groups`): each passes the caller, the request's origin and
 * If-Match to one service call and sets the headers RFC 7644 asks for (Location on create, ETag).
 */
function resourceRoutes(path: 'Users' | 'Groups', service: ResourceService, summary: Record<'create' | 'list' | 'get' | 'replace' | 'patch' | 'remove', string>): Route[] {
  const one = `/:directoryId/${path}/:id`;
  return [
    defineRoute({
      method: 'POST', url: `/:directoryId/${path}`, auth, status: 201,
      schema: { tags: stags, summary: summary.create, params: ScimParams, body: ScimDocument, response: { 201: ScimDocument } },
      handler: async (ctx) => {
        const { resource, etag } = await service.create(ctx.directory, info(ctx), ctx.input.body);
        ctx.reply.header('etag', etag);
        ctx.reply.header('location', (resource.meta as { location: string }).location);
        return resource;
      },
    }),
    defineRoute({
      method: 'GET', url: `/:directoryId/${path}`, auth,
      schema: { tags: stags, summary: summary.list, params: ScimParams, querystring: ScimListQuery, response: { 200: ScimDocument } },
      handler: (ctx) => service.list(ctx.directory, ctx.input.query),
    }),
    defineRoute({
      method: 'GET', url: one, auth,
      schema: { tags: stags, summary: summary.get, params: ScimResourceParams, querystring: ScimProjection, response: { 200: ScimDocument } },
      handler: async (ctx) => {
        const { resource, etag } = await service.get(ctx.directory, ctx.input.params.id, ctx.input.query);
        ctx.reply.header('etag', etag);
        return resource;
      },
    }),
    ...(['replace', 'patch'] as const).map((op) =>
      defineRoute({
        method: op === 'replace' ? 'PUT' : 'PATCH', url: one, auth,
        schema: { tags: stags, summary: summary[op], params: ScimResourceParams, body: ScimDocument, response: { 200: ScimDocument } },
        handler: async (ctx) => {
          const { resource, etag } = await service[op](ctx.directory, info(ctx), ctx.input.params.id, ctx.input.body);
          ctx.reply.header('etag', etag);
          return resource;
        },
      }),
    ),
    defineRoute({
      method: 'DELETE', url: one, auth, status: 204,
      schema: { tags: stags, summary: summary.remove, params: ScimResourceParams, response: { 204: NoContent } },
      handler: (ctx) => service.remove(ctx.directory, info(ctx), ctx.input.params.id),
    }),
  ];
}

/**
 * `/scim/v2/:directoryId/*` (mounted with `scimFrame`): the IdP's bearer token must belong to the directory of
 * the URL.
 */
export function scimProtocolRoutes(directories: DirectoriesService, users: ScimUsersService, groups: ScimGroupsService): Route[] {
  const routes = [
    defineRoute({
      method: 'GET', url: '/:directoryId/ServiceProviderConfig', auth,
      schema: { tags: stags, summary: 'What this SCIM server supports (RFC 7644 §4)', params: ScimParams, response: { 200: ScimDocument } },
      handler: async (ctx) => {
        await directories.verify(ctx.directory);
        return serviceProviderConfig(directories.baseUrlOf(ctx.directory.directoryId));
      },
    }),
    defineRoute({
      method: 'GET', url: '/:directoryId/ResourceTypes', auth,
      schema: { tags: stags, summary: 'The resource types (User, Group)', params: ScimParams, response: { 200: ScimDocument } },
      handler: async (ctx) => {
        await directories.verify(ctx.directory);
        return resourceTypes(directories.baseUrlOf(ctx.directory.directoryId));
      },
    }),
    defineRoute({
      method: 'GET', url: '/:directoryId/ResourceTypes/:id', auth,
      schema: { tags: stags, summary: 'A resource type', params: ScimResourceParams, response: { 200: ScimDocument } },
      handler: async (ctx) => {
        await directories.verify(ctx.directory);
        return found(resourceType(directories.baseUrlOf(ctx.directory.directoryId), ctx.input.params.id));
      },
    }),
    defineRoute({
      method: 'GET', url: '/:directoryId/Schemas', auth,
      schema: { tags: stags, summary: 'The schemas (core User, enterprise User, Group)', params: ScimParams, response: { 200: ScimDocument } },
      handler: async (ctx) => {
        await directories.verify(ctx.directory);
        return schemas(directories.baseUrlOf(ctx.directory.directoryId));
      },
    }),
    defineRoute({
      method: 'GET', url: '/:directoryId/Schemas/:id', auth,
      schema: { tags: stags, summary: 'A schema', params: ScimResourceParams, response: { 200: ScimDocument } },
      handler: async (ctx) => {
        await directories.verify(ctx.directory);
        return found(schema(directories.baseUrlOf(ctx.directory.directoryId), ctx.input.params.id));
      },
    }),
    ...resourceRoutes('Users', users, {
      create: 'Provision a user (RFC 7644 §3.3)',
      list: 'List users: filter, startIndex, count, sortBy, sortOrder, attributes, excludedAttributes (RFC 7644 §3.4.2)',
      get: 'A user',
      replace: 'Replace a user (RFC 7644 §3.5.1); If-Match honoured',
      patch: 'Change a user (RFC 7644 §3.5.2); If-Match honoured',
      remove: 'De-provision a user: deactivated, every session ends (RFC 7644 §3.6)',
    }),
    ...resourceRoutes('Groups', groups, {
      create: 'Provision a group (RFC 7644 §3.3): an identity group, members users of this directory',
      list: 'List groups: filter (displayName, externalId, members.value …), paging, sorting; excludedAttributes=members reads no members (RFC 7644 §3.4.2)',
      get: 'A group',
      replace: 'Replace a group and its whole membership (RFC 7644 §3.5.1); If-Match honoured',
      patch: 'Change a group: displayName, member batches (RFC 7644 §3.5.2); If-Match honoured',
      remove: 'Delete a group: its members lose the roles it carried (RFC 7644 §3.6)',
    }),
  ];
  // Every answer is to a request whose token was checked in its unit of work (DirectoriesService.work). A refusal
  // or error raised before the check is answered as the check would (401 first, RFC 6750 §3.1): an unknown token
  // learns nothing of the request. A success without the check is a programming error, never an answer.
  return routes.map((route) => ({
    ...route,
    async handler(ctx: Parameters<Route['handler']>[0]) {
      const caller = (ctx as unknown as { directory: ScimCaller }).directory;
      let result: unknown;
      try {
        result = await route.handler(ctx);
      } catch (error) {
        if (!directories.checked(caller)) await directories.verify(caller);
        throw error;
      }
      if (!directories.checked(caller)) throw new Error(`SCIM route ${route.method} ${route.url} answered without checking the token.`);
      return result;
    },
  }));
}
