import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Database, Tx } from '../../db/database.js';
import type { AuthContext, AuthGuards } from '../../http/auth.js';
import type { Checker, RbacService } from './rbac.service.js';
import {
  AccessSchema,
  AssignmentList,
  AssignmentQuery,
  AssignmentSchema,
  CatalogBody,
  CatalogPutResponse,
  CatalogSchema,
  CheckBody,
  CheckResponse,
  CreateAssignmentBody,
  CreateGroupBody,
  CreateRoleBody,
  ExplainQuery,
  ExplainSchema,
  GroupList,
  GroupMemberParams,
  GroupSchema,
  IdParams,
  ListQuery,
  MemberList,
  PrincipalList,
  PrincipalQuery,
  RoleList,
  RoleSchema,
  TemplateList,
  UpdateGroupBody,
  UpdateRoleBody,
  UserIdParams,
} from './rbac.schema.js';

function actor(request: FastifyRequest) {
  const ua = request.headers['user-agent'];
  return { type: 'user' as const, id: request.auth!.userId, ip: request.ip, userAgent: typeof ua === 'string' ? ua : null };
}

function auth(request: FastifyRequest): AuthContext {
  return request.auth!;
}

/** Access control routes; each is guarded exactly as the permission table of issue 4 says. */
export function rbacRoutes({ db, rbac, guards }: { db: Database; rbac: RbacService; guards: AuthGuards }): FastifyPluginAsyncZod {
  const need = (permission: string) => ({ onRequest: guards.requirePermission(permission) });
  const { catalog, roles, groups, assignments, access, grants } = rbac;
  // Routes that give access run through the grant rule's recorder: a refusal is audited though the change rolls back.
  const granting = <T>(request: FastifyRequest, work: (tx: Tx) => Promise<T>) => grants.refusalsRecorded(auth(request).tenantId, actor(request), work);

  return async (app) => {
    // ---- permission catalog and templates ----
    app.get('/api/v1/permissions', { ...need('roles.view'), schema: { tags: ['access control'], summary: 'The permission catalog (Tessera and application keys)', response: { 200: CatalogSchema } } }, async (request) => {
      const { tenantId, accountId } = auth(request);
      return db.tenantWork(tenantId, (tx) => catalog.catalog(tx, accountId));
    });
    app.put(
      '/api/v1/permissions',
      {
        ...need('roles.edit'),
        schema: {
          tags: ['access control'],
          summary: "Register the application's permission keys and role templates (idempotent, versioned)",
          description: 'Replaces the application keys and templates of the account. Refused: `rbac.invalid_permission_key`, `rbac.unknown_permission`, `rbac.permission_in_use` (unless `force`), `rbac.catalog_version_conflict`.',
          body: CatalogBody,
          response: { 200: CatalogPutResponse },
        },
      },
      async (request) => {
        const { tenantId, accountId } = auth(request);
        return db.tenantWork(tenantId, (tx) => catalog.putCatalog(tx, tenantId, actor(request), accountId, request.body));
      },
    );
    app.get('/api/v1/role-templates', { ...need('roles.view'), schema: { tags: ['access control'], summary: 'Role templates that pre-fill a new role', response: { 200: TemplateList } } }, async (request) => {
      const { tenantId, accountId } = auth(request);
      return { items: await db.tenantWork(tenantId, (tx) => catalog.templates(tx, accountId)) };
    });

    // ---- roles ----
    app.get('/api/v1/roles', { ...need('roles.view'), schema: { tags: ['access control'], summary: "The account's roles", response: { 200: RoleList } } }, async (request) => {
      const a = auth(request);
      return { items: await db.tenantWork(a.tenantId, (tx) => roles.listRoles(tx, a)) };
    });
    app.post(
      '/api/v1/roles',
      { ...need('roles.create'), schema: { tags: ['access control'], summary: 'Create a role', description: 'Refused: `rbac.unknown_permission`, `rbac.unknown_template`, `rbac.role_name_taken`, `rbac.grant_exceeds_own_access`.', body: CreateRoleBody, response: { 201: RoleSchema } } },
      async (request, reply) => {
        const a = auth(request);
        return reply.code(201).send(await granting(request, (tx) => roles.createRole(tx, a, actor(request), request.body)));
      },
    );
    app.get('/api/v1/roles/:id', { ...need('roles.view'), schema: { tags: ['access control'], summary: 'Read a role', params: IdParams, response: { 200: RoleSchema } } }, async (request) => {
      const a = auth(request);
      return db.tenantWork(a.tenantId, (tx) => roles.getRole(tx, a, request.params.id));
    });
    app.patch(
      '/api/v1/roles/:id',
      { ...need('roles.edit'), schema: { tags: ['access control'], summary: 'Edit a role', description: 'Refused: `system_role_immutable`, `rbac.unknown_permission`, `rbac.grant_exceeds_own_access`.', params: IdParams, body: UpdateRoleBody, response: { 200: RoleSchema } } },
      async (request) => {
        const a = auth(request);
        return granting(request, (tx) => roles.updateRole(tx, a, actor(request), request.params.id, request.body));
      },
    );
    app.delete(
      '/api/v1/roles/:id',
      { ...need('roles.delete'), schema: { tags: ['access control'], summary: 'Delete a role', description: 'Refused: `system_role_immutable`, `role_in_use`.', params: IdParams } },
      async (request, reply) => {
        const a = auth(request);
        await db.tenantWork(a.tenantId, (tx) => roles.deleteRole(tx, a, actor(request), request.params.id));
        return reply.code(204).send();
      },
    );

    // ---- groups ----
    app.get('/api/v1/groups', { ...need('idp.view'), schema: { tags: ['groups'], summary: "The tenant's groups", querystring: ListQuery, response: { 200: GroupList } } }, async (request) => {
      const { tenantId } = auth(request);
      return db.tenantWork(tenantId, (tx) => groups.listGroups(tx, tenantId, request.query));
    });
    app.post(
      '/api/v1/groups',
      { ...need('idp.manage'), schema: { tags: ['groups'], summary: 'Create a group (tenant administrators)', body: CreateGroupBody, response: { 201: GroupSchema } } },
      async (request, reply) => {
        const { tenantId } = auth(request);
        return reply.code(201).send(await db.tenantWork(tenantId, (tx) => groups.createGroup(tx, tenantId, actor(request), request.body)));
      },
    );
    app.get('/api/v1/groups/:id', { ...need('idp.view'), schema: { tags: ['groups'], summary: 'Read a group', params: IdParams, response: { 200: GroupSchema } } }, async (request) => {
      const { tenantId } = auth(request);
      return db.tenantWork(tenantId, (tx) => groups.getGroup(tx, tenantId, request.params.id));
    });
    app.patch(
      '/api/v1/groups/:id',
      { ...need('idp.manage'), schema: { tags: ['groups'], summary: 'Rename or describe a group (tenant administrators)', params: IdParams, body: UpdateGroupBody, response: { 200: GroupSchema } } },
      async (request) => {
        const { tenantId } = auth(request);
        return db.tenantWork(tenantId, (tx) => groups.updateGroup(tx, tenantId, actor(request), request.params.id, request.body));
      },
    );
    app.delete(
      '/api/v1/groups/:id',
      { ...need('idp.manage'), schema: { tags: ['groups'], summary: 'Delete a group with its memberships and assignments (tenant administrators)', description: 'Refused: `last_account_admin`.', params: IdParams } },
      async (request, reply) => {
        const { tenantId } = auth(request);
        await db.tenantWork(tenantId, (tx) => groups.deleteGroup(tx, tenantId, actor(request), request.params.id));
        return reply.code(204).send();
      },
    );
    app.get('/api/v1/groups/:id/members', { ...need('idp.view'), schema: { tags: ['groups'], summary: 'Members of a group (search by email or name)', params: IdParams, querystring: ListQuery, response: { 200: MemberList } } }, async (request) => {
      const { tenantId } = auth(request);
      return db.tenantWork(tenantId, (tx) => groups.listMembers(tx, tenantId, request.params.id, request.query));
    });
    app.put(
      '/api/v1/groups/:id/members/:userId',
      { ...need('idp.manage'), schema: { tags: ['groups'], summary: 'Add a member (tenant administrators; idempotent)', description: 'Refused: `rbac.grant_exceeds_own_access`.', params: GroupMemberParams } },
      async (request, reply) => {
        const { tenantId } = auth(request);
        await granting(request, (tx) => groups.addMember(tx, tenantId, actor(request), request.params.id, request.params.userId));
        return reply.code(204).send();
      },
    );
    app.delete(
      '/api/v1/groups/:id/members/:userId',
      { ...need('idp.manage'), schema: { tags: ['groups'], summary: 'Remove a member (tenant administrators)', description: 'Refused: `last_account_admin`.', params: GroupMemberParams } },
      async (request, reply) => {
        const { tenantId } = auth(request);
        await db.tenantWork(tenantId, (tx) => groups.removeMember(tx, tenantId, actor(request), request.params.id, request.params.userId));
        return reply.code(204).send();
      },
    );

    // ---- assignments ----
    app.get('/api/v1/assignments', { ...need('access_grants.view'), schema: { tags: ['access control'], summary: "The account's role assignments", querystring: AssignmentQuery, response: { 200: AssignmentList } } }, async (request) => {
      const a = auth(request);
      return db.tenantWork(a.tenantId, (tx) => assignments.listAssignments(tx, a, request.query));
    });
    app.post(
      '/api/v1/assignments',
      {
        ...need('access_grants.manage'),
        schema: { tags: ['access control'], summary: 'Assign a role to a user or a group, optionally until expiresAt', description: 'Refused: `rbac.expiry_in_past`, `rbac.grant_exceeds_own_access`.', body: CreateAssignmentBody, response: { 201: AssignmentSchema } },
      },
      async (request, reply) => {
        const a = auth(request);
        return reply.code(201).send(await granting(request, (tx) => assignments.createAssignment(tx, a, actor(request), request.body)));
      },
    );
    app.delete(
      '/api/v1/assignments/:id',
      { ...need('access_grants.manage'), schema: { tags: ['access control'], summary: 'Remove an assignment', description: 'Refused: `last_account_admin`.', params: IdParams } },
      async (request, reply) => {
        const a = auth(request);
        await db.tenantWork(a.tenantId, (tx) => assignments.removeAssignment(tx, a, actor(request), request.params.id));
        return reply.code(204).send();
      },
    );
    app.get('/api/v1/assignments/principals', { ...need('access_grants.view'), schema: { tags: ['access control'], summary: 'Search users and groups to assign', querystring: PrincipalQuery, response: { 200: PrincipalList } } }, async (request) => {
      const a = auth(request);
      return db.tenantWork(a.tenantId, (tx) => assignments.searchPrincipals(tx, a, request.query.q));
    });

    // ---- effective access, explain ----
    app.get('/api/v1/me/access', { onRequest: guards.requireSession, schema: { tags: ['access control'], summary: 'Your effective access with sources', response: { 200: AccessSchema } } }, async (request) => {
      const { tenantId, userId } = auth(request);
      return db.tenantWork(tenantId, (tx) => access.effectiveAccess(tx, tenantId, userId));
    });
    app.get('/api/v1/users/:userId/access', { ...need('access_grants.view'), schema: { tags: ['access control'], summary: "A user's effective access with sources", params: UserIdParams, response: { 200: AccessSchema } } }, async (request) => {
      const { tenantId } = auth(request);
      return db.tenantWork(tenantId, (tx) => access.effectiveAccess(tx, tenantId, request.params.userId));
    });
    app.get('/api/v1/access/explain', { ...need('access_grants.view'), schema: { tags: ['access control'], summary: 'Why a user has or lacks a permission', querystring: ExplainQuery, response: { 200: ExplainSchema } } }, async (request) => {
      const { tenantId, accountId } = auth(request);
      const { user, permission, org } = request.query;
      return db.tenantWork(tenantId, (tx) => access.explain(tx, tenantId, accountId, { userId: user, permission, org }));
    });

    // ---- authorization API for applications ----
    app.post(
      '/api/v1/authz/check',
      {
        onRequest: guards.requireSessionOrApiKey,
        schema: {
          tags: ['access control'],
          summary: 'Allow or deny, with the reason, for one check or a batch',
          description: "Authenticate with the user's access token (about yourself; others need `access_grants.view`) or with an API key of the account (`Authorization: Bearer tak1…`, only the permissions it is scoped to).",
          body: CheckBody,
          response: { 200: CheckResponse },
        },
      },
      async (request) => {
        const checker: Checker = request.apiKey ?? { kind: 'session', ...auth(request) };
        const checks = 'checks' in request.body ? request.body.checks : [request.body];
        return rbac.check(checker, checks);
      },
    );
  };
}
