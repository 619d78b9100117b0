import { defineRoute, NoContent, type Route } from '../../http/route.js';
import {
  ChangePasswordBody,
  CreateUserBody,
  ListUsersQuery,
  ResetPasswordBody,
  ResetPasswordResponse,
  UpdateProfileBody,
  UpdateUserBody,
  UserIdParams,
  UserList,
  UserSchema,
} from './identity.schema.js';
import type { IdentityService } from './identity.service.js';

const view = { permission: 'idp.view' } as const;
const manage = { permission: 'idp.manage' } as const;

export function identityRoutes(identity: IdentityService): Route[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/users',
      auth: view,
      schema: { tags: ['users'], summary: 'List users (search, pagination)', querystring: ListUsersQuery, response: { 200: UserList } },
      handler: ({ tenantId, input: { query } }) => identity.listUsers(tenantId, { search: query.q, active: query.active, limit: query.limit, offset: query.offset }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/users',
      auth: manage,
      status: 201,
      schema: {
        tags: ['users'],
        summary: 'Create a user',
        description: 'Tenant administrators with `idp.manage`. Refused: `identity.email_domain_mismatch`, `identity.email_taken`, `identity.password_policy`.',
        body: CreateUserBody,
        response: { 201: UserSchema },
      },
      handler: (ctx) => identity.adminCreateUser(ctx.tenantId, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/users/:userId',
      auth: view,
      schema: { tags: ['users'], summary: 'Read a user', params: UserIdParams, response: { 200: UserSchema } },
      handler: (ctx) => identity.readUser(ctx.tenantId, ctx.input.params.userId),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/users/:userId',
      auth: manage,
      schema: {
        tags: ['users'],
        summary: 'Update a user (name, phone, active, tenant administrator)',
        description:
          "Deactivating revokes every session of the user at once. Reactivating needs at least the user's access (`rbac.target_exceeds_own_access`). Refused: `identity.cannot_delete_self`, `identity.last_tenant_admin`.",
        params: UserIdParams,
        body: UpdateUserBody,
        response: { 200: UserSchema },
      },
      handler: (ctx) => identity.updateUser(ctx.tenantId, ctx.actor, ctx.input.params.userId, ctx.input.body),
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/users/:userId',
      auth: manage,
      status: 204,
      schema: {
        tags: ['users'],
        summary: 'Delete (deactivate) a user',
        description: 'The user can no longer sign in and every session ends at once. Refused: `identity.cannot_delete_self`, `identity.last_tenant_admin`.',
        params: UserIdParams,
        response: { 204: NoContent },
      },
      handler: (ctx) => identity.deactivateUser(ctx.tenantId, ctx.actor, ctx.input.params.userId),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/users/:userId/reset-password',
      auth: manage,
      headers: { 'cache-control': 'no-store' },
      schema: {
        tags: ['users'],
        summary: "Reset a user's password",
        description:
          "Sets the given password, or generates a one-time one (returned once). Revokes every session of the user. Needs at least the user's access in every account (`rbac.target_exceeds_own_access`); not for yourself (`identity.self_service_required`).",
        params: UserIdParams,
        body: ResetPasswordBody,
        response: { 200: ResetPasswordResponse },
      },
      handler: (ctx) => identity.resetPassword(ctx.tenantId, ctx.actor, ctx.input.params.userId, ctx.input.body),
    }),
    // Served from the request's own session read (DESIGN §3 step 2): no unit of work.
    defineRoute({
      method: 'GET',
      url: '/api/v1/me',
      auth: 'session',
      schema: { tags: ['profile'], summary: 'Your own profile', response: { 200: UserSchema } },
      handler: (ctx) => Promise.resolve(identity.ownProfile(ctx.principal.user)),
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/me',
      auth: 'session',
      schema: { tags: ['profile'], summary: 'Change your name or phone', body: UpdateProfileBody, response: { 200: UserSchema } },
      handler: (ctx) => identity.updateProfile(ctx.tenantId, ctx.actor, ctx.input.body),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/me/password',
      auth: 'session',
      status: 204,
      schema: {
        tags: ['profile'],
        summary: 'Change your password',
        description:
          'The current password is required. Every other session of yours is revoked; this one stays. Wrong current passwords are throttled like logins (`identity.too_many_password_attempts`).',
        body: ChangePasswordBody,
        response: { 204: NoContent },
      },
      handler: (ctx) => identity.changeOwnPassword(ctx.tenantId, ctx.actor, ctx.principal.sessionId, ctx.input.body),
    }),
  ];
}
