-- Audit append-only, without a setting anyone can flip. 0002's trigger let a DELETE through whenever the
-- custom setting tessera.audit_retention was 'on', and any role, the request role included, may set a
-- custom setting. Now the only way past the trigger is a row in audit_retention_window, a table no role
-- but the owner may touch, which tessera_audit_retain (SECURITY DEFINER, owned by the schema owner, EXECUTE
-- granted to nobody) inserts and removes inside its own call. A row that is never committed is visible to
-- its own transaction only, so the window is open for exactly that function's DELETE (defence in depth:
-- the request role also holds no UPDATE or DELETE privilege on audit_events; OWASP ASVS V7.3.3).

CREATE TABLE audit_retention_window (
  tenant_id  uuid PRIMARY KEY
);
-- The window is an owner-only capability: no grants, and row-level security with no policy for anyone else.
ALTER TABLE audit_retention_window ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON audit_retention_window FROM PUBLIC;

-- Runs as the owner (SECURITY DEFINER) so it can read the window whoever issued the UPDATE or DELETE.
CREATE OR REPLACE FUNCTION tessera_audit_append_only() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_retention_window w WHERE w.tenant_id = OLD.tenant_id) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
REVOKE ALL ON FUNCTION tessera_audit_append_only() FROM PUBLIC;

-- Retention, as in 0002 (oldest first, at most p_limit events older than p_cutoff, checkpoint first,
-- serialized with appends through the head row), opening the window for its one tenant and its one DELETE.
CREATE OR REPLACE FUNCTION tessera_audit_retain(p_tenant uuid, p_cutoff timestamptz, p_limit integer, p_now timestamptz) RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  r record;
  v_seq bigint;
  v_hash text;
  v_at timestamptz;
  v_n bigint := 0;
BEGIN
  PERFORM 1 FROM audit_heads WHERE tenant_id = p_tenant FOR UPDATE;
  FOR r IN SELECT seq, hash, occurred_at FROM audit_events WHERE tenant_id = p_tenant ORDER BY seq LIMIT p_limit LOOP
    EXIT WHEN r.occurred_at >= p_cutoff;
    v_seq := r.seq;
    v_hash := r.hash;
    v_at := r.occurred_at;
    v_n := v_n + 1;
  END LOOP;
  IF v_seq IS NULL THEN
    RETURN 0;
  END IF;
  INSERT INTO audit_checkpoints (tenant_id, seq, hash, occurred_at, removed, created_at)
    VALUES (p_tenant, v_seq, v_hash, v_at, v_n, p_now);
  INSERT INTO audit_retention_window (tenant_id) VALUES (p_tenant);
  DELETE FROM audit_events WHERE tenant_id = p_tenant AND seq <= v_seq;
  DELETE FROM audit_retention_window WHERE tenant_id = p_tenant;
  RETURN v_n;
END
$$;
REVOKE ALL ON FUNCTION tessera_audit_retain(uuid, timestamptz, integer, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION tessera_audit_retain(uuid, timestamptz, integer, timestamptz) FROM tessera_app;
