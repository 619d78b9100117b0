/**
 * The principal: a signed-in user's own record, as the identity feature owns it (DESIGN §6: "identity owns the
 * principal"). One type and one mapping from its SQL projection, the `user_principals` view (migration 0011),
 * which both identity's store and the per-request session read (`tessera_session_states`) select from. It lives
 * in the kernel, as plain data, because `http/` (which may not import features) carries it on every request.
 */
export interface Principal {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  readonly phone: string | null;
  readonly active: boolean;
  readonly isTenantAdmin: boolean;
  readonly mustChangePassword: boolean;
  readonly hasPassword: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** The columns of the `user_principals` view, as a driver returns them. */
export interface PrincipalRow {
  readonly user_id: string;
  readonly email: string;
  readonly name: string | null;
  readonly phone: string | null;
  readonly active: boolean;
  readonly is_tenant_admin: boolean;
  readonly must_change_password: boolean;
  readonly has_password: boolean;
  readonly created_at: Date | string;
  readonly updated_at: Date | string;
}

/** The one mapping from the projection's columns to the principal. */
export function toPrincipal(row: PrincipalRow): Principal {
  return {
    id: row.user_id,
    email: row.email,
    name: row.name,
    phone: row.phone,
    active: row.active,
    isTenantAdmin: row.is_tenant_admin,
    mustChangePassword: row.must_change_password,
    hasPassword: row.has_password,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}
