-- GET /api/v1/me served from the request's own session read (DESIGN §3 step 2): the one per-request read
-- also returns the profile fields of the session's user, so the profile costs no second unit of work.
-- Like the liveness facts, they are answered only for sessions the caller names by their (unguessable) ids,
-- taken from tokens whose signature it has verified; the caller shows them only to that session's user.
-- The return type changes, so the function is dropped and created again (in this migration's transaction).
DROP FUNCTION tessera_session_states(uuid[], uuid[]);

CREATE FUNCTION tessera_session_states(p_tenants uuid[], p_sessions uuid[])
  RETURNS TABLE (
    tenant_id uuid, session_id uuid, user_id uuid, account_id uuid, revoked boolean, expires_at timestamptz,
    user_active boolean, authz_epoch bigint,
    user_email text, user_name text, user_phone text, user_is_tenant_admin boolean,
    user_must_change_password boolean, user_has_password boolean, user_created_at timestamptz, user_updated_at timestamptz
  )
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT s.tenant_id, s.id, s.user_id, s.account_id, s.revoked_at IS NOT NULL, s.expires_at, u.active, a.authz_epoch,
           u.email, u.name, u.phone, u.is_tenant_admin, u.must_change_password, u.password_hash IS NOT NULL, u.created_at, u.updated_at
    FROM unnest(p_tenants, p_sessions) AS k(tenant_id, session_id)
    JOIN sessions s ON s.tenant_id = k.tenant_id AND s.id = k.session_id
    JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
    JOIN accounts a ON a.id = s.account_id
  $$;

REVOKE ALL ON FUNCTION tessera_session_states(uuid[], uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tessera_session_states(uuid[], uuid[]) TO tessera_app;
