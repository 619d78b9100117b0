import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Database } from '../../db/database.js';
import type { AuthGuards } from '../../http/auth.js';
import { CreateOrganizationBody, OrganizationList, OrganizationListQuery, OrganizationParams, OrganizationSchema, UpdateOrganizationBody } from './organizations.schema.js';
import type { OrganizationsService } from './organizations.service.js';

function userActor(request: FastifyRequest) {
  const ua = request.headers['user-agent'];
  return { type: 'user' as const, id: request.auth!.userId, ip: request.ip, userAgent: typeof ua === 'string' ? ua : null };
}

/** Organizations of the caller's session account: `organizations.view` to read, `organizations.manage` to change. */
export function organizationsRoutes({ db, organizations, guards }: { db: Database; organizations: OrganizationsService; guards: AuthGuards }): FastifyPluginAsyncZod {
  const need = (permission: string) => ({ onRequest: guards.requirePermission(permission) });
  const tags = ['organizations'];

  return async (app) => {
    app.get('/api/v1/organizations', { ...need('organizations.view'), schema: { tags, summary: "Your account's organizations (search by name)", querystring: OrganizationListQuery, response: { 200: OrganizationList } } }, async (request) => {
      const scope = request.auth!;
      return db.tenantWork(scope.tenantId, (tx) => organizations.listOrganizations(tx, scope, request.query));
    });
    app.post(
      '/api/v1/organizations',
      { ...need('organizations.manage'), schema: { tags, summary: 'Create an organization', description: 'Refused: `organization_name_taken`.', body: CreateOrganizationBody, response: { 201: OrganizationSchema } } },
      async (request, reply) => {
        const scope = request.auth!;
        return reply.code(201).send(await db.tenantWork(scope.tenantId, (tx) => organizations.createOrganization(tx, scope, userActor(request), request.body)));
      },
    );
    app.get('/api/v1/organizations/:id', { ...need('organizations.view'), schema: { tags, summary: 'Read an organization', params: OrganizationParams, response: { 200: OrganizationSchema } } }, async (request) => {
      const scope = request.auth!;
      return db.tenantWork(scope.tenantId, (tx) => organizations.getOrganization(tx, scope, request.params.id));
    });
    app.patch(
      '/api/v1/organizations/:id',
      { ...need('organizations.manage'), schema: { tags, summary: 'Rename an organization', description: 'Refused: `organization_name_taken`.', params: OrganizationParams, body: UpdateOrganizationBody, response: { 200: OrganizationSchema } } },
      async (request) => {
        const scope = request.auth!;
        return db.tenantWork(scope.tenantId, (tx) => organizations.updateOrganization(tx, scope, userActor(request), request.params.id, request.body));
      },
    );
    app.delete(
      '/api/v1/organizations/:id',
      { ...need('organizations.manage'), schema: { tags, summary: 'Delete an organization', description: 'Refused: `organization_in_use` while roles are scoped to it.', params: OrganizationParams } },
      async (request, reply) => {
        const scope = request.auth!;
        await db.tenantWork(scope.tenantId, (tx) => organizations.deleteOrganization(tx, scope, userActor(request), request.params.id));
        return reply.code(204).send();
      },
    );
  };
}
