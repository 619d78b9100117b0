import { defineRoute, NoContent, type Route } from '../../http/route.js';
import {
  AssignmentList,
  AssignmentQuery,
  AssignmentSchema,
  CreateAssignmentBody,
  IdParams,
  PrincipalList,
  PrincipalQuery,
} from './rbac.schema.js';
import type { RbacService } from './rbac.service.js';

const tags = ['access control'];

/** Role assignments of the caller's account to users and groups of its tenant. */
export function assignmentsRoutes({ assignments }: RbacService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/assignments',
      auth: { permission: 'access_grants.view' },
      schema: { tags, summary: "The account's role assignments", querystring: AssignmentQuery, response: { 200: AssignmentList } },
      handler: (ctx) => assignments.listAssignments(ctx.principal, ctx.input.query),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/assignments',
      auth: { permission: 'access_grants.manage' },
      status: 201,
      schema: {
        tags,
        summary: 'Assign a role to a user or a group, optionally until expiresAt',
        description: 'Refused: `rbac.expiry_in_past`, `rbac.grant_exceeds_own_access`.',
        body: CreateAssignmentBody,
        response: { 201: AssignmentSchema },
      },
      handler: (ctx) => assignments.createAssignment(ctx.principal, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/assignments/:id',
      auth: { permission: 'access_grants.manage' },
      status: 204,
      schema: { tags, summary: 'Remove an assignment', description: 'Refused: `rbac.last_account_admin`.', params: IdParams, response: { 204: NoContent } },
      handler: (ctx) => assignments.removeAssignment(ctx.principal, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/assignments/principals',
      auth: { permission: 'access_grants.view' },
      schema: { tags, summary: 'Search users and groups to assign', querystring: PrincipalQuery, response: { 200: PrincipalList } },
      handler: (ctx) => assignments.searchPrincipals(ctx.principal, ctx.input.query.q),
    }),
  ];
}
