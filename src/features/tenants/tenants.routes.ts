import { z } from 'zod';
import { defineRoute, type Route } from '../../http/route.js';
import { SecuritySettingsPatch, SecuritySettingsSchema } from './security-settings.js';
import type { TenantsService } from './tenants.service.js';

const TenantSchema = z.object({ id: z.uuid(), name: z.string(), slug: z.string() });
const TenantPatch = z.strictObject({ slug: z.string().max(100).optional() });
const TenantBySlug = z.object({ tenantId: z.uuid(), name: z.string() });

export function tenantsRoutes(tenants: TenantsService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/tenant',
      auth: { permission: 'idp.view' },
      schema: { tags: ['tenant'], summary: 'Your tenant: id, name and slug', response: { 200: TenantSchema } },
      handler: (ctx) => tenants.getTenant(ctx.tenantId),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/tenant',
      auth: { permission: 'idp.manage' },
      schema: {
        tags: ['tenant'],
        summary: "Change your tenant's slug",
        description:
          'Tenant administrators only. The slug names the tenant-specific sign-in URL `/t/<slug>/login`: 2–63 lowercase letters, digits and hyphens, not starting or ending with a hyphen, unique across tenants, and not one of `api`, `auth`, `console`, `login`, `assets`, `scim`, `t`. The old URL stops working at once.',
        body: TenantPatch,
        response: { 200: TenantSchema },
      },
      handler: (ctx) => tenants.updateTenant(ctx.tenantId, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'GET',
      url: '/auth/tenants/by-slug/:slug',
      auth: 'public',
      schema: {
        tags: ['auth'],
        summary: 'The tenant a slug names (the tenant-specific sign-in page)',
        description: 'Answers the tenant id to sign in with (`tenantId` of /auth/login) and its name; `tenants.slug_not_found` for an unknown slug.',
        params: z.object({ slug: z.string().max(100) }),
        response: { 200: TenantBySlug },
      },
      handler: (ctx) => tenants.tenantBySlug(ctx.input.params.slug),
    }),
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
