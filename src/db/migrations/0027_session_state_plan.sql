-- The per-request session read (DESIGN §3 step 2) with a plan kept per connection. As a SECURITY DEFINER SQL
-- function (0011) it cannot be inlined, and PostgreSQL 15 parses, analyses and plans a non-inlined SQL function's
-- body again on every call: every batch of requests paid for a fresh plan of the three-way join. PL/pgSQL prepares
-- the query once per connection and keeps it (plan cache); `force_generic_plan` keeps one generic plan (three
-- primary-key lookups per requested session, whatever the batch size) instead of re-planning for each array.
-- Same name, arguments, result columns, owner, privileges and rows as 0011: only the language changes.
CREATE OR REPLACE FUNCTION tessera_session_states(p_tenants uuid[], p_sessions uuid[])
  RETURNS TABLE (
    tenant_id uuid, session_id uuid, account_id uuid, revoked boolean, expires_at timestamptz, authz_epoch bigint,
    user_id uuid, email text, name text, phone text, active boolean, is_tenant_admin boolean,
    must_change_password boolean, has_password boolean, created_at timestamptz, updated_at timestamptz
  )
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  SET plan_cache_mode = force_generic_plan
  AS $$
  BEGIN
    RETURN QUERY
    SELECT s.tenant_id, s.id, s.account_id, s.revoked_at IS NOT NULL, s.expires_at, a.authz_epoch,
           p.user_id, p.email, p.name, p.phone, p.active, p.is_tenant_admin, p.must_change_password, p.has_password,
           p.created_at, p.updated_at
    FROM unnest(p_tenants, p_sessions) AS k(tenant_id, session_id)
    JOIN sessions s ON s.tenant_id = k.tenant_id AND s.id = k.session_id
    JOIN user_principals p ON p.tenant_id = s.tenant_id AND p.user_id = s.user_id
    JOIN accounts a ON a.id = s.account_id;
  END
  $$;
