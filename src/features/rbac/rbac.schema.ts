import { z } from 'zod';

const key = z.string().min(3).max(100).describe('A permission key, `domain.action`');
const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const id = z.uuid();

export const IdParams = z.object({ id });
export const UserIdParams = z.object({ userId: id });

export const PermissionSchema = z.object({ key: z.string(), category: z.string(), description: z.string(), source: z.enum(['tessera', 'application']) });
export const CatalogSchema = z.object({ version: z.number().int(), permissions: z.array(PermissionSchema) }).meta({ id: 'PermissionCatalog' });

export const CatalogBody = z
  .object({
    expectedVersion: z.number().int().min(0).optional().describe('Refused with rbac.catalog_version_conflict unless the catalog is at this version.'),
    permissions: z.array(z.object({ key, category: z.string().min(1).max(100), description: z.string().max(500).optional() })).max(1000),
    templates: z.array(z.object({ key: z.string().regex(/^[a-z][a-z0-9_]*$/).max(100), name: z.string().min(1).max(200), description: z.string().max(2000).optional(), permissions: z.array(key).max(1000) })).max(200).optional(),
    force: z.boolean().optional().describe('Remove keys that roles use (they are taken out of those roles).'),
  })
  .meta({ id: 'PermissionRegistration' });
export const CatalogPutResponse = z.object({ version: z.number().int(), changed: z.boolean() });

export const TemplateSchema = z.object({ key: z.string(), name: z.string(), description: z.string(), permissions: z.array(z.string()), source: z.enum(['tessera', 'application']) });
export const TemplateList = z.object({ items: z.array(TemplateSchema) });

export const RoleSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    organizationId: z.string().nullable().describe('null: the whole account'),
    system: z.boolean(),
    permissions: z.array(z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Role' });
export const RoleList = z.object({ items: z.array(RoleSchema) });
export const CreateRoleBody = z.object({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).optional(),
  organizationId: id.nullable().optional(),
  permissions: z.array(key).max(1000).optional(),
  template: z.string().max(100).optional().describe('Pre-fill the permissions from this template (see /api/v1/role-templates).'),
});
export const UpdateRoleBody = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
  organizationId: id.nullable().optional(),
  permissions: z.array(key).max(1000).optional(),
});

export const AssignmentSchema = z
  .object({
    id: z.string(),
    accountId: z.string(),
    roleId: z.string(),
    role: z.string(),
    principal: z.object({ type: z.enum(['user', 'group']), id: z.string(), name: z.string().nullable() }),
    expiresAt: z.string().nullable(),
    expired: z.boolean(),
    managedBy: z.string().nullable().describe('Null: assigned by a person; `sso:<connectionId>`: managed by that SSO connection\'s mapping rules (re-evaluated at each sign-in)'),
    createdAt: z.string(),
  })
  .meta({ id: 'Assignment' });
export const AssignmentList = z.object({ items: z.array(AssignmentSchema) });
export const AssignmentQuery = z.object({ userId: id.optional(), groupId: id.optional(), roleId: id.optional(), includeExpired: z.stringbool().optional() });
export const CreateAssignmentBody = z
  .object({ roleId: id, userId: id.optional(), groupId: id.optional(), expiresAt: isoDate.nullable().optional() })
  .refine((b) => (b.userId === undefined) !== (b.groupId === undefined), { message: 'exactly one of userId and groupId' });
export const PrincipalQuery = z.object({ q: z.string().min(1).max(200) });
export const PrincipalList = z.object({ users: z.array(z.object({ id: z.string(), email: z.string(), name: z.string().nullable() })), groups: z.array(z.object({ id: z.string(), name: z.string() })) });

const SourceSchema = z.object({
  source: z.string().describe('`direct` or `group:NAME`'),
  groupId: z.string().nullable(),
  roleId: z.string(),
  role: z.string(),
  assignmentId: z.string(),
  organizationId: z.string().nullable(),
  expiresAt: z.string().nullable(),
  managedBy: z.string().nullable().describe('Who made the assignment: null, a person; `sso:<connectionId>`, an SSO connection\'s mapping rules'),
});
export const AccessSchema = z
  .object({
    userId: z.string(),
    accounts: z.array(
      z.object({
        accountId: z.string(),
        name: z.string(),
        organizations: z.array(z.object({ id: z.string(), name: z.string() })),
        permissions: z.array(z.object({ key: z.string(), sources: z.array(SourceSchema) })),
      }),
    ),
  })
  .meta({ id: 'EffectiveAccess' });

export const ExplainQuery = z.object({ user: id, permission: key, org: id.optional() });
export const ExplainSchema = z.object({
  userId: z.string(),
  permission: z.string(),
  org: z.string().nullable(),
  allowed: z.boolean(),
  reason: z.string(),
  chains: z.array(
    z.object({
      user: z.object({ id: z.string(), email: z.string() }),
      group: z.object({ id: z.string(), name: z.string() }).nullable(),
      assignment: z.object({ id: z.string(), expiresAt: z.string().nullable(), managedBy: z.string().nullable().describe('The assignment\'s source: null, a person; `sso:<connectionId>`, an SSO connection\'s mapping rules') }),
      role: z.object({ id: z.string(), name: z.string(), organizationId: z.string().nullable() }),
      permission: z.string(),
    }),
  ),
  missing: z.string().nullable(),
});

const CheckItem = z.object({ user: id, permission: key, org: id.optional() });
export const CheckBody = z.union([CheckItem, z.object({ checks: z.array(CheckItem).min(1).max(100) })]);
export const CheckResponse = z.object({
  results: z.array(z.object({ user: z.string(), permission: z.string(), org: z.string().nullable(), allowed: z.boolean(), reason: z.string() })),
});
