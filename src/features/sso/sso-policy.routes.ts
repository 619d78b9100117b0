import { defineRoute, type Route } from '../../http/route.js';
import { BreakGlassBody, BreakGlassList, BreakGlassLogins, BreakGlassLoginsQuery, DiscoverAnswer, DiscoverBody, SsoSettings, SsoSettingsBody } from './sso-policy.schema.js';
import type { SsoPolicy } from './sso-policy.service.js';

const tags = ['single sign-on'];
const view = { permission: 'sso.view' } as const;
const manage = { permission: 'sso.manage' } as const;

/** Discovery (public), break-glass users and their logins, and the tenant's SSO settings. */
export function ssoPolicyRoutes(policy: SsoPolicy, options: { perMinutePerIp: number }): Route[] {
  return [
    defineRoute({
      method: 'POST', url: '/auth/sso/discover', auth: 'public', headers: { 'cache-control': 'no-store' },
      // Every match writes an audit event: a flood from one client must not fill the tenant's audit log.
      ...(options.perMinutePerIp > 0 ? { perMinutePerIp: options.perMinutePerIp } : {}),
      schema: {
        tags: ['auth'], summary: 'Which way an email signs in: SSO (and through which connection) or a password',
        description: 'Decided from the email\'s domain only (the user is never looked up): the same answer, shape and work for a known and an unknown email. `sso` when the domain is verified for a tenant, is not a public mailbox domain, and an enabled connection of that tenant lists it (several: the first by name). Audited `sso.discovery.matched` in that tenant. At most `TESSERA_SSO_RATE_LIMIT` requests a minute per client IP per instance, then 429 `rate_limited` with `Retry-After`.',
        body: DiscoverBody, response: { 200: DiscoverAnswer },
      },
      handler: (ctx) => policy.discover(ctx.input.body.email, ctx.meta),
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/sso/break-glass', auth: view,
      schema: { tags, summary: "The tenant's break-glass users (password + TOTP past Require SSO)", response: { 200: BreakGlassList } },
      handler: (ctx) => policy.listBreakGlass(ctx.tenantId),
    }),
    defineRoute({
      method: 'PUT', url: '/api/v1/sso/break-glass', auth: manage,
      schema: {
        tags, summary: "Replace the tenant's break-glass users",
        description: 'Tenant administrators with `sso.manage`. Refused: `sso.break_glass_not_admin` (a user who is not an active tenant administrator), `sso.break_glass_required` (an empty list while a domain requires SSO). Audited `sso.break_glass.updated`.',
        body: BreakGlassBody, response: { 200: BreakGlassList },
      },
      handler: (ctx) => policy.setBreakGlass(ctx.tenantId, ctx.actor, ctx.input.body.userIds),
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/sso/break-glass/logins', auth: view,
      schema: {
        tags, summary: 'Every break-glass login of the tenant, newest first (tenant administrators)',
        description: 'From the audit log (`sso.login.break_glass`). Needs `sso.view` and a tenant administrator.',
        querystring: BreakGlassLoginsQuery, response: { 200: BreakGlassLogins },
      },
      handler: (ctx) => policy.breakGlassLogins(ctx.tenantId, ctx.actor, ctx.input.query),
    }),
    defineRoute({
      method: 'GET', url: '/api/v1/sso/settings', auth: view,
      schema: { tags, summary: "The tenant's SSO settings", response: { 200: SsoSettings } },
      handler: (ctx) => policy.settings(ctx.tenantId),
    }),
    defineRoute({
      method: 'PUT', url: '/api/v1/sso/settings', auth: manage,
      schema: {
        tags, summary: "Replace the tenant's SSO settings (the returnTo allow-list)",
        description: 'Tenant administrators with `sso.manage`. Refused: `sso.invalid_return_origin`. Audited `sso.settings.updated`.',
        body: SsoSettingsBody, response: { 200: SsoSettings },
      },
      handler: (ctx) => policy.updateSettings(ctx.tenantId, ctx.actor, ctx.input.body),
    }),
  ];
}
