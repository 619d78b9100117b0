-- Refresh-token rotation (RFC 9700 §4.14.2) in one statement: one round trip on PostgreSQL, sent outside any
-- explicit transaction (PostgreSQL's implicit one commits it), where a unit of work took six (begin, the role
-- switch, the locked token and session read, the user read, the rotation, commit).
--
-- Row-level security as in a unit of work (DESIGN §4): the function is SECURITY INVOKER and runs as tessera_app
-- whoever calls it (`SET role`, restored when it returns; the caller's session user must be a member, as for
-- `tenantWork`), and sets `tessera.tenant_id` to the tenant it is handed for its own duration only (the caller's
-- value is put back before it returns). Called inside a unit of work of another tenant, it refuses (it is no way
-- out of a unit of work's tenant). Every statement also filters on the tenant (the first wall). The caller hands
-- the tenant named in the token (`rt1.<tenant>.<random>`); the token hash covers that prefix, so a token presented
-- under another tenant finds nothing.
--
-- It decides only the paths that write nothing but the rotation itself: an unknown token, an ended session, an
-- inactive user, an expired token (each answered as a refusal, nothing written), or the rotation (the token
-- locked, marked rotated with its sealed successor, the successor inserted, the session touched). A token that was
-- rotated already ('spent': the grace window for a client racing itself, or reuse detection that revokes the
-- session with its audit event and `sessions.ended`) is only reported: the application then takes the token's
-- lock again in a unit of work and decides there, as before (the successor is sealed under a key only the
-- token's holder derives, and revocation has subscribers in the application). The checks and their order are
-- those of the unit of work (session-lifecycle.service.ts `refreshInTx`).
--
-- Each successor lives as long as the first token of its session did, never past the session's end; the
-- lifetime is carried in seconds (not as an interval with days, which a time zone with daylight saving would
-- stretch or shrink).
CREATE FUNCTION tessera_refresh_rotate(p_tenant uuid, p_hash bytea, p_now timestamptz, p_successor_hash bytea, p_successor_enc bytea)
  RETURNS TABLE (
    outcome text, session_id uuid, user_id uuid, account_id uuid, amr text[], auth_time timestamptz, refresh_expires_at timestamptz
  )
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER
  SET role = tessera_app
  SET search_path = public, pg_temp
  SET plan_cache_mode = force_generic_plan
  AS $$
  #variable_conflict use_column
  DECLARE
    r record;
    v_expires timestamptz;
    v_caller text := coalesce(current_setting('tessera.tenant_id', true), '');
  BEGIN
    IF v_caller <> '' AND v_caller <> p_tenant::text THEN
      RAISE EXCEPTION 'tessera_refresh_rotate: called for another tenant than the unit of work''s' USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('tessera.tenant_id', p_tenant::text, true);
    -- The token row is locked until the statement commits: concurrent rotations of one token queue here, and the
    -- one that waited re-reads the row (READ COMMITTED) and finds it rotated.
    SELECT rt.created_at AS created, rt.expires_at AS expires, rt.rotated_at AS rotated,
           s.id AS sid, s.user_id AS uid, s.account_id AS acc, s.amr AS methods, s.auth_time AS authenticated,
           s.revoked_at AS session_revoked, s.expires_at AS session_expires, p.active AS user_active
      INTO r
      FROM refresh_tokens rt
      JOIN sessions s ON s.tenant_id = rt.tenant_id AND s.id = rt.session_id
      LEFT JOIN user_principals p ON p.tenant_id = s.tenant_id AND p.user_id = s.user_id
      WHERE rt.tenant_id = p_tenant AND rt.token_hash = p_hash
      FOR UPDATE OF rt;
    IF NOT FOUND THEN
      outcome := 'unknown';
    ELSIF r.session_revoked IS NOT NULL OR r.session_expires <= p_now THEN
      outcome := 'session ended';
    ELSIF r.user_active IS NOT TRUE THEN
      outcome := 'user inactive';
    ELSIF r.rotated IS NOT NULL THEN
      outcome := 'spent';
    ELSIF r.expires <= p_now THEN
      outcome := 'expired';
    ELSE
      v_expires := least(r.session_expires, p_now + (extract(epoch FROM r.expires) - extract(epoch FROM r.created)) * interval '1 second');
      WITH spent AS (
        UPDATE refresh_tokens SET rotated_at = p_now, successor_enc = p_successor_enc
        WHERE tenant_id = p_tenant AND token_hash = p_hash
      ), seen AS (
        UPDATE sessions SET last_seen_at = p_now WHERE tenant_id = p_tenant AND id = r.sid
      )
      INSERT INTO refresh_tokens (tenant_id, token_hash, session_id, created_at, expires_at)
      VALUES (p_tenant, p_successor_hash, r.sid, p_now, v_expires);
      outcome := 'rotated';
      session_id := r.sid;
      user_id := r.uid;
      account_id := r.acc;
      amr := r.methods;
      auth_time := r.authenticated;
      refresh_expires_at := v_expires;
    END IF;
    PERFORM set_config('tessera.tenant_id', v_caller, true);
    RETURN NEXT;
  END
  $$;

REVOKE ALL ON FUNCTION tessera_refresh_rotate(uuid, bytea, timestamptz, bytea, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tessera_refresh_rotate(uuid, bytea, timestamptz, bytea, bytea) TO tessera_app;
