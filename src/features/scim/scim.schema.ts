import { z } from 'zod';

/** Request and response schemas of the directory API (`/api/v1/scim/directories`), also its OpenAPI. */
const name = z.string().trim().min(1).max(200).describe('1–200 characters; unique in the tenant, case-insensitively');

export const DirectorySchema = z.object({
  id: z.string(),
  name: z.string(),
  ssoConnectionId: z.string().nullable().describe('The SSO connection the directory\'s users sign in through, if linked'),
  baseUrl: z.string().describe('The SCIM base URL to give the IdP: PUBLIC_URL/scim/v2/<id>'),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  updatedBy: z.string().nullable(),
  updatedAt: z.string(),
});

export const DirectoryList = z.object({ items: z.array(DirectorySchema) });

export const CreateDirectoryBody = z.strictObject({
  name,
  ssoConnectionId: z.uuid().nullable().optional().describe('An SSO connection of the same tenant'),
});

export const UpdateDirectoryBody = z.strictObject({
  name: name.optional(),
  ssoConnectionId: z.uuid().nullable().optional(),
});

export const DirectoryParams = z.object({ id: z.uuid() });
export const TokenParams = z.object({ id: z.uuid(), tokenId: z.uuid() });

export const TokenSchema = z.object({
  id: z.string(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable().describe('Last use, to the minute'),
  revokedAt: z.string().nullable(),
});

export const TokenList = z.object({ items: z.array(TokenSchema) });
export const CreatedToken = TokenSchema.extend({ token: z.string().describe('The bearer token, shown only in this answer') });

// ---- the SCIM protocol: bodies are checked by the service against the SCIM schemas (SCIM errors, not zod's) ----

/** Any SCIM JSON document. */
export const ScimDocument = z.record(z.string(), z.unknown());
export const ScimParams = z.object({ directoryId: z.string() });
export const ScimResourceParams = z.object({ directoryId: z.string(), id: z.string() });
export const ScimListQuery = z.object({
  filter: z.string().optional(),
  startIndex: z.string().optional(),
  count: z.string().optional(),
  sortBy: z.string().optional(),
  sortOrder: z.string().optional(),
  attributes: z.string().optional(),
  excludedAttributes: z.string().optional(),
});
export const ScimProjection = ScimListQuery.pick({ attributes: true, excludedAttributes: true });

// ---- group → role mappings (`/api/v1/scim/directories/:id/role-mappings`) ----

export const RoleMappingsSchema = z.object({
  mappings: z
    .array(z.object({ group: z.string().optional(), department: z.string().optional(), roleId: z.string() }))
    .describe("A SCIM group's displayName, or a user's enterprise department (both case-insensitive) → a role its members hold"),
  defaultRoleId: z.string().nullable().describe('The role every user of the directory holds ("everyone else → member"); null: none'),
});

export const RoleMappingsBody = z.strictObject({
  mappings: z
    .array(
      z
        .strictObject({
          group: z.string().trim().min(1).max(200).optional().describe("The SCIM group's displayName"),
          department: z.string().trim().min(1).max(100).optional().describe("The enterprise extension's department (compared trimmed, case-insensitively)"),
          roleId: z.uuid(),
        })
        .refine((m) => (m.group === undefined) !== (m.department === undefined), { message: 'Exactly one of "group" and "department".' }),
    )
    .max(200)
    .describe('At most 200; each names exactly one of group and department; a group or department may map to several roles'),
  defaultRoleId: z.uuid().nullable().optional().describe('The role of every user of the directory; null or absent: none'),
});
