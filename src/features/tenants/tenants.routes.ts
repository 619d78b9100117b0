import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Database } from '../../db/database.js';
import type { AuthGuards } from '../../http/auth.js';
import { SecuritySettingsPatch, SecuritySettingsSchema } from './security-settings.js';
import type { TenantsService } from './tenants.service.js';

function userActor(request: FastifyRequest) {
  const ua = request.headers['user-agent'];
  return { type: 'user' as const, id: request.auth!.userId, ip: request.ip, userAgent: typeof ua === 'string' ? ua : null };
}

export function tenantsRoutes({ db, tenants, guards }: { db: Database; tenants: TenantsService; guards: AuthGuards }): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/tenant/security-settings',
      {
        onRequest: guards.requirePermission('idp.view'),
        schema: { tags: ['tenant'], summary: "Your tenant's security settings", response: { 200: SecuritySettingsSchema } },
      },
      async (request) => {
        const { tenantId } = request.auth!;
        return db.tenantWork(tenantId, (tx) => tenants.securitySettings(tx, tenantId));
      },
    );

    app.patch(
      '/api/v1/tenant/security-settings',
      {
        onRequest: guards.requirePermission('idp.manage'),
        schema: {
          tags: ['tenant'],
          summary: "Change your tenant's security settings",
          description: 'Tenant administrators only. Fields left out keep their value. `refreshLifetimeSeconds` cannot exceed `sessionLifetimeSeconds`; restricting email domains needs at least one domain.',
          body: SecuritySettingsPatch,
          response: { 200: SecuritySettingsSchema },
        },
      },
      async (request) => {
        const { tenantId } = request.auth!;
        return db.tenantWork(tenantId, (tx) => tenants.updateSecuritySettings(tx, tenantId, userActor(request), request.body));
      },
    );
  };
}
