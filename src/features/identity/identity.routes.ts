import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Database } from '../../db/database.js';
import type { AuthContext, AuthGuards } from '../../http/auth.js';
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
import type { IdentityService, UserActor } from './identity.service.js';

/** The caller as the audit log records it. */
export function userActor(request: FastifyRequest): UserActor {
  const ua = request.headers['user-agent'];
  return { type: 'user', id: request.auth!.userId, ip: request.ip, userAgent: typeof ua === 'string' ? ua : null };
}

function auth(request: FastifyRequest): AuthContext {
  return request.auth!;
}

export function identityRoutes({ db, identity, guards }: { db: Database; identity: IdentityService; guards: AuthGuards }): FastifyPluginAsyncZod {
  return async (app) => {
    const view = { onRequest: guards.requirePermission('idp.view') };
    const manage = { onRequest: guards.requirePermission('idp.manage') };
    const self = { onRequest: guards.requireSession };

    app.get('/api/v1/users', { ...view, schema: { tags: ['users'], summary: 'List users (search, pagination)', querystring: ListUsersQuery, response: { 200: UserList } } }, async (request) => {
      const { tenantId } = auth(request);
      const { q, active, limit, offset } = request.query;
      return db.tenantWork(tenantId, (tx) => identity.listUsers(tx, tenantId, { search: q, active, limit, offset }));
    });

    app.post(
      '/api/v1/users',
      {
        ...manage,
        schema: {
          tags: ['users'],
          summary: 'Create a user',
          description: 'Tenant administrators with `idp.manage`. Refused: `email_domain_mismatch`, `identity.email_taken`, `identity.password_policy`.',
          body: CreateUserBody,
          response: { 201: UserSchema },
        },
      },
      async (request, reply) => {
        const { tenantId } = auth(request);
        const user = await db.tenantWork(tenantId, (tx) => identity.adminCreateUser(tx, tenantId, userActor(request), request.body));
        return reply.code(201).send(user);
      },
    );

    app.get('/api/v1/users/:userId', { ...view, schema: { tags: ['users'], summary: 'Read a user', params: UserIdParams, response: { 200: UserSchema } } }, async (request) => {
      const { tenantId } = auth(request);
      return db.tenantWork(tenantId, (tx) => identity.getUser(tx, tenantId, request.params.userId));
    });

    app.patch(
      '/api/v1/users/:userId',
      {
        ...manage,
        schema: {
          tags: ['users'],
          summary: 'Update a user (name, phone, active, tenant administrator)',
          description:
            'Deactivating revokes every session of the user at once. Reactivating needs at least the user\'s access (`rbac.target_exceeds_own_access`). Refused: `cannot_delete_self`, `last_tenant_admin`.',
          params: UserIdParams,
          body: UpdateUserBody,
          response: { 200: UserSchema },
        },
      },
      async (request) => {
        const { tenantId } = auth(request);
        const actor = userActor(request);
        return identity.refusalsRecorded(tenantId, actor, (tx) => identity.updateUser(tx, tenantId, actor, request.params.userId, request.body));
      },
    );

    app.delete(
      '/api/v1/users/:userId',
      {
        ...manage,
        schema: {
          tags: ['users'],
          summary: 'Delete (deactivate) a user',
          description: 'The user can no longer sign in and every session ends at once. Refused: `cannot_delete_self`, `last_tenant_admin`.',
          params: UserIdParams,
        },
      },
      async (request, reply) => {
        const { tenantId } = auth(request);
        await db.tenantWork(tenantId, (tx) => identity.deactivateUser(tx, tenantId, userActor(request), request.params.userId));
        return reply.code(204).send();
      },
    );

    app.post(
      '/api/v1/users/:userId/reset-password',
      {
        ...manage,
        schema: {
          tags: ['users'],
          summary: "Reset a user's password",
          description:
            "Sets the given password, or generates a one-time one (returned once). Revokes every session of the user. Needs at least the user's access in every account (`rbac.target_exceeds_own_access`); not for yourself (`identity.self_service_required`).",
          params: UserIdParams,
          body: ResetPasswordBody,
          response: { 200: ResetPasswordResponse },
        },
      },
      async (request, reply) => {
        const { tenantId } = auth(request);
        reply.header('cache-control', 'no-store');
        const actor = userActor(request);
        return identity.refusalsRecorded(tenantId, actor, (tx) => identity.resetPassword(tx, tenantId, actor, request.params.userId, request.body));
      },
    );

    // Served from the request's own session read (DESIGN §3 step 2): no second unit of work.
    app.get('/api/v1/me', { ...self, schema: { tags: ['profile'], summary: 'Your own profile', response: { 200: UserSchema } } }, async (request) => {
      const { userId, user } = auth(request);
      return identity.ownProfile(userId, user);
    });

    app.patch(
      '/api/v1/me',
      { ...self, schema: { tags: ['profile'], summary: 'Change your name or phone', body: UpdateProfileBody, response: { 200: UserSchema } } },
      async (request) => {
        const { tenantId } = auth(request);
        return db.tenantWork(tenantId, (tx) => identity.updateProfile(tx, tenantId, userActor(request), request.body));
      },
    );

    app.post(
      '/api/v1/me/password',
      {
        ...self,
        schema: {
          tags: ['profile'],
          summary: 'Change your password',
          description:
            'The current password is required. Every other session of yours is revoked; this one stays. Wrong current passwords are throttled like logins (`identity.too_many_password_attempts`).',
          body: ChangePasswordBody,
        },
      },
      async (request, reply) => {
        const { tenantId, sessionId } = auth(request);
        const actor = userActor(request);
        await identity.guardCurrentPassword(tenantId, actor, () => db.tenantWork(tenantId, (tx) => identity.changeOwnPassword(tx, tenantId, actor, sessionId, request.body)));
        return reply.code(204).send();
      },
    );
  };
}
