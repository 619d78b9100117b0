-- Setup links (DESIGN §6 features/setup-links): a vendor's tenant administrator (or the operator) hands the
-- customer's IT admin one URL that lets them connect their IdP for SSO and SCIM, and nothing else. The link's
-- token is stored only as its SHA-256 (DESIGN §4: tokens we issue are stored as hashes and shown once).
-- Tenant-owned, row-level security like every tenant table.
CREATE TABLE setup_links (
  tenant_id             uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  id                    uuid NOT NULL,
  token_hash            bytea NOT NULL,
  -- What the link may do: domains | sso (domains + SSO) | scim | all (README "Setup links").
  intent                text NOT NULL CHECK (intent IN ('domains', 'sso', 'scim', 'all')),
  note                  text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
  -- The tenant administrator who created it (null: the operator, from the CLI). The link acts within what this
  -- user holds now: it stops working when they are no longer a tenant administrator, and the grant rule applies.
  created_by            uuid,
  created_at            timestamptz NOT NULL,
  expires_at            timestamptz NOT NULL,
  revoked_at            timestamptz,
  revoked_by            uuid,
  completed_at          timestamptz,
  -- "One person at a time": the SHA-256 of the claim cookie of the browser using it, until idle (see the service).
  claim_hash            bytea,
  claimed_at            timestamptz,
  last_activity_at      timestamptz,
  last_ip               text,
  -- The SSO connection the link sets up: its id is reserved at creation, so our SP values (entity ID, ACS URL)
  -- can be shown before the connection exists; created once.
  connection_id         uuid NOT NULL,
  connection_created_at timestamptz,
  -- The last "Test connection" the link started (completion needs it succeeded).
  test_id               uuid,
  -- The SCIM directory the link created, and when its one token was issued (shown once).
  directory_id          uuid,
  scim_token_issued_at  timestamptz,
  -- The domains the link added (it may verify only those).
  domain_ids            uuid[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, id),
  CHECK (expires_at > created_at)
);
CREATE UNIQUE INDEX setup_links_token_hash_key ON setup_links (token_hash);
CREATE INDEX setup_links_tenant_created_idx ON setup_links (tenant_id, created_at DESC);

ALTER TABLE setup_links ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON setup_links USING (tenant_id = tessera_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON setup_links TO tessera_app;

-- A setup link's requests carry only its token, before any tenant is known: only the tenant id leaves the
-- function, never another tenant's rows.
CREATE FUNCTION tessera_setup_link_tenant(p_hash bytea) RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT tenant_id FROM setup_links WHERE token_hash = p_hash $$;

REVOKE ALL ON FUNCTION tessera_setup_link_tenant(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tessera_setup_link_tenant(bytea) TO tessera_app;
