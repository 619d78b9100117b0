-- SCIM 2.0 server (RFC 7643/7644; DESIGN §2 "Tenant", §4 "Tokens we issue to machines"): per-tenant directories
-- an IdP provisions into, their bearer tokens, and the SCIM side of each provisioned user. Tenant-owned:
-- tenant_id leads every primary key, row-level security admits only the unit of work's tenant, and tessera_app
-- gets only the privileges it uses.
--
-- A directory may name an SSO connection of the same tenant (its users sign in through it). Tokens are stored
-- only as SHA-256 hashes (crypto/opaque-token.ts), shown once; the service keeps at most two live per directory.
CREATE TABLE scim_directories (
  tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                 uuid NOT NULL,
  name               text NOT NULL,
  sso_connection_id  uuid,
  created_by         uuid,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_by         uuid,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, sso_connection_id) REFERENCES sso_connections (tenant_id, id) ON DELETE SET NULL (sso_connection_id)
);

CREATE UNIQUE INDEX scim_directories_name_key ON scim_directories (tenant_id, lower(name));

CREATE TABLE scim_tokens (
  tenant_id     uuid NOT NULL,
  id            uuid NOT NULL,
  directory_id  uuid NOT NULL,
  token_hash    bytea NOT NULL,
  created_by    uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, directory_id) REFERENCES scim_directories (tenant_id, id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX scim_tokens_hash_key ON scim_tokens (tenant_id, token_hash);

-- The SCIM view of a provisioned user: the identity user (users, identity's) is the principal; this row holds
-- what only SCIM knows (userName, externalId, the full resource as the IdP sent it, its version for ETags).
-- `active` mirrors users.active (kept by the scim feature in the writer's transaction) so filters run here.
-- userName is unique per directory, case-insensitively (RFC 7643 §4.1.1 caseExact false); an identity user
-- belongs to at most one directory of its tenant.
CREATE TABLE scim_users (
  tenant_id     uuid NOT NULL,
  directory_id  uuid NOT NULL,
  user_id       uuid NOT NULL,
  user_name     text NOT NULL,
  external_id   text,
  active        boolean NOT NULL,
  resource      jsonb NOT NULL,
  version       integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, directory_id, user_id),
  FOREIGN KEY (tenant_id, directory_id) REFERENCES scim_directories (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX scim_users_user_key ON scim_users (tenant_id, user_id);
CREATE UNIQUE INDEX scim_users_user_name_key ON scim_users (tenant_id, directory_id, lower(user_name));
CREATE INDEX scim_users_external_id ON scim_users (tenant_id, directory_id, external_id);

ALTER TABLE scim_directories ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim_directories USING (tenant_id = tessera_current_tenant());
ALTER TABLE scim_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim_tokens USING (tenant_id = tessera_current_tenant());
ALTER TABLE scim_users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim_users USING (tenant_id = tessera_current_tenant());

GRANT SELECT, INSERT, UPDATE, DELETE ON scim_directories, scim_tokens, scim_users TO tessera_app;

-- /scim/v2/<directory id>/… names a directory by id only, before any tenant is known: only its tenant id leaves
-- the function, never another tenant's rows.
CREATE FUNCTION tessera_scim_directory_tenant(p_id uuid) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT tenant_id FROM scim_directories WHERE id = p_id $$;

REVOKE ALL ON FUNCTION tessera_scim_directory_tenant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tessera_scim_directory_tenant(uuid) TO tessera_app;
