import { defineRoute, NoContent, type Route } from '../../http/route.js';
import { CreateRoleBody, IdParams, RoleList, RoleSchema, UpdateRoleBody } from './rbac.schema.js';
import type { RbacService } from './rbac.service.js';

const tags = ['access control'];

/** Roles of the caller's account. */
export function rolesRoutes({ roles }: RbacService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/roles',
      auth: { permission: 'roles.view' },
      schema: { tags, summary: "The account's roles", response: { 200: RoleList } },
      handler: async (ctx) => ({ items: await roles.listRoles(ctx.principal) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/roles',
      auth: { permission: 'roles.create' },
      status: 201,
      schema: {
        tags,
        summary: 'Create a role',
        description:
          'Refused: `rbac.unknown_permission`, `rbac.unknown_template`, `rbac.role_name_taken`, ' +
          '`rbac.grant_exceeds_own_access`.',
        body: CreateRoleBody,
        response: { 201: RoleSchema },
      },
      handler: (ctx) => roles.createRole(ctx.principal, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/roles/:id',
      auth: { permission: 'roles.view' },
      schema: { tags, summary: 'Read a role', params: IdParams, response: { 200: RoleSchema } },
      handler: (ctx) => roles.getRole(ctx.principal, ctx.input.params.id),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/roles/:id',
      auth: { permission: 'roles.edit' },
      schema: {
        tags,
        summary: 'Edit a role',
        description: 'Refused: `rbac.system_role_immutable`, `rbac.unknown_permission`, `rbac.grant_exceeds_own_access`.',
        params: IdParams,
        body: UpdateRoleBody,
        response: { 200: RoleSchema },
      },
      handler: (ctx) => roles.updateRole(ctx.principal, ctx.actor, ctx.input.params.id, ctx.input.body),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/roles/:id',
      auth: { permission: 'roles.delete' },
      status: 204,
      schema: {
        tags,
        summary: 'Delete a role',
        description: 'Refused: `rbac.system_role_immutable`, `rbac.role_in_use`.',
        params: IdParams,
        response: { 204: NoContent },
      },
      handler: (ctx) => roles.deleteRole(ctx.principal, ctx.actor, ctx.input.params.id),
    }),
  ];
}
