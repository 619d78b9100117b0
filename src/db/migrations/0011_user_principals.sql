-- The principal (DESIGN §6: identity owns it): one projection of a user's own record, the `user_principals`
-- view, owned by the identity feature. Identity's store reads users through it, and the per-request session
-- read joins it, so a column added to the record is added here once (and mapped once, src/kernel/principal.ts).
-- `security_invoker`: the view checks privileges and row-level security as the querying role, so tessera_app
-- sees through it only its unit of work's tenant, exactly as on `users` (a plain view would read as its owner).
-- The view is inlined by the planner: the session read stays one indexed read (the primary key of `users`).
CREATE VIEW user_principals WITH (security_invoker = true) AS
  SELECT u.tenant_id, u.id AS user_id, u.email, u.name, u.phone, u.active, u.is_tenant_admin, u.must_change_password,
         u.password_hash IS NOT NULL AS has_password, u.created_at, u.updated_at
  FROM users u;

GRANT SELECT ON user_principals TO tessera_app;

-- The per-request read (DESIGN §3 step 2), as migration 0006 defined it, with the user's columns taken from the
-- principal projection instead of restated. The return type changes, so the function is dropped and created
-- again (in this migration's transaction). The columns after `authz_epoch` are the view's, in its order.
DROP FUNCTION tessera_session_states(uuid[], uuid[]);

CREATE FUNCTION tessera_session_states(p_tenants uuid[], p_sessions uuid[])
  RETURNS TABLE (
    tenant_id uuid, session_id uuid, account_id uuid, revoked boolean, expires_at timestamptz, authz_epoch bigint,
    user_id uuid, email text, name text, phone text, active boolean, is_tenant_admin boolean,
    must_change_password boolean, has_password boolean, created_at timestamptz, updated_at timestamptz
  )
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT s.tenant_id, s.id, s.account_id, s.revoked_at IS NOT NULL, s.expires_at, a.authz_epoch,
           p.user_id, p.email, p.name, p.phone, p.active, p.is_tenant_admin, p.must_change_password, p.has_password,
           p.created_at, p.updated_at
    FROM unnest(p_tenants, p_sessions) AS k(tenant_id, session_id)
    JOIN sessions s ON s.tenant_id = k.tenant_id AND s.id = k.session_id
    JOIN user_principals p ON p.tenant_id = s.tenant_id AND p.user_id = s.user_id
    JOIN accounts a ON a.id = s.account_id
  $$;

REVOKE ALL ON FUNCTION tessera_session_states(uuid[], uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tessera_session_states(uuid[], uuid[]) TO tessera_app;
