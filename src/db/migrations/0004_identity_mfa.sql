-- Identity and MFA: TOTP enrollments and recovery codes (issue 3).
-- Both tables are tenant-owned: tenant_id leads the primary key, row-level security admits only the unit
-- of work's tenant, and tessera_app gets only the privileges it uses.

-- One TOTP factor per user. `enabled_at` is NULL while enrollment is pending (secret issued, first code not
-- yet verified). The secret is AES-256-GCM under the tenant's data key (keyring field
-- `mfa.totp_secret/<user id>`, so a ciphertext copied to another user or tenant fails to decrypt).
-- `last_used_step` is the replay cache of RFC 6238 §5.2: a time step is accepted at most once, and never
-- one older than the last accepted.
CREATE TABLE user_mfa (
  tenant_id        uuid NOT NULL,
  user_id          uuid NOT NULL,
  totp_secret_enc  bytea NOT NULL,
  enabled_at       timestamptz,
  last_used_step   bigint,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Single-use recovery codes, stored only as SHA-256 of the normalized code (80 random bits each).
CREATE TABLE mfa_recovery_codes (
  tenant_id   uuid NOT NULL,
  user_id     uuid NOT NULL,
  code_hash   bytea NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, code_hash),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE user_mfa ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_mfa USING (tenant_id = tessera_current_tenant());

ALTER TABLE mfa_recovery_codes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mfa_recovery_codes USING (tenant_id = tessera_current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON user_mfa, mfa_recovery_codes TO tessera_app;
