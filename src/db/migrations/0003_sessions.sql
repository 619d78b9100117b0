-- Sessions (DESIGN §2, §3): account-scoped sessions, rotating refresh tokens with reuse detection, login
-- throttling, and the account authorization epoch that the per-request session read returns.

-- Bumped in the same transaction as any change to the account's roles or assignments (triggers below) and
-- by any other feature that changes who may do what in the account (e.g. group membership, user status).
ALTER TABLE accounts ADD COLUMN authz_epoch bigint NOT NULL DEFAULT 1;

CREATE TABLE sessions (
  tenant_id       uuid NOT NULL,
  id              uuid NOT NULL,
  user_id         uuid NOT NULL,
  account_id      uuid NOT NULL,
  -- How the user authenticated: 'pwd', plus 'otp' when a TOTP or recovery code completed the login.
  amr             text[] NOT NULL DEFAULT '{}',
  user_agent      text CHECK (length(user_agent) <= 500),
  ip              text CHECK (length(ip) <= 100),
  created_at      timestamptz NOT NULL,
  last_seen_at    timestamptz NOT NULL,
  -- Absolute end of the session: no refresh extends it.
  expires_at      timestamptz NOT NULL,
  revoked_at      timestamptz,
  revoked_reason  text,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, account_id) REFERENCES account_tenants (tenant_id, account_id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_idx ON sessions (tenant_id, user_id);

-- Refresh tokens are stored only as SHA-256 hashes. A rotated token keeps its successor encrypted under a
-- key derived from the rotated token itself, so only a caller holding that token can receive the same
-- successor again within the grace window (two tabs refreshing at once).
CREATE TABLE refresh_tokens (
  tenant_id      uuid NOT NULL,
  token_hash     bytea NOT NULL,
  session_id     uuid NOT NULL,
  created_at     timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL,
  rotated_at     timestamptz,
  successor_enc  bytea,
  PRIMARY KEY (tenant_id, token_hash),
  FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (tenant_id, session_id);

-- Failed-login counters per account key and per source IP (keys are SHA-256 hashes, so no email is kept).
-- Global: the per-IP counter spans tenants, and an unknown email has no tenant.
CREATE TABLE login_throttles (
  key               bytea PRIMARY KEY,
  failures          integer NOT NULL DEFAULT 0,
  window_started_at timestamptz NOT NULL,
  blocked_until     timestamptz
);

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sessions USING (tenant_id = tessera_current_tenant());
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON refresh_tokens USING (tenant_id = tessera_current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON sessions, refresh_tokens, login_throttles TO tessera_app;

-- The authorization epoch moves with every change to roles and assignments, in the same transaction.
CREATE FUNCTION tessera_bump_authz_epoch() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE accounts SET authz_epoch = authz_epoch + 1 WHERE id = OLD.account_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.account_id IS DISTINCT FROM OLD.account_id) THEN
    UPDATE accounts SET authz_epoch = authz_epoch + 1 WHERE id = NEW.account_id;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER role_assignments_authz_epoch AFTER INSERT OR UPDATE OR DELETE ON role_assignments
  FOR EACH ROW EXECUTE FUNCTION tessera_bump_authz_epoch();
CREATE TRIGGER roles_authz_epoch AFTER UPDATE OR DELETE ON roles
  FOR EACH ROW EXECUTE FUNCTION tessera_bump_authz_epoch();

-- The one read of the request hot path (DESIGN §3 step 2), for a batch of (tenant, session) pairs that may
-- span tenants. It answers only liveness facts about the sessions named, which the caller identifies by
-- their (unguessable) ids taken from tokens whose signature it has verified.
CREATE FUNCTION tessera_session_states(p_tenants uuid[], p_sessions uuid[])
  RETURNS TABLE (tenant_id uuid, session_id uuid, user_id uuid, account_id uuid, revoked boolean, expires_at timestamptz, user_active boolean, authz_epoch bigint)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT s.tenant_id, s.id, s.user_id, s.account_id, s.revoked_at IS NOT NULL, s.expires_at, u.active, a.authz_epoch
    FROM unnest(p_tenants, p_sessions) AS k(tenant_id, session_id)
    JOIN sessions s ON s.tenant_id = k.tenant_id AND s.id = k.session_id
    JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
    JOIN accounts a ON a.id = s.account_id
  $$;

CREATE INDEX users_email_lookup_idx ON users (lower(email));

-- Login without a tenant: the tenants where an active or inactive user has this email (at most 4 are
-- returned; the caller never reveals the answer, see README "Signing in").
CREATE FUNCTION tessera_login_tenants(p_email text) RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT tenant_id FROM users WHERE lower(email) = lower(p_email) ORDER BY tenant_id LIMIT 4 $$;

REVOKE ALL ON FUNCTION tessera_session_states(uuid[], uuid[]), tessera_login_tenants(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tessera_session_states(uuid[], uuid[]), tessera_login_tenants(text) TO tessera_app;
