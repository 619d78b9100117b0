import { defineRoute, NoContent, type Route } from '../../http/route.js';
import { AddDomainBody, DomainIdParams, DomainList, DomainSchema, UpdateDomainBody } from './domains.schema.js';
import type { DomainsService } from './domains.service.js';

const tags = ['domains'];
const view = { permission: 'domains.view' } as const;
const manage = { permission: 'domains.manage' } as const;

/** A tenant's email domains: reading needs `domains.view`; changes `domains.manage` and a tenant administrator. */
export function domainsRoutes(domains: DomainsService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/domains',
      auth: view,
      schema: { tags, summary: "The tenant's domains and their verification records", response: { 200: DomainList } },
      handler: async (ctx) => ({ items: await domains.listDomains(ctx.tenantId) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/domains',
      auth: manage,
      status: 201,
      schema: {
        tags,
        summary: 'Add a domain (pending until its DNS TXT record is verified)',
        description: 'Refused: `domain.invalid`, `domain.public_mailbox`, `domain.exists`, `identity.tenant_admin_required`.',
        body: AddDomainBody,
        response: { 201: DomainSchema },
      },
      handler: (ctx) => domains.addDomain(ctx.tenantId, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/domains/:id',
      auth: view,
      schema: { tags, summary: 'One domain', params: DomainIdParams, response: { 200: DomainSchema } },
      handler: (ctx) => domains.getDomain(ctx.tenantId, ctx.input.params.id),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/domains/:id/verify',
      auth: manage,
      schema: {
        tags,
        summary: 'Check the DNS TXT record now',
        description: 'Refused: `domain.verification_failed` (the record is not there yet), `domain.taken` (another tenant holds the domain verified), `domain.dns_unavailable`.',
        params: DomainIdParams,
        response: { 200: DomainSchema },
      },
      handler: (ctx) => domains.verifyDomain(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/domains/:id',
      auth: manage,
      schema: {
        tags,
        summary: 'Turn Require SSO on or off for a verified domain',
        description: 'Refused: `domain.not_verified`, `domain.require_sso_unavailable` (no enabled SSO connection lists the domain, or the tenant has no break-glass user), `identity.tenant_admin_required`. Audited `domain.require_sso.enabled` / `.disabled`.',
        params: DomainIdParams,
        body: UpdateDomainBody,
        response: { 200: DomainSchema },
      },
      handler: (ctx) => domains.setRequireSso(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.body.requireSso),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/domains/:id',
      auth: manage,
      status: 204,
      schema: { tags, summary: 'Remove a domain (other domains keep their verification)', params: DomainIdParams, response: { 204: NoContent } },
      handler: (ctx) => domains.removeDomain(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),
  ];
}
