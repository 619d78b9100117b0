-- Single Logout (saml-profiles §4.4): a session remembers the identity-source login it comes from, so that a logout
-- at the IdP ends it, and our logout can tell the IdP which of its sessions to end.
-- `sessions.source_id` names that login (null for a password login); it is carried from the SSO sign-in through
-- the login-phase tokens (`src` claim) to the session, and across account switches.
-- `sso_logins` (feature sso) is the login itself: the connection, the user, and what the IdP's LogoutRequest names
-- it by (saml-core §3.7.1: NameID, and SessionIndex when the IdP sent one in its AuthnStatement). Tenant-owned.
ALTER TABLE sessions ADD COLUMN source_id uuid;

CREATE TABLE sso_logins (
  tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id              uuid NOT NULL,
  connection_id   uuid NOT NULL,
  user_id         uuid NOT NULL,
  name_id         text NOT NULL,
  name_id_format  text,
  session_index   text,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, connection_id) REFERENCES sso_connections (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sso_logins_name_id ON sso_logins (tenant_id, connection_id, name_id);

ALTER TABLE sso_logins ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sso_logins USING (tenant_id = tessera_current_tenant());

GRANT SELECT, INSERT, DELETE ON sso_logins TO tessera_app;
