import { defineRoute, type Route } from '../../http/route.js';
import { AccessSchema, CheckBody, CheckResponse, ExplainQuery, ExplainSchema, UserIdParams } from './rbac.schema.js';
import type { RbacService } from './rbac.service.js';

const tags = ['access control'];

/** Effective access, explain, and the authorization API for applications. */
export function accessRoutes(rbac: RbacService): Route[] {
  const { access } = rbac;
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/me/access',
      auth: 'session',
      schema: { tags, summary: 'Your effective access with sources', response: { 200: AccessSchema } },
      handler: (ctx) => access.effectiveAccess(ctx.tenantId, ctx.userId),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/users/:userId/access',
      auth: { permission: 'access_grants.view' },
      schema: { tags, summary: "A user's effective access with sources", params: UserIdParams, response: { 200: AccessSchema } },
      handler: (ctx) => access.effectiveAccess(ctx.tenantId, ctx.input.params.userId),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/access/explain',
      auth: { permission: 'access_grants.view' },
      schema: { tags, summary: 'Why a user has or lacks a permission', querystring: ExplainQuery, response: { 200: ExplainSchema } },
      handler: (ctx) => {
        const { user, permission, org } = ctx.input.query;
        return access.explain(ctx.tenantId, ctx.accountId, { userId: user, permission, org });
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/authz/check',
      auth: 'session-or-api-key',
      schema: {
        tags,
        summary: 'Allow or deny, with the reason, for one check or a batch',
        description:
          "Authenticate with the user's access token (about yourself; others need `access_grants.view`) " +
          'or with an API key of the account (`Authorization: Bearer tak1…`, only the permissions it is scoped to).',
        body: CheckBody,
        response: { 200: CheckResponse },
      },
      handler: (ctx) => {
        const body = ctx.input.body;
        return rbac.check(ctx.caller, 'checks' in body ? body.checks : [body]);
      },
    }),
  ];
}
