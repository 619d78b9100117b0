-- The per-request session read (DESIGN §3 step 2) as key lookups, whatever the tables' statistics. 0027 keeps one
-- generic plan per connection, and the planner chose it from the statistics of the moment: on small tables a hash
-- join over a sequential scan of `sessions`; once a tenant had a few thousand sessions, a scan of every session of
-- every user of the tenant (`sessions_user_idx`), filtered down to the one asked for — 0.15 → 0.55 ms a batch
-- after 1,700 sessions, growing with the tenant (BENCHMARKS.md, "Per core: third quiet run"). Each row is now
-- looked up by its own key through a LATERAL subquery with LIMIT 1, which the planner cannot flatten into a join
-- and must run as a parameterized lookup per requested session: the sessions primary key, then the user's and
-- the account's. Every key is unique, so LIMIT 1 drops nothing, and an inner LATERAL join drops a session with no
-- user or account exactly as the joins did. Same name, arguments, result columns, owner, privileges and rows.
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
    CROSS JOIN LATERAL (
      SELECT s0.tenant_id, s0.id, s0.user_id, s0.account_id, s0.revoked_at, s0.expires_at
      FROM sessions s0 WHERE s0.tenant_id = k.tenant_id AND s0.id = k.session_id LIMIT 1
    ) s
    CROSS JOIN LATERAL (
      SELECT p0.user_id, p0.email, p0.name, p0.phone, p0.active, p0.is_tenant_admin, p0.must_change_password,
             p0.has_password, p0.created_at, p0.updated_at
      FROM user_principals p0 WHERE p0.tenant_id = s.tenant_id AND p0.user_id = s.user_id LIMIT 1
    ) p
    CROSS JOIN LATERAL (SELECT a0.authz_epoch FROM accounts a0 WHERE a0.id = s.account_id LIMIT 1) a;
  END
  $$;
