import { defineRoute, type Route } from '../../http/route.js';
import { CatalogBody, CatalogPutResponse, CatalogSchema, TemplateList } from './rbac.schema.js';
import type { RbacService } from './rbac.service.js';

const tags = ['access control'];

/** The permission catalog and role templates of the caller's account. */
export function catalogRoutes({ catalog }: RbacService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/permissions',
      auth: { permission: 'roles.view' },
      schema: {
        tags,
        summary: 'The permission catalog (Tessera and application keys)',
        response: { 200: CatalogSchema },
      },
      handler: (ctx) => catalog.catalog(ctx.tenantId, ctx.accountId),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/permissions',
      auth: { permission: 'roles.edit' },
      schema: {
        tags,
        summary: "Register the application's permission keys and role templates (idempotent, versioned)",
        description:
          'Replaces the application keys and templates of the account. Refused: `rbac.invalid_permission_key`, ' +
          '`rbac.unknown_permission`, `rbac.permission_in_use` (unless `force`), `rbac.catalog_version_conflict`.',
        body: CatalogBody,
        response: { 200: CatalogPutResponse },
      },
      handler: (ctx) => catalog.register(ctx.tenantId, ctx.actor, ctx.accountId, ctx.input.body),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/role-templates',
      auth: { permission: 'roles.view' },
      schema: { tags, summary: 'Role templates that pre-fill a new role', response: { 200: TemplateList } },
      handler: async (ctx) => ({ items: await catalog.templates(ctx.tenantId, ctx.accountId) }),
    }),
  ];
}
