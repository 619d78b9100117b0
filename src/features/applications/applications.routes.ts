import { defineRoute, NoContent, type Route } from '../../http/route.js';
import { ApplicationCreated, ApplicationIdParams, ApplicationList, ApplicationSchema, CreateApplicationBody, UpdateApplicationBody } from './applications.schema.js';
import type { ApplicationsService } from './applications.service.js';

const tags = ['applications'];
const auth = { permission: 'applications.manage' } as const;
const NO_STORE = { 'cache-control': 'no-store' } as const;

export function applicationsRoutes(applications: ApplicationsService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/applications',
      auth,
      schema: { tags, summary: "The account's applications (never their secrets)", response: { 200: ApplicationList } },
      handler: async (ctx) => ({ items: await applications.list(ctx.principal) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/applications',
      auth,
      status: 201,
      headers: NO_STORE,
      schema: {
        tags,
        summary: 'Register an application that signs users in with OpenID Connect (a client secret is shown once)',
        description: 'Refused: `applications.invalid_redirect_uri`, `applications.invalid_origin`, `applications.invalid_config`.',
        body: CreateApplicationBody,
        response: { 201: ApplicationCreated },
      },
      handler: (ctx) => applications.create(ctx.principal, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/applications/:id',
      auth,
      schema: { tags, summary: 'One application', params: ApplicationIdParams, response: { 200: ApplicationSchema } },
      handler: (ctx) => applications.get(ctx.principal, ctx.input.params.id),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/applications/:id',
      auth,
      schema: { tags, summary: "Change an application's settings", params: ApplicationIdParams, body: UpdateApplicationBody, response: { 200: ApplicationSchema } },
      handler: (ctx) => applications.update(ctx.principal, ctx.actor, ctx.input.params.id, ctx.input.body),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/applications/:id/secret',
      auth,
      headers: NO_STORE,
      schema: { tags, summary: 'Replace the client secret (shown once; the old one stops working)', params: ApplicationIdParams, response: { 200: ApplicationCreated } },
      handler: (ctx) => applications.rotateSecret(ctx.principal, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/applications/:id',
      auth,
      status: 204,
      schema: { tags, summary: 'Delete an application', params: ApplicationIdParams, response: { 204: NoContent } },
      handler: (ctx) => applications.remove(ctx.principal, ctx.actor, ctx.input.params.id),
    }),
  ];
}
