-- Federated identities of the sso feature: which user of the tenant an IdP subject signs in as. OpenID Connect
-- Core §5.7: `sub` (unique per issuer) is the only stable identifier; the email may change at the IdP, so a
-- later sign-in with the same subject finds the same user. One row per (connection, subject); tenant-owned.
CREATE TABLE sso_identities (
  tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  connection_id  uuid NOT NULL,
  subject        text NOT NULL,
  user_id        uuid NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_login_at  timestamptz,
  PRIMARY KEY (tenant_id, connection_id, subject),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES sso_connections (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE sso_identities ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sso_identities USING (tenant_id = tessera_current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON sso_identities TO tessera_app;

-- /auth/sso/start names a connection by id only, before any tenant is known: only its tenant id leaves the
-- function, never another tenant's rows.
CREATE FUNCTION tessera_sso_connection_tenant(p_id uuid) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT tenant_id FROM sso_connections WHERE id = p_id $$;

REVOKE ALL ON FUNCTION tessera_sso_connection_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tessera_sso_connection_tenant(uuid) TO tessera_app;
