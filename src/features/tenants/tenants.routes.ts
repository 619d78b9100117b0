import { defineRoute, type Route } from '../../http/route.js';
import { SecuritySettingsPatch, SecuritySettingsSchema } from './security-settings.js';
import type { TenantsService } from './tenants.service.js';

export function tenantsRoutes(tenants: TenantsService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/tenant/security-settings',
      auth: { permission: 'idp.view' },
      schema: { tags: ['tenant'], summary: "Your tenant's security settings", response: { 200: SecuritySettingsSchema } },
      handler: (ctx) => tenants.getSecuritySettings(ctx.tenantId),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/tenant/security-settings',
      auth: { permission: 'idp.manage' },
      schema: {
        tags: ['tenant'],
        summary: "Change your tenant's security settings",
        description: 'Tenant administrators only. Fields left out keep their value. `refreshLifetimeSeconds` cannot exceed `sessionLifetimeSeconds`; restricting email domains needs at least one domain.',
        body: SecuritySettingsPatch,
        response: { 200: SecuritySettingsSchema },
      },
      handler: (ctx) => tenants.updateSecuritySettings(ctx.tenantId, ctx.actor, ctx.input.body),
    }),
  ];
}
