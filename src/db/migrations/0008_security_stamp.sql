-- Tokens bound to the user's security state (sessions, identity): the security stamp, single-use token ids,
-- and the time of the authentication a session came from (step-up).

-- A random value rotated in the same transaction as every change to how the user proves who they are or
-- which sessions they hold: password change or reset, deactivation, revoke-all, MFA enable/disable/reset.
-- Identity, MFA-challenge and password-change tokens carry a hash of it and are refused once it moved.
ALTER TABLE users ADD COLUMN security_stamp uuid NOT NULL DEFAULT gen_random_uuid();

-- When the user last proved who they are for this session (OIDC Core §2 `auth_time`, RFC 9068 §2.2.1):
-- carried over by account switching and refresh, so a step-up window is measured from the real login.
-- NULL for sessions created before this migration: they count as old (step-up asks for the password).
ALTER TABLE sessions ADD COLUMN auth_time timestamptz;

-- Single use (RFC 7519 §4.1.7 `jti`): every identity, MFA-challenge and password-change token id is
-- recorded when the token is spent, until it expires; the primary key makes a second use fail atomically.
CREATE TABLE used_tokens (
  tenant_id   uuid NOT NULL,
  jti         uuid NOT NULL,
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, jti)
);
CREATE INDEX used_tokens_expiry_idx ON used_tokens (tenant_id, expires_at);

ALTER TABLE used_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON used_tokens USING (tenant_id = tessera_current_tenant());

GRANT SELECT, INSERT, DELETE ON used_tokens TO tessera_app;
