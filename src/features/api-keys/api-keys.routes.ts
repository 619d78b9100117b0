import { defineRoute, NoContent, type Route } from '../../http/route.js';
import { ApiKeyCreated, ApiKeyIdParams, ApiKeyList, CreateApiKeyBody } from './api-keys.schema.js';
import type { ApiKeysService } from './api-keys.service.js';

const tags = ['access control'];

export function apiKeysRoutes(apiKeys: ApiKeysService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/api-keys',
      auth: { permission: 'security.manage' },
      schema: { tags, summary: "The account's API keys (never the keys themselves)", response: { 200: ApiKeyList } },
      handler: async (ctx) => ({ items: await apiKeys.listKeys(ctx.principal) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/api-keys',
      auth: { permission: 'security.manage' },
      status: 201,
      headers: { 'cache-control': 'no-store' },
      schema: {
        tags,
        summary: 'Create an API key scoped to permissions (shown once)',
        description: 'Refused: `rbac.unknown_permission`, `rbac.grant_exceeds_own_access`.',
        body: CreateApiKeyBody,
        response: { 201: ApiKeyCreated },
      },
      handler: (ctx) => apiKeys.createKey(ctx.principal, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/api-keys/:id',
      auth: { permission: 'security.manage' },
      status: 204,
      schema: { tags, summary: 'Revoke an API key', params: ApiKeyIdParams, response: { 204: NoContent } },
      handler: (ctx) => apiKeys.revokeKey(ctx.principal, ctx.actor, ctx.input.params.id),
    }),
  ];
}
