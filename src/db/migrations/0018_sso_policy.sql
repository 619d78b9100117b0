-- Require SSO per verified domain, break-glass users, and the tenant's SSO settings (README "Require SSO").
--
-- `domains.require_sso`: password logins of the domain's emails are refused (`sso_required`) while the domain
-- is verified for the tenant and at least one enabled SSO connection of the tenant lists it; the flag is kept
-- when the domain is unverified or the last connection is disabled, but then not enforced (a misconfigured IdP
-- never locks a tenant out).
ALTER TABLE domains ADD COLUMN require_sso boolean NOT NULL DEFAULT false;

-- The tenant's break-glass users: tenant administrators who may still sign in with a password (and a second
-- factor) on a Require-SSO domain. Tenant-owned; a deleted user leaves the list with the user.
CREATE TABLE sso_break_glass_users (
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id     uuid NOT NULL,
  created_by  uuid,
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, user_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE sso_break_glass_users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sso_break_glass_users USING (tenant_id = tessera_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON sso_break_glass_users TO tessera_app;

-- The tenant's SSO settings: the origins (scheme://host[:port]) its sign-ins may return to besides PUBLIC_URL's.
CREATE TABLE sso_settings (
  tenant_id                uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  allowed_return_origins   text[] NOT NULL DEFAULT '{}',
  updated_by               uuid,
  updated_at               timestamptz NOT NULL
);

ALTER TABLE sso_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sso_settings USING (tenant_id = tessera_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON sso_settings TO tessera_app;
