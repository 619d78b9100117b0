/**
 * Tessera's own permission keys and role templates (DESIGN §2 "Permission"). Applications add
 * theirs per account (permission_catalog, role_templates); the effective catalog is the union.
 */
export interface PermissionEntry {
  readonly key: string;
  readonly category: string;
  readonly description: string;
}

export interface RoleTemplate {
  readonly key: string;
  readonly name: string;
  readonly description: string;
  readonly permissions: string[];
  /** `tessera` for the built-in ones, `application` for those registered with a catalog. */
  readonly source: 'tessera' | 'application';
}

export const BUILTIN_PERMISSIONS: readonly PermissionEntry[] = [
  { key: 'idp.view', category: 'Identity', description: 'View users and groups' },
  { key: 'idp.manage', category: 'Identity', description: 'Create, update and delete users and groups (tenant administrators)' },
  { key: 'roles.view', category: 'Roles', description: 'View roles, role templates and the permission catalog' },
  { key: 'roles.create', category: 'Roles', description: 'Create roles' },
  { key: 'roles.edit', category: 'Roles', description: 'Edit roles and register application permissions' },
  { key: 'roles.delete', category: 'Roles', description: 'Delete roles' },
  { key: 'organizations.view', category: 'Organizations', description: 'View the organizations of the account' },
  { key: 'organizations.manage', category: 'Organizations', description: 'Create, rename and delete organizations' },
  { key: 'access_grants.view', category: 'Access grants', description: 'View role assignments, effective access and explanations' },
  { key: 'access_grants.manage', category: 'Access grants', description: 'Create and remove role assignments' },
  { key: 'audit.view', category: 'Audit', description: 'Read and verify the audit log' },
  { key: 'audit.export', category: 'Audit', description: 'Export the audit log' },
  { key: 'sso.view', category: 'Single sign-on', description: 'View SSO connections (never their secrets)' },
  { key: 'sso.manage', category: 'Single sign-on', description: 'Create, change and delete SSO connections (tenant administrators)' },
  { key: 'domains.view', category: 'Single sign-on', description: "View the tenant's email domains and their verification" },
  { key: 'domains.manage', category: 'Single sign-on', description: 'Add, verify and remove email domains (tenant administrators)' },
  { key: 'scim.manage', category: 'Provisioning', description: 'Manage SCIM directories' },
  { key: 'security.manage', category: 'Security', description: 'Manage security settings and API keys' },
  { key: 'applications.manage', category: 'Applications', description: 'Register and change the applications that sign users in through Tessera (OpenID Connect)' },
];

const BUILTIN_KEYS = new Set(BUILTIN_PERMISSIONS.map((p) => p.key));

export function isBuiltinPermission(key: string): boolean {
  return BUILTIN_KEYS.has(key);
}

// `domain.action`, lowercase (DESIGN §2 "Permission").
const KEY = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;

export function isValidPermissionKey(key: string): boolean {
  return key.length <= 100 && KEY.test(key);
}

/** Tessera's templates over a catalog: Read-Only Auditor takes every `*.view` key the catalog holds. */
export function builtinTemplates(catalogKeys: readonly string[]): RoleTemplate[] {
  const pick = (domains: string[]) => catalogKeys.filter((k) => domains.includes(k.split('.')[0]!));
  return [
    { key: 'account_administrator', name: 'Account Administrator', description: 'Every permission of the catalog.', permissions: [...catalogKeys], source: 'tessera' },
    { key: 'read_only_auditor', name: 'Read-Only Auditor', description: 'Every view permission.', permissions: catalogKeys.filter((k) => k.endsWith('.view')), source: 'tessera' },
    { key: 'identity_administrator', name: 'Identity Administrator', description: 'Users, groups, SSO, domains and SCIM.', permissions: pick(['idp', 'sso', 'domains', 'scim']), source: 'tessera' },
    { key: 'access_manager', name: 'Access Manager', description: 'Roles and role assignments.', permissions: pick(['roles', 'access_grants']), source: 'tessera' },
  ];
}
