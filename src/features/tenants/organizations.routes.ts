import { defineRoute, NoContent, type Route } from '../../http/route.js';
import { CreateOrganizationBody, OrganizationList, OrganizationListQuery, OrganizationParams, OrganizationSchema, UpdateOrganizationBody } from './organizations.schema.js';
import type { OrganizationsService } from './organizations.service.js';

const tags = ['organizations'];

/** Organizations of the caller's session account: `organizations.view` to read, `organizations.manage` to change. */
export function organizationsRoutes(organizations: OrganizationsService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/organizations',
      auth: { permission: 'organizations.view' },
      schema: { tags, summary: "Your account's organizations (search by name)", querystring: OrganizationListQuery, response: { 200: OrganizationList } },
      handler: (ctx) => organizations.listOrganizations(ctx.principal, ctx.input.query),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/organizations',
      auth: { permission: 'organizations.manage' },
      status: 201,
      schema: { tags, summary: 'Create an organization', description: 'Refused: `organizations.name_taken`.', body: CreateOrganizationBody, response: { 201: OrganizationSchema } },
      handler: (ctx) => organizations.createOrganization(ctx.principal, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/organizations/:id',
      auth: { permission: 'organizations.view' },
      schema: { tags, summary: 'Read an organization', params: OrganizationParams, response: { 200: OrganizationSchema } },
      handler: (ctx) => organizations.getOrganization(ctx.principal, ctx.input.params.id),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/organizations/:id',
      auth: { permission: 'organizations.manage' },
      schema: {
        tags,
        summary: 'Rename an organization',
        description: 'Refused: `organizations.name_taken`.',
        params: OrganizationParams,
        body: UpdateOrganizationBody,
        response: { 200: OrganizationSchema },
      },
      handler: (ctx) => organizations.updateOrganization(ctx.principal, ctx.actor, ctx.input.params.id, ctx.input.body),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/organizations/:id',
      auth: { permission: 'organizations.manage' },
      status: 204,
      schema: {
        tags,
        summary: 'Delete an organization',
        description: 'Refused: `organizations.in_use` while roles are scoped to it.',
        params: OrganizationParams,
        response: { 204: NoContent },
      },
      handler: async (ctx) => {
        await organizations.deleteOrganization(ctx.principal, ctx.actor, ctx.input.params.id);
        return null;
      },
    }),
  ];
}
