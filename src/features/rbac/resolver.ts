import type { GrantRow } from './rbac.store.js';
import { ACCOUNT_ADMIN } from './system-roles.js';

/** Where a permission comes from (DESIGN §2 "Assignment": each permission labelled with its source). */
export interface Source {
  /** `direct` or `group:NAME`. */
  readonly source: string;
  readonly groupId: string | null;
  readonly roleId: string;
  readonly role: string;
  readonly assignmentId: string;
  /** The organization the role is scoped to; null: the whole account. */
  readonly organizationId: string | null;
  readonly expiresAt: string | null;
  /** Who made the assignment: null, a person; `sso:<connectionId>`, an SSO connection's mapping rules. */
  readonly managedBy: string | null;
}

/** The permissions of one user in one account, each with its sources. */
export interface Resolved {
  readonly permissions: ReadonlyMap<string, readonly Source[]>;
  /** The assignments through which the user holds the system Account Administrator role. */
  readonly accountAdmin: readonly Source[];
  /** Milliseconds: when the earliest assignment it was built from expires (DESIGN §3); Infinity if none. */
  readonly validUntil: number;
}

function sourceOf(g: GrantRow): Source {
  return {
    source: g.group_id ? `group:${g.group_name}` : 'direct',
    groupId: g.group_id,
    roleId: g.role_id,
    role: g.role_name,
    assignmentId: g.assignment_id,
    organizationId: g.organization_id,
    expiresAt: g.expires_at ? new Date(g.expires_at).toISOString() : null,
    managedBy: g.managed_by ?? null,
  };
}

/**
 * The union over the user's active assignments (DESIGN §2). Account Administrator holds every key of the
 * account's catalog, including keys registered after the role was created.
 */
export function resolve(grants: readonly GrantRow[], catalogKeys: readonly string[]): Resolved {
  const permissions = new Map<string, Source[]>();
  const accountAdmin: Source[] = [];
  let validUntil = Infinity;
  for (const g of grants) {
    if (g.expires_at) validUntil = Math.min(validUntil, new Date(g.expires_at).getTime());
    const admin = g.system_key === ACCOUNT_ADMIN.systemKey;
    const keys = admin ? catalogKeys : g.permissions;
    const source = sourceOf(g);
    if (admin) accountAdmin.push(source);
    for (const key of keys) {
      const list = permissions.get(key);
      if (list) list.push(source);
      else permissions.set(key, [source]);
    }
  }
  return { permissions, accountAdmin, validUntil };
}

/** Whether the sources grant the permission in `org` (a role scoped to an organization counts only there). */
export function grantingSources(resolved: Resolved, permission: string, org: string | null | undefined): readonly Source[] {
  const sources = resolved.permissions.get(permission) ?? [];
  return sources.filter((s) => s.organizationId === null || (org !== null && org !== undefined && s.organizationId === org));
}
