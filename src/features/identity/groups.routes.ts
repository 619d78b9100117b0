import { defineRoute, NoContent, type Route } from '../../http/route.js';
import {
  CreateGroupBody,
  GroupIdParams,
  GroupList,
  GroupListQuery,
  GroupMemberParams,
  GroupSchema,
  MemberList,
  UpdateGroupBody,
} from './groups.schema.js';
import type { GroupsService } from './groups.service.js';

const tags = ['groups'];
const view = { permission: 'idp.view' } as const;
const manage = { permission: 'idp.manage' } as const;

/** Groups and their members: reading needs `idp.view`; changes `idp.manage` and a tenant administrator. */
export function groupsRoutes(groups: GroupsService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/groups',
      auth: view,
      schema: { tags, summary: "The tenant's groups", querystring: GroupListQuery, response: { 200: GroupList } },
      handler: (ctx) => groups.listGroups(ctx.tenantId, ctx.input.query),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/groups',
      auth: manage,
      status: 201,
      schema: { tags, summary: 'Create a group (tenant administrators)', body: CreateGroupBody, response: { 201: GroupSchema } },
      handler: (ctx) => groups.createGroup(ctx.tenantId, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/groups/:id',
      auth: view,
      schema: { tags, summary: 'Read a group', params: GroupIdParams, response: { 200: GroupSchema } },
      handler: (ctx) => groups.getGroup(ctx.tenantId, ctx.input.params.id),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/groups/:id',
      auth: manage,
      schema: {
        tags,
        summary: 'Rename or describe a group (tenant administrators)',
        params: GroupIdParams,
        body: UpdateGroupBody,
        response: { 200: GroupSchema },
      },
      handler: (ctx) => groups.updateGroup(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.body),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/groups/:id',
      auth: manage,
      status: 204,
      schema: {
        tags,
        summary: 'Delete a group with its memberships and assignments (tenant administrators)',
        description: 'Refused: `rbac.last_account_admin`.',
        params: GroupIdParams,
        response: { 204: NoContent },
      },
      handler: (ctx) => groups.deleteGroup(ctx.tenantId, ctx.actor, ctx.input.params.id),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/groups/:id/members',
      auth: view,
      schema: {
        tags,
        summary: 'Members of a group (search by email or name)',
        params: GroupIdParams,
        querystring: GroupListQuery,
        response: { 200: MemberList },
      },
      handler: (ctx) => groups.listMembers(ctx.tenantId, ctx.input.params.id, ctx.input.query),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/groups/:id/members/:userId',
      auth: manage,
      status: 204,
      schema: {
        tags,
        summary: 'Add a member (tenant administrators; idempotent)',
        description: 'Refused: `rbac.grant_exceeds_own_access`.',
        params: GroupMemberParams,
        response: { 204: NoContent },
      },
      handler: (ctx) => groups.addMember(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.params.userId),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/groups/:id/members/:userId',
      auth: manage,
      status: 204,
      schema: {
        tags,
        summary: 'Remove a member (tenant administrators)',
        description: 'Refused: `rbac.last_account_admin`.',
        params: GroupMemberParams,
        response: { 204: NoContent },
      },
      handler: (ctx) => groups.removeMember(ctx.tenantId, ctx.actor, ctx.input.params.id, ctx.input.params.userId),
    }),
  ];
}
