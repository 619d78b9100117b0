import { defineRoute, type PublicContext, type Route, type RouteSchema } from '../../http/route.js';
import { ConnectionSchema } from '../sso/index.js';
import { DirectorySchema } from '../scim/index.js';
import { DomainSchema } from '../domains/index.js';
import type { SetupFlow } from './setup-flow.service.js';
import {
  CreatedSetupLink, CreateSetupLinkBody, SetupCompleteBody, SetupConnectionBody, SetupConnectionPatch, SetupDirectoryBody, SetupDomainBody, SetupDomainParams,
  SetupLinkList, SetupLinkParams, SetupLinkSchema, SetupScimToken, SetupStateSchema, SetupTestBody, SetupTestParams, SetupTestSchema, SetupTestStarted,
} from './setup-links.schema.js';
import { CLAIM_COOKIE, CLAIM_COOKIE_PATH, type LinkAccess, type SetupLinks, type SetupPart } from './setup-links.service.js';
import { z } from 'zod';

const tags = ['setup links'];
const view = { permission: 'sso.view' } as const;
const manage = { permission: 'sso.manage' } as const;
const linkAuth =
  'Authenticated by the setup link\'s token only (`Authorization: Bearer tsl1.…`, from the link\'s URL fragment) and the claim cookie the first request sets (one browser at a time). ' +
  'Refused: `setup_link.invalid`, `.expired`, `.revoked`, `.completed`, `.creator_inactive`, `.in_use`, `.intent_forbidden`.';

/** The token of `Authorization: Bearer` (RFC 6750 §2.1), or ''. */
const bearerOf = (ctx: PublicContext<RouteSchema>) => /^Bearer (\S+)$/i.exec(ctx.headers.authorization ?? '')?.[1] ?? '';

/**
 * Setup links: the tenant administrators' API (`/api/v1/setup-links`: `sso.manage` and a tenant administrator to
 * create or revoke) and the link holder's own endpoints (`/api/v1/setup…`), which accept nothing but a link's token
 * — and a link's token is accepted nowhere else (it is not an access token).
 */
export function setupLinksRoutes(links: SetupLinks, flow: SetupFlow, options: { secureCookies: boolean; perMinutePerIp: number }): Route[] {
  /** The link check first (SetupLinks.access); a browser that took the link gets its claim cookie. */
  async function withLink<T>(ctx: PublicContext<RouteSchema>, part: SetupPart | undefined, step: (a: LinkAccess) => Promise<T>): Promise<T> {
    const a = await links.access({ token: bearerOf(ctx), claim: ctx.cookies[CLAIM_COOKIE], ip: ctx.meta.ip, userAgent: ctx.meta.userAgent }, part);
    if (a.newClaim) ctx.reply.setCookie(CLAIM_COOKIE, a.newClaim, { httpOnly: true, secure: options.secureCookies, sameSite: 'strict', path: CLAIM_COOKIE_PATH });
    return step(a);
  }
  const linkRoute = { auth: 'public', headers: { 'cache-control': 'no-store' }, perMinutePerIp: options.perMinutePerIp } as const;
  const base = '/api/v1/setup';

  return [
    defineRoute({
      method: 'GET', url: '/api/v1/setup-links', auth: view,
      schema: { tags, summary: "The tenant's setup links and their state (never their tokens)", response: { 200: SetupLinkList } },
      handler: async (ctx) => ({ items: await links.list(ctx.tenantId) }),
    }),
    defineRoute({
      method: 'POST', url: '/api/v1/setup-links', auth: manage, status: 201, headers: { 'cache-control': 'no-store' },
      schema: {
        tags, summary: 'Create a setup link for the customer\'s IT admin (its URL is shown only in this answer)',
        description: 'Tenant administrators with `sso.manage`. The link acts within what its creator holds, now and at each use. Audited `setup_link.created`.',
        body: CreateSetupLinkBody, response: { 201: CreatedSetupLink },
      },
      handler: (ctx) => links.create(ctx.tenantId, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'POST', url: '/api/v1/setup-links/:id/revoke', auth: manage,
      schema: { tags, summary: 'Revoke a setup link (it stops working at once)', description: 'Audited `setup_link.revoked`. Refused: `setup_link.not_found`.', params: SetupLinkParams, response: { 200: SetupLinkSchema } },
      handler: (ctx) => links.revoke(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),

    defineRoute({
      ...linkRoute, method: 'GET', url: base,
      schema: { tags, summary: 'Setup link: the guided setup\'s state and our values for the IdP', description: linkAuth, response: { 200: SetupStateSchema } },
      handler: (ctx) => withLink(ctx, undefined, (a) => flow.state(a)),
    }),
    defineRoute({
      ...linkRoute, method: 'POST', url: `${base}/domains`, status: 201,
      schema: { tags, summary: 'Setup link: add a domain to verify (intent domains, sso, all)', description: `${linkAuth} And the domains API's refusals.`, body: SetupDomainBody, response: { 201: DomainSchema } },
      handler: (ctx) => withLink(ctx, 'domains', (a) => flow.addDomain(a, ctx.input.body.domain)),
    }),
    defineRoute({
      ...linkRoute, method: 'POST', url: `${base}/domains/:id/verify`,
      schema: { tags, summary: 'Setup link: check a domain\'s TXT record now (only a domain added through the link)', description: `${linkAuth} \`setup_link.not_found\`, \`domain.verification_failed\`, \`domain.taken\`.`, params: SetupDomainParams, response: { 200: DomainSchema } },
      handler: (ctx) => withLink(ctx, 'domains', (a) => flow.verifyDomain(a, ctx.input.params.id)),
    }),
    defineRoute({
      ...linkRoute, method: 'POST', url: `${base}/sso/connection`, status: 201,
      schema: { tags, summary: 'Setup link: create the SSO connection (once; disabled until the setup completes)', description: `${linkAuth} \`setup_link.step_done\`, and the connection API's refusals (\`sso_config\`, the grant rule's \`rbac.grant_exceeds_own_access\` against the link's creator).`, body: SetupConnectionBody, response: { 201: ConnectionSchema } },
      handler: (ctx) => withLink(ctx, 'sso', (a) => flow.createConnection(a, ctx.input.body)),
    }),
    defineRoute({
      ...linkRoute, method: 'PATCH', url: `${base}/sso/connection`,
      schema: { tags, summary: 'Setup link: change the SSO connection it created', description: `${linkAuth} \`setup_link.step_missing\`.`, body: SetupConnectionPatch, response: { 200: ConnectionSchema } },
      handler: (ctx) => withLink(ctx, 'sso', (a) => flow.updateConnection(a, ctx.input.body)),
    }),
    defineRoute({
      ...linkRoute, method: 'POST', url: `${base}/sso/tests`,
      schema: { tags, summary: 'Setup link: start a test sign-in through the IdP (open the returned URL)', description: `${linkAuth} \`setup_link.step_missing\`.`, body: SetupTestBody, response: { 200: SetupTestStarted } },
      handler: (ctx) => withLink(ctx, 'sso', (a) => flow.startTest(a, ctx.input.body?.returnTo)),
    }),
    defineRoute({
      ...linkRoute, method: 'GET', url: `${base}/sso/tests/:testId`,
      schema: { tags, summary: 'Setup link: a test sign-in\'s outcome (claims received, roles the rules would give)', description: `${linkAuth} \`sso.test_not_found\`.`, params: SetupTestParams, response: { 200: SetupTestSchema } },
      handler: (ctx) => withLink(ctx, 'sso', (a) => flow.getTest(a, ctx.input.params.testId)),
    }),
    defineRoute({
      ...linkRoute, method: 'POST', url: `${base}/scim/directory`, status: 201,
      schema: { tags, summary: 'Setup link: create the SCIM directory (once)', description: `${linkAuth} \`setup_link.step_done\`.`, body: SetupDirectoryBody, response: { 201: DirectorySchema } },
      handler: (ctx) => withLink(ctx, 'scim', (a) => flow.createDirectory(a, ctx.input.body?.name ?? 'Directory')),
    }),
    defineRoute({
      ...linkRoute, method: 'POST', url: `${base}/scim/token`, status: 201,
      schema: { tags, summary: 'Setup link: the SCIM bearer token (issued once, shown only in this answer)', description: `${linkAuth} \`setup_link.step_missing\`, \`setup_link.step_done\`.`, response: { 201: SetupScimToken } },
      handler: (ctx) => withLink(ctx, 'scim', (a) => flow.issueScimToken(a)),
    }),
    defineRoute({
      ...linkRoute, method: 'POST', url: `${base}/complete`,
      schema: {
        tags, summary: 'Setup link: finish (the connection goes live; the link stops working)',
        description: `${linkAuth} \`setup_link.test_required\`, \`setup_link.step_missing\`, \`domain.require_sso_unavailable\`. Audited \`setup_link.completed\`, the tenant administrators' notification.`,
        body: SetupCompleteBody, response: { 200: z.object({ completedAt: z.string() }) },
      },
      handler: (ctx) => withLink(ctx, undefined, (a) => flow.complete(a, { requireSso: ctx.input.body?.requireSso ?? false })),
    }),
  ];
}
