-- "Test connection" outcomes of the sso feature: an administrator's dry-run sign-in through a connection (claims
-- received, the mapping rules' result, or the refusal's code). Kept 30 minutes (purged), readable by the tenant's
-- administrators only. Tenant-owned.
CREATE TABLE sso_connection_tests (
  tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id             uuid NOT NULL,
  connection_id  uuid NOT NULL,
  started_by     uuid NOT NULL,
  status         text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  outcome        jsonb,
  created_at     timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES sso_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sso_connection_tests_expiry_idx ON sso_connection_tests (tenant_id, expires_at);

ALTER TABLE sso_connection_tests ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sso_connection_tests USING (tenant_id = tessera_current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON sso_connection_tests TO tessera_app;
